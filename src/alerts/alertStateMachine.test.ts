import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { AlertRule } from '../config/schema.js';
import { breaches, clears, transition, type AlertRecord } from './alertStateMachine.js';

const rule = (over: Partial<AlertRule> = {}): AlertRule =>
  parseConfig({ alerts: { rules: [{ name: 'r', signal: 'churn_risk', subject: 'customer', op: '>=', threshold: 0.8, resolveThreshold: 0.7, ...over }] } }).alerts.rules[0];
const subject = { kind: 'customer' as const, key: 'c1' };
const s = (value: number) => ({ value, reasons: [`v=${value}`], trigger: null });

function run(r: AlertRule, steps: [number, number | null][]): (AlertRecord['state'] | 'inactive')[] {
  let rec: AlertRecord | null = null;
  return steps.map(([t, v]) => {
    rec = transition(r, rec, v === null ? null : s(v), t, 'fp', subject).next;
    return rec?.state ?? 'inactive';
  });
}

describe('alert state machine', () => {
  it('fires at once without a for-duration', () => {
    expect(run(rule(), [[0, 0.5], [1, 0.85]])).toEqual(['inactive', 'firing']);
  });

  it('waits in pending for the for-duration, then fires', () => {
    expect(run(rule({ forMs: 1000 }), [[0, 0.9], [500, 0.9], [1000, 0.9]])).toEqual(['pending', 'pending', 'firing']);
  });

  it('drops a pending alert whose condition stops holding before it fires', () => {
    expect(run(rule({ forMs: 1000 }), [[0, 0.9], [500, 0.75]])).toEqual(['pending', 'resolved']);
  });

  it('keeps firing inside the hysteresis band and resolves only below the resolve threshold', () => {
    expect(run(rule(), [[0, 0.9], [1, 0.75], [2, 0.79], [3, 0.69]])).toEqual(['firing', 'firing', 'firing', 'resolved']);
  });

  it('starts a new alert with a new id after a resolve', () => {
    let rec = transition(rule(), null, s(0.9), 0, 'fp', subject).next;
    const first = rec!.id;
    rec = transition(rule(), rec, s(0.1), 10, 'fp', subject).next;
    rec = transition(rule(), rec, s(0.9), 20, 'fp', subject).next;
    expect(rec!.state).toBe('firing');
    expect(rec!.id).not.toBe(first);
  });

  it('reports a change only when the state moves', () => {
    const r = rule();
    const a = transition(r, null, s(0.9), 0, 'fp', subject);
    const b = transition(r, a.next, s(0.95), 1, 'fp', subject);
    expect([a.changed, b.changed]).toEqual([true, false]);
    expect(b.next!.value).toBe(0.95);
  });

  it('treats a missing sample as cleared', () => {
    expect(run(rule(), [[0, 0.9], [1, null]])).toEqual(['firing', 'resolved']);
  });

  it('mirrors the comparisons for low-side rules', () => {
    const low = rule({ op: '<', threshold: 10, resolveThreshold: 20 });
    expect([breaches(low, 9), breaches(low, 10)]).toEqual([true, false]);
    expect([clears(low, 15), clears(low, 21)]).toEqual([false, true]);
  });
});
