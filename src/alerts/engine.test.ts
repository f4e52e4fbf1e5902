import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { AlertView } from '../contract/frames.js';
import { MemoryAlertStore } from './alertStore.js';
import { AlertEngine, byGroupName, fingerprintOf } from './engine.js';

const rules = parseConfig({
  alerts: {
    rules: [
      { name: 'risk', signal: 'churn_risk', subject: 'customer', op: '>=', threshold: 0.8, resolveThreshold: 0.7, severity: 'critical' },
      { name: 'surge', signal: 'surge_z', subject: 'campaign', threshold: 4, forMs: 60_000 },
    ],
  },
}).alerts.rules;

function engine() {
  const changes: AlertView[] = [];
  const e = new AlertEngine(rules, new MemoryAlertStore(), (v) => changes.push(v));
  return { e, changes };
}
const sample = (value: number) => ({ value, reasons: ['why'], trigger: { eventId: 'e1', eventTs: 1, receivedAt: 2 } });
const c1 = { kind: 'customer' as const, key: 'c1' };

describe('AlertEngine', () => {
  it('reports firing once, with the rule, the subject and the triggering event', () => {
    const { e, changes } = engine();
    e.observe(rules[0], c1, sample(0.9), 1000);
    e.observe(rules[0], c1, sample(0.95), 2000);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ rule: 'risk', severity: 'critical', state: 'firing', subject: c1, value: 0.9, threshold: 0.8, trigger: { eventId: 'e1' } });
    expect(changes[0].fingerprint).toBe(fingerprintOf('risk', c1));
  });

  it('promotes a pending alert on tick once its for-duration has passed', () => {
    const { e, changes } = engine();
    const camp = { kind: 'campaign' as const, key: 'spring' };
    e.observe(rules[1], camp, sample(6), 0);
    e.tick(30_000, () => sample(6));
    e.tick(60_000, () => sample(6));
    expect(changes.map((c) => c.state)).toEqual(['pending', 'firing']);
  });

  it('resolves on tick when the sampler no longer sees the condition', () => {
    const { e, changes } = engine();
    e.observe(rules[0], c1, sample(0.9), 0);
    e.tick(1000, () => sample(0.5));
    expect(changes.map((c) => c.state)).toEqual(['firing', 'resolved']);
    expect(e.activeCount).toBe(0);
    expect(e.views()[0].state).toBe('resolved');
  });

  it('leaves an alert alone while its subject is unknown, and resolves it once unknown for too long', () => {
    const changes: AlertView[] = [];
    const e = new AlertEngine(rules, new MemoryAlertStore(), (v) => changes.push(v), 10_000);
    e.observe(rules[0], c1, sample(0.9), 0);
    e.tick(5_000, () => 'unknown');
    expect(e.activeCount).toBe(1);
    e.tick(10_001, () => 'unknown');
    expect(changes.map((c) => c.state)).toEqual(['firing', 'resolved']);
  });

  it('acknowledges an active alert by id and reports it', () => {
    const { e, changes } = engine();
    e.observe(rules[0], c1, sample(0.9), 0);
    expect(e.acknowledge(changes[0].id, 'ana', 5)).toBe(true);
    expect(changes[1].acknowledged).toEqual({ by: 'ana', at: 5 });
    expect(e.acknowledge('nope', 'ana', 5)).toBe(false);
  });

  it('resolves the alerts of a rule removed by a reload', () => {
    const { e, changes } = engine();
    e.observe(rules[0], c1, sample(0.9), 0);
    e.setRules([rules[1]]);
    e.tick(10, () => sample(0.9));
    expect(changes.at(-1)!.state).toBe('resolved');
  });

  it('puts campaign alerts before customer alerts in a snapshot, however many newer customer alerts there are', () => {
    const { e } = engine();
    const camp = { kind: 'campaign' as const, key: 'spring' };
    e.observe(rules[1], camp, sample(6), 0);
    e.tick(60_000, () => sample(6));
    for (let i = 0; i < 5; i++) e.observe(rules[0], { kind: 'customer', key: `c${i}` }, sample(0.9), 70_000 + i);
    const views = e.views(3);
    expect(views.map((v) => v.subject.key)).toEqual(['spring', 'c4', 'c3']);
    expect([...e.activeRecords()].map(({ record, rule }) => [record.subject.key, rule?.name])).toHaveLength(6);
  });

  it('re-samples customer alerts in rounds per tick, and every campaign alert every tick', () => {
    const { e } = engine();
    for (let i = 0; i < 10; i++) e.observe(rules[0], { kind: 'customer', key: `c${i}` }, sample(0.9), 0);
    e.observe(rules[1], { kind: 'campaign', key: 'spring' }, sample(6), 0);
    const seen: string[][] = [];
    for (let t = 1; t <= 3; t++) {
      const round: string[] = [];
      e.tick(t, (_rule, subject) => (round.push(subject.key), sample(subject.kind === 'customer' ? 0.9 : 6)), 4);
      seen.push(round);
    }
    expect(seen.map((r) => r.filter((k) => k === 'spring').length)).toEqual([1, 1, 1]);
    expect(seen.map((r) => r.filter((k) => k !== 'spring').length)).toEqual([4, 4, 4]);
    // three rounds of four cover all ten customers
    expect(new Set(seen.flat().filter((k) => k !== 'spring')).size).toBe(10);
  });

  it('under sliceRounds leaves its round of customer alerts to slices, at the time of each, the others sampled at the tick', () => {
    const { e, changes } = engine();
    for (let i = 0; i < 10; i++) e.observe(rules[0], { kind: 'customer', key: `c${i}` }, sample(0.9), 0);
    e.observe(rules[1], { kind: 'campaign', key: 'spring' }, sample(6), 0);
    e.sliceRounds = true;
    const sampled: string[] = [];
    // Every customer's risk fell: each one sampled resolves.
    const fallen = (_rule: unknown, subject: { key: string }) => (sampled.push(subject.key), sample(subject.key === 'spring' ? 6 : 0.1));
    e.tick(100, fallen, 6);
    expect(sampled).toEqual(['spring']);
    // Slices of two: three of them take the round of six, each at its own time; the fourth finds nothing left.
    const before = changes.length;
    let asked = 0;
    expect(e.continueRound(200, () => ++asked % 2 !== 0)).toBe(false);
    expect(e.continueRound(300, () => ++asked % 2 !== 0)).toBe(false);
    expect(e.continueRound(400, () => ++asked % 2 !== 0)).toBe(true);
    expect(e.continueRound(500, () => true)).toBe(true);
    expect(sampled.slice(1)).toHaveLength(6);
    expect(changes.slice(before).map((v) => [v.state, v.endsAt])).toEqual([200, 200, 300, 300, 400, 400].map((t) => ['resolved', t]));
    // The next tick's round starts where this one ended, and a round left unfinished gives way to the next tick's.
    e.tick(600, fallen, 3);
    expect(e.continueRound(700, () => false)).toBe(false);
    e.tick(800, fallen, 4);
    expect(e.continueRound(900, () => true)).toBe(true);
    expect(new Set(sampled.filter((k) => k !== 'spring')).size).toBe(10);
    expect([...e.activeRecords()].map(({ record }) => record.subject.key)).toEqual(['spring']);
  });

  it('samples each customer alert at most once in a round larger than their number, as tick() does', () => {
    const { e } = engine();
    for (let i = 0; i < 3; i++) e.observe(rules[0], { kind: 'customer', key: `c${i}` }, sample(0.9), 0);
    e.sliceRounds = true;
    const sampled: string[] = [];
    e.tick(100, (_rule, subject) => (sampled.push(subject.key), sample(0.9)));
    expect(sampled).toEqual([]);
    while (!e.continueRound(200, () => true));
    expect(sampled.sort()).toEqual(['c0', 'c1', 'c2']);
  });

  it('keeps its rounds whole while the alerts of a round resolve and new ones open', () => {
    const { e } = engine();
    for (let i = 0; i < 10; i++) e.observe(rules[0], { kind: 'customer', key: `c${i}` }, sample(0.9), 0);
    const seen = new Set<string>();
    const gone = new Set<string>();
    for (let t = 1; t <= 4; t++) {
      // Every other customer sampled in the first tick falls back and resolves (leaves the store mid-round).
      e.tick(t, (_rule, subject) => {
        seen.add(subject.key);
        const falls = t === 1 && Number(subject.key.slice(1)) % 2 === 0;
        if (falls) gone.add(subject.key);
        return sample(falls ? 0.1 : 0.9);
      }, 4);
      if (t === 2) e.observe(rules[0], { kind: 'customer', key: 'new' }, sample(0.9), t);
    }
    expect(gone.size).toBeGreaterThan(0);
    // Four rounds of four cover the ten, the ones that left and the one that came.
    expect([...seen].sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `c${i}`), 'new'].sort());
    expect([...e.activeRecords()].length).toBe(11 - gone.size);
  });

  it('resolves an alert it restored from the store (not written through this engine) once the value falls', () => {
    const store = new MemoryAlertStore();
    const first = new AlertEngine(rules, store, () => undefined);
    first.observe(rules[0], c1, sample(0.9), 0);
    const changes: AlertView[] = [];
    const second = new AlertEngine(rules, store, (v) => changes.push(v));
    second.observe(rules[0], c1, sample(0.95), 1);
    second.observe(rules[0], c1, sample(0.5), 2);
    expect(changes.map((c) => c.state)).toEqual(['resolved']);
  });

  it('keeps its tallies by state and by rule and campaign equal to a count over every active alert', () => {
    const withLabels = parseConfig({
      alerts: {
        rules: [
          { name: 'risk', signal: 'churn_risk', subject: 'customer', threshold: 0.8, resolveThreshold: 0.7, forMs: 2 },
          { name: 'tired', signal: 'fatigue', subject: 'customer', threshold: 1, labels: { campaign: 'rule-says' } },
          { name: 'surge', signal: 'surge_z', subject: 'campaign', threshold: 4 },
        ],
      },
    }).alerts.rules;
    const walk = (e: AlertEngine) => {
      const t = { firing: 0, pending: 0, acknowledged: 0, groups: new Map<string, { rule: string; campaign: string | null; firing: number; pending: number; acknowledged: number; silenced: number }>() };
      for (const { record: r, rule } of e.activeRecords()) {
        const firing = r.state === 'firing';
        if (firing) t.firing++;
        else t.pending++;
        if (firing && r.acknowledged) t.acknowledged++;
        if (r.subject.kind !== 'customer') continue;
        const campaign = rule?.labels?.campaign ?? r.labels?.campaign ?? null;
        const g = t.groups.get(`${r.rule}|${campaign}`) ?? { rule: r.rule, campaign, firing: 0, pending: 0, acknowledged: 0, silenced: 0 };
        t.groups.set(`${r.rule}|${campaign}`, g);
        if (firing) g.firing++;
        else g.pending++;
        if (firing && r.acknowledged) g.acknowledged++;
      }
      const customerGroups = [...t.groups.values()].sort((a, b) => b.firing + b.pending - (a.firing + a.pending) || byGroupName(a, b));
      return { firing: t.firing, pending: t.pending, acknowledged: t.acknowledged, customerGroups };
    };
    const op = fc.oneof(
      fc.record({ op: fc.constant('observe' as const), rule: fc.integer({ min: 0, max: 2 }), key: fc.constantFrom('a', 'b', 'c', 'd'), value: fc.constantFrom(0.5, 0.9, 2, 6), campaign: fc.constantFrom(undefined, 'spring', 'fall') }),
      fc.record({ op: fc.constant('ack' as const), nth: fc.nat(5) }),
      fc.record({ op: fc.constant('tick' as const), value: fc.constantFrom(0.5, 0.9, 6) }),
      fc.record({ op: fc.constant('reload' as const), keep: fc.integer({ min: 1, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const e = new AlertEngine(withLabels, new MemoryAlertStore(), () => undefined);
        let now = 0;
        for (const o of ops) {
          now++;
          if (o.op === 'observe') {
            const rule = withLabels[o.rule];
            const subject = { kind: rule.subject, key: o.key };
            const trigger = { eventId: 'e', eventTs: now, receivedAt: now };
            e.observe(rule, subject, { value: o.value, reasons: [], trigger, labels: o.campaign ? { campaign: o.campaign } : undefined }, now);
          } else if (o.op === 'ack') {
            const ids = e.views().filter((v) => v.state !== 'resolved').map((v) => v.id);
            if (ids.length > 0) e.acknowledge(ids[o.nth % ids.length], 'ana', now);
          } else if (o.op === 'tick') e.tick(now, () => ({ value: o.value, reasons: [], trigger: null }), 2);
          else e.setRules(withLabels.slice(0, o.keep));
          expect(e.tallies(100)).toEqual(walk(e));
        }
      }),
      { numRuns: 300, seed: 17 },
    );
  });
});

