// The privacy stage of the pipeline, on plain values: consent, erasure of live state and pseudonyms at parse time.
import { describe, expect, it } from 'vitest';
import { MemoryAlertStore } from '../alerts/alertStore.js';
import { parseConfig } from '../config/load.js';
import type { AlertView, SnapshotFrame, WallFrame } from '../contract/frames.js';
import type { CustomerActivityRecord, PipelineOutputs, RejectedRecord, SignalSnapshot } from '../contract/outputs.js';
import type { VigilEvent } from '../contract/event.js';
import { Pipeline } from '../pipeline.js';
import { HOUR_MS as HOUR, ManualClock } from '../shared/clock.js';
import { purchaseModelSet } from '../signals/purchaseModel.js';
import { keyedHash, Pseudonymizer } from './pseudonym.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const KEY = 'k'.repeat(40);
const enc = new TextEncoder();

class Outputs implements PipelineOutputs {
  events: VigilEvent[] = [];
  activity: CustomerActivityRecord[] = [];
  snapshots: SignalSnapshot[] = [];
  alerts: AlertView[] = [];
  rejectedOut: RejectedRecord[] = [];
  event(ev: VigilEvent) {
    this.events.push({ ...ev });
  }
  customerActivity(r: CustomerActivityRecord) {
    this.activity.push(r);
  }
  entityActivity() {}
  signals(s: SignalSnapshot) {
    this.snapshots.push(s);
  }
  alert(a: AlertView) {
    this.alerts.push(a);
  }
  rejected(r: RejectedRecord) {
    this.rejectedOut.push(r);
  }
}

// A model that makes every customer look gone: each event puts the customer at risk and fires the churn rule.
const model = purchaseModelSet({ name: 'test', pAlive: () => 0.05, expectedPurchases: () => 0, customerValue: () => 100 });

function setup(pseudonymizer: Pseudonymizer | null = null) {
  const clock = new ManualClock(NOW);
  const outputs = new Outputs();
  const p = new Pipeline({ config: parseConfig({}), clock, outputs, model, trend: () => null, alertStore: new MemoryAlertStore(), pseudonymizer });
  const frames: WallFrame[] = [];
  p.subscribe((f) => frames.push(f));
  let seq = 0;
  let n = 0;
  const send = (customerId: string, type: string, over: Record<string, unknown> = {}) => {
    const outcome = p.handle({ subject: `events.${type}`, data: enc.encode(JSON.stringify({ id: `e${++n}`, customerId, type, ts: NOW - 60_000 + n, ...over })), streamSeq: ++seq, receivedAt: clock.now() });
    // Each event derived on its own, as if a derive tick came between any two events.
    p.derive();
    return outcome;
  };
  return { p, outputs, frames, send };
}

describe('consent', () => {
  it('after consent_withdrawn stores and scores nothing of the customer until consent_granted, counting each as dropped', () => {
    const { p, outputs, send } = setup();
    send('c1', 'page_view');
    expect(send('c1', 'consent_withdrawn')).toBe('processed');
    const storedBefore = outputs.events.length;
    const snapshotsBefore = outputs.snapshots.length;
    expect(send('c1', 'purchase', { value: 10 })).toBe('dropped_consent');
    expect(send('c1', 'email_sent')).toBe('dropped_consent');
    expect(outputs.events.length).toBe(storedBefore);
    expect(outputs.snapshots.length).toBe(snapshotsBefore);
    expect(p.windows.find('c1')).toBe(-1); // out of live scoring since the withdrawal
    expect(p.counts.dropped_consent).toBe(2);
    expect(p.rejectReasons.get('CONSENT_WITHDRAWN')).toBe(2);
    // Other customers are unaffected.
    expect(send('c2', 'page_view')).toBe('processed');
    expect(send('c1', 'consent_granted')).toBe('processed');
    expect(send('c1', 'click')).toBe('processed');
    expect(outputs.events.map((e) => `${e.customerId}:${e.type}`)).toEqual(['c1:page_view', 'c1:consent_withdrawn', 'c2:page_view', 'c1:consent_granted', 'c1:click']);
    p.drainActivity(NOW + 3_600_000);
    expect(outputs.activity.filter((a) => a.customerId === 'c1').map((a) => a.eventType).sort()).toEqual(['click', 'consent_granted', 'consent_withdrawn', 'page_view']);
  });
});

describe('privacy events bypass lateness and dedup', () => {
  it('carries out an erase_request and a consent_withdrawn stamped far behind the watermark, and beyond ingest.maxPastMs', () => {
    const { p, outputs, send } = setup();
    send('c1', 'page_view');
    send('c2', 'page_view');
    expect(send('c1', 'consent_withdrawn', { ts: NOW - 5 * HOUR })).toBe('processed');
    expect(send('c1', 'click')).toBe('dropped_consent');
    expect(send('c2', 'erase_request', { ts: NOW - 500 * 24 * HOUR })).toBe('processed');
    expect(p.takeErasures().map((r) => r.customerId)).toEqual(['c2']);
    expect(p.windows.find('c2')).toBe(-1);
    expect(outputs.rejectedOut).toEqual([]);
    // A late ordinary event is still late; an ancient one still out of range.
    expect(send('c3', 'click', { ts: NOW - 5 * HOUR })).toBe('late');
    expect(send('c3', 'click', { ts: NOW - 500 * 24 * HOUR })).toBe('rejected');
  });

  it('carries out a repeated request again, harmlessly', () => {
    const { p, outputs, send } = setup();
    const erase = { id: 'req-1', ts: NOW - 1000 };
    expect(send('c1', 'erase_request', erase)).toBe('processed');
    expect(send('c1', 'erase_request', erase)).toBe('processed');
    expect(p.takeErasures().map((r) => [r.customerId, r.requestId])).toEqual([['c1', 'req-1'], ['c1', 'req-1']]);
    const withdraw = { id: 'w-1', ts: NOW - 1000 };
    expect(send('c2', 'consent_withdrawn', withdraw)).toBe('processed');
    expect(send('c2', 'consent_withdrawn', withdraw)).toBe('processed');
    expect(send('c2', 'click')).toBe('dropped_consent');
    // The repeat is on record once more in `events` (one row per id there), not counted again in the activity.
    p.drainActivity(NOW + HOUR);
    expect(outputs.activity.filter((a) => a.customerId === 'c2').map((a) => [a.eventType, a.events])).toEqual([['consent_withdrawn', 1]]);
  });

  it('ignores a late consent_granted older than the withdrawal in force, and takes a newer one', () => {
    const { send } = setup();
    expect(send('c1', 'consent_withdrawn', { ts: NOW - HOUR })).toBe('processed');
    expect(send('c1', 'consent_granted', { ts: NOW - 2 * HOUR })).toBe('processed');
    expect(send('c1', 'click')).toBe('dropped_consent');
    expect(send('c1', 'consent_granted', { ts: NOW - 1000 })).toBe('processed');
    expect(send('c1', 'click')).toBe('processed');
  });
});

describe('erase_request', () => {
  it('removes the customer from windows, at-risk list, alerts and unwritten minute buckets, and hands the request on', () => {
    const { p, outputs, frames, send } = setup();
    send('gone', 'purchase', { value: 20 }); // a purchase history: the model part of the risk (P(alive) 5%) applies
    send('gone', 'complaint');
    send('stays', 'purchase', { value: 5 });
    expect(p.snapshot().atRisk.map((a) => a.customerId)).toContain('gone');
    expect(p.snapshot().alerts.some((a) => a.subject.key === 'gone')).toBe(true);
    const alertsWritten = outputs.alerts.length;
    frames.length = 0;

    expect(send('gone', 'erase_request', { props: { requestedBy: 'privacy-desk' } })).toBe('processed');
    const snapshot = p.snapshot();
    expect(JSON.stringify(snapshot)).not.toContain('"gone"');
    expect(p.windows.find('gone')).toBe(-1);
    expect(outputs.alerts.length).toBe(alertsWritten); // no resolved row that would name the customer again
    expect(outputs.events.some((e) => e.type === 'erase_request')).toBe(false);
    expect((frames.find((f) => f.type === 'snapshot') as SnapshotFrame | undefined)?.atRisk.map((a) => a.customerId)).toEqual(['stays']);
    p.drainActivity(NOW + 3_600_000);
    expect(outputs.activity.map((a) => a.customerId)).toEqual(['stays']);
    expect(p.takeErasures()).toEqual([{ customerId: 'gone', requestId: 'e4', requestedAt: NOW - 60_000 + 4, requestedBy: 'privacy-desk', via: 'event', streamSeq: 4, liveState: true, redisEntries: 1 }]);
    expect(p.takeErasures()).toEqual([]);
  });
});

describe('pseudonymization', () => {
  it('replaces the id before anything stores it, in events, activity, signals, alerts and dead letters', () => {
    const ps = new Pseudonymizer({ key: KEY, remember: true, revealCacheSize: 100 });
    const { p, outputs, send } = setup(ps);
    const h = keyedHash(KEY, 'alice@example.com');
    send('alice@example.com', 'purchase', { value: 20 });
    send('alice@example.com', 'complaint');
    send('alice@example.com', 'click', { ts: NOW - 3_600_000 }); // late: a dead letter
    p.drainActivity(NOW + 3_600_000);
    expect(outputs.events.map((e) => e.customerId)).toEqual([h, h]);
    expect(outputs.activity.every((a) => a.customerId === h)).toBe(true);
    expect(outputs.snapshots.map((s) => s.customerId)).toContain(h);
    expect(outputs.alerts.map((a) => a.subject.key)).toContain(h);
    expect(outputs.rejectedOut.map((r) => r.reason)).toEqual(['LATE_EVENT']);
    const text = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
    const everything = text({ ...outputs, rejected: outputs.rejectedOut.map((r) => new TextDecoder().decode(r.payload)) }) + text(p.snapshot());
    expect(everything).not.toContain('alice');
    expect(everything).toContain(h);
    expect(ps.original(h)).toBe('alice@example.com');
  });

  it('erasure by the original id finds the pseudonym and forgets the remembered original', () => {
    const ps = new Pseudonymizer({ key: KEY, remember: true, revealCacheSize: 100 });
    const { p, send } = setup(ps);
    send('bob', 'page_view');
    send('bob', 'erase_request');
    expect(ps.original(keyedHash(KEY, 'bob'))).toBeUndefined();
    expect(p.takeErasures().map((r) => r.customerId)).toEqual([keyedHash(KEY, 'bob')]);
  });
});
