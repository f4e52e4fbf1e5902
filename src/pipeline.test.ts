import { describe, expect, it } from 'vitest';
import { parseConfig } from './config/load.js';
import type { AlertView } from './contract/frames.js';
import type { CustomerActivityRecord, ExperienceSnapshot, PipelineOutputs, RejectedRecord, SignalSnapshot } from './contract/outputs.js';
import { MemoryAlertStore } from './alerts/alertStore.js';
import { ManualClock } from './shared/clock.js';
import { Pipeline } from './pipeline.js';
import { purchaseModelSet } from './signals/purchaseModel.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const enc = new TextEncoder();

class MemoryOutputs implements PipelineOutputs {
  events: string[] = [];
  activity: CustomerActivityRecord[] = [];
  signalsOut: SignalSnapshot[] = [];
  alerts: AlertView[] = [];
  rejectedOut: RejectedRecord[] = [];
  experienceOut: ExperienceSnapshot[] = [];
  event(ev: { id: string }) {
    this.events.push(ev.id);
  }
  customerActivity(r: CustomerActivityRecord) {
    this.activity.push(r);
  }
  entityActivity() {}
  signals(s: SignalSnapshot) {
    this.signalsOut.push(s);
  }
  alert(a: AlertView) {
    this.alerts.push(a);
  }
  rejected(r: RejectedRecord) {
    this.rejectedOut.push(r);
  }
  experience(r: ExperienceSnapshot) {
    this.experienceOut.push(r);
  }
}

const model = purchaseModelSet({ name: 'test', pAlive: () => 1, expectedPurchases: () => 0, customerValue: () => 100 });

function setup(config: Record<string, unknown> = {}) {
  const clock = new ManualClock(NOW);
  const outputs = new MemoryOutputs();
  const p = new Pipeline({ config: parseConfig(config), clock, outputs, model, trend: () => null, alertStore: new MemoryAlertStore() });
  let seq = 0;
  /** One message handled, not derived: what the per-event path alone does. */
  const handle = (body: unknown, subject?: string) => {
    const o = body as { type?: string };
    return p.handle({ subject: subject ?? `events.${o.type ?? 'x'}`, data: enc.encode(typeof body === 'string' ? body : JSON.stringify(body)), streamSeq: ++seq, receivedAt: clock.now() });
  };
  const send = (body: unknown, subject?: string) => {
    const outcome = handle(body, subject);
    // Each event derived on its own, as if a derive tick came between any two events.
    p.derive();
    return outcome;
  };
  /** Continues numbering from a stream sequence, as a restored processor reads on from its checkpoint. */
  const continueAt = (next: number) => {
    seq = next - 1;
  };
  return { p, clock, outputs, send, handle, continueAt };
}

const e = (id: string, type: string, over: Record<string, unknown> = {}) => ({ id, customerId: 'c1', type, ts: NOW - 1000, ...over });

// The steps are specified one by one (admission/admit.test.ts, windows/apply.test.ts, signals/score.test.ts,
// wall/liveView.test.ts, privacy/pipelinePrivacy.test.ts); these are the composition's: one message through them all.
describe('Pipeline', () => {
  it('counts a redelivered event once in the activity rows', () => {
    const { p, outputs, send } = setup();
    expect(send(e('a', 'page_view'))).toBe('processed');
    expect(send(e('a', 'page_view'))).toBe('duplicate');
    expect(send(e('b', 'page_view'))).toBe('processed');
    p.drainActivity();
    expect(outputs.activity.map((r) => [r.customerId, r.eventType, r.events])).toEqual([['c1', 'page_view', 2]]);
    expect(outputs.events).toEqual(['a', 'b']);
  });

  it('dead-letters invalid input with its reason and goes on with the next event', () => {
    const { outputs, send } = setup();
    expect(send('not json', 'events.page_view')).toBe('rejected');
    expect(send(e('c', 'click'), 'events.page_view')).toBe('rejected');
    expect(send(e('d', 'click'))).toBe('processed');
    expect(outputs.rejectedOut.map((r) => [r.reason, r.streamSeq])).toEqual([
      ['INVALID_JSON', 1],
      ['SUBJECT_MISMATCH', 2],
    ]);
  });

  it('fires a fatigue alert carrying the event that triggered it', () => {
    const { send, outputs } = setup();
    for (let i = 0; i < 4; i++) send(e(`m${i}`, 'email_sent', { campaignId: 'spring', ts: NOW - 10_000 + i }));
    const fired = outputs.alerts.filter((a) => a.state === 'firing' && a.rule === 'customer_contact_fatigue');
    expect(fired).toHaveLength(1);
    // 2 emails: 2 / cap 2 = 1, below 1.5. The third: 3 touches with no response halve the cap to 1, so 3 / 1 = 3 fires.
    expect(fired[0].trigger).toEqual({ eventId: 'm2', eventTs: NOW - 10_000 + 2, receivedAt: NOW });
    expect(fired[0].subject).toEqual({ kind: 'customer', key: 'c1' });
  });

  it('sends stats, at-risk, overload and experience frames on tick', () => {
    const { p, send } = setup();
    const frames: string[] = [];
    p.subscribe((f) => frames.push(f.type));
    send(e('a', 'page_view'));
    p.tick();
    expect(frames).toEqual(['stats', 'at_risk', 'overload', 'experience']);
    expect(p.snapshot().stats.eventsTotal).toBe(1);
  });
});

describe('Pipeline checkpoint', () => {
  it('restores into a state that continues exactly as the uninterrupted one', () => {
    const a = setup();
    const b = setup();
    const mk = (i: number) => ({
      id: `k${i}`,
      customerId: `c${i % 13}`,
      type: ['page_view', 'purchase', 'email_sent', 'complaint', 'email_open'][i % 5],
      ts: NOW - 200_000 + i * 100,
      value: i % 5 === 1 ? i : undefined,
      campaignId: i % 3 === 0 ? 'camp' : undefined,
      segment: 'vip',
      channel: 'email',
    });
    for (let i = 0; i < 600; i++) a.send(mk(i));
    const blob = a.p.checkpoint(600);
    expect(b.p.restore(blob)).toBe(600);
    b.continueAt(601);
    // both go on with the same events, including repeats of ids from before the checkpoint
    a.outputs.activity.length = 0;
    a.outputs.signalsOut.length = 0;
    const rest = [...Array(400).keys()].map((i) => mk(600 + i)).concat([mk(5), mk(599)]);
    const outcomesA = rest.map((e) => a.send(e));
    const outcomesB = rest.map((e) => b.send(e));
    expect(outcomesB).toEqual(outcomesA);
    expect(outcomesA.slice(-2)).toEqual(['duplicate', 'duplicate']);
    a.p.drainActivity();
    b.p.drainActivity();
    // the same rows to the letter, writer included: a bucket is opened under the sequence of its first event
    const key = (r: CustomerActivityRecord) => `${r.customerId}|${r.eventType}|${r.minuteMs}|${r.events}|${r.revenue}|${r.writer}|${r.version}`;
    expect(b.outputs.activity.map(key).sort()).toEqual(a.outputs.activity.map(key).sort());
    expect(b.outputs.signalsOut).toEqual(a.outputs.signalsOut);
    expect(b.p.snapshot().atRisk).toEqual(a.p.snapshot().atRisk);
    expect(b.p.entities.all(Math.floor(NOW / 60_000))).toEqual(a.p.entities.all(Math.floor(NOW / 60_000)));
    expect(b.p.counts).toEqual(a.p.counts);
  });

  it('counts every active alert on the current stats, customer alerts by rule and campaign', () => {
    const { p, clock, send } = setup();
    for (const [customer, campaign] of [['a', 'spring'], ['b', 'spring'], ['c', 'autumn']]) {
      for (let i = 0; i < 4; i++) send(e(`${customer}${i}`, 'email_sent', { customerId: customer, campaignId: campaign, ts: NOW - 10_000 + i }));
    }
    const firing = p.alerts.views().filter((a) => a.state === 'firing');
    expect(firing).toHaveLength(3);
    p.acknowledge(firing[0].id, 'sam');
    clock.advance(1_000);
    p.tick();
    expect(p.snapshot().stats.alerts).toEqual({
      firing: 3,
      pending: 0,
      acknowledged: 1,
      silenced: 0,
      unattended: 2,
      customerGroups: [
        { rule: 'customer_contact_fatigue', campaign: 'spring', firing: 2, pending: 0, acknowledged: expect.any(Number), silenced: 0 },
        { rule: 'customer_contact_fatigue', campaign: 'autumn', firing: 1, pending: 0, acknowledged: expect.any(Number), silenced: 0 },
      ],
    });
    // The history stays lean: totals ride on the current stats only.
    expect(p.snapshot().statsHistory.every((s) => s.alerts === undefined)).toBe(true);
  });
});

describe('Pipeline derive', () => {
  const fatigue = (o: MemoryOutputs) => o.alerts.filter((a) => a.state === 'firing' && a.rule === 'customer_contact_fatigue');

  it('per event only counts and marks: the alert, the snapshot row and the at-risk entry come at the derive, once per customer', () => {
    const { p, outputs, handle } = setup();
    for (let i = 0; i < 4; i++) handle(e(`m${i}`, 'email_sent', { campaignId: 'spring', ts: NOW - 10_000 + i }));
    handle(e('x', 'cancel_subscription', { customerId: 'c2' }));
    expect(outputs.events).toHaveLength(5);
    expect(fatigue(outputs)).toHaveLength(0);
    expect(outputs.signalsOut).toHaveLength(0);
    expect(p.snapshot().atRisk).toEqual([]);
    // Two customers touched, each scored once, as of its latest event.
    expect(p.derive()).toBe(2);
    expect(fatigue(outputs)).toHaveLength(1);
    expect(fatigue(outputs)[0].trigger).toMatchObject({ eventId: 'm3', eventTs: NOW - 10_000 + 3 });
    expect(outputs.signalsOut.map((s) => [s.customerId, s.ts, s.touches24h])).toEqual([['c1', NOW - 10_000 + 3, 4], ['c2', NOW - 1000, 0]]);
    expect(p.snapshot().atRisk.map((a) => a.customerId)).toEqual(['c2']);
    // Nothing touched since: nothing to derive.
    expect(p.derive()).toBe(0);
    expect(outputs.signalsOut).toHaveLength(2);
  });

  it('derives in slices: with a budget it stops when that runs out and the rest waits, in order, for the next call', () => {
    const { p, outputs, handle } = setup();
    for (const c of ['c1', 'c2', 'c3']) handle(e(`x-${c}`, 'cancel_subscription', { customerId: c }));
    expect(p.deriveBacklog).toBeGreaterThan(0);
    let budget = 1;
    expect(p.derive(undefined, () => budget-- > 0)).toBe(2);
    expect(outputs.signalsOut.map((s) => s.customerId)).toEqual(['c1', 'c2']);
    expect(p.deriveBacklog).toBeGreaterThan(0);
    // c1 touched again meanwhile: it waits behind c3, derived once more as of its latest event.
    handle(e('y-c1', 'email_sent', { customerId: 'c1' }));
    expect(p.derive(undefined, () => true)).toBe(2);
    expect(outputs.signalsOut.map((s) => s.customerId).slice(2)).toEqual(['c3']);
    expect(p.deriveBacklog).toBe(0);
    expect(p.derive()).toBe(0);
  });

  it('tells when what was marked until a moment is derived, and ticks without a derive when the caller did it', () => {
    const { p, outputs, handle } = setup();
    for (const c of ['c1', 'c2']) handle(e(`x-${c}`, 'cancel_subscription', { customerId: c }));
    const marked = p.markedUntilNow();
    handle(e('x-c3', 'cancel_subscription', { customerId: 'c3' }));
    expect(marked()).toBe(false);
    // A tick whose caller derived what was marked when it fell due leaves c3 to the derive tick.
    p.tick(undefined, false);
    expect(outputs.signalsOut).toHaveLength(0);
    let budget = 1;
    p.derive(undefined, () => budget-- > 0);
    expect(outputs.signalsOut.map((s) => s.customerId)).toEqual(['c1', 'c2']);
    expect(marked()).toBe(true);
    expect(p.deriveBacklog).toBeGreaterThan(0);
    p.tick();
    expect(outputs.signalsOut.map((s) => s.customerId)).toEqual(['c1', 'c2', 'c3']);
    expect(p.deriveBacklog).toBe(0);
  });

  it('does not derive a customer erased or evicted after its event was handled', () => {
    const { p, outputs, handle } = setup({ windows: { maxCustomers: 1 } });
    handle(e('a', 'cancel_subscription', { customerId: 'gone' }));
    handle(e('b', 'erase_request', { customerId: 'gone' }));
    handle(e('c', 'cancel_subscription', { customerId: 'evicted' }));
    // The bound of one customer: the next customer's event evicts this one, whose slot it takes.
    handle(e('d', 'cancel_subscription', { customerId: 'kept' }));
    expect(p.windows.size).toBe(1);
    expect(p.derive()).toBe(1);
    expect(outputs.signalsOut.map((s) => s.customerId)).toEqual(['kept']);
    expect(p.snapshot().atRisk.map((a) => a.customerId)).toEqual(['kept']);
  });

  it('writes a snapshot row only when a score moved past the step, and owes one inside the interval until the checkpoint', () => {
    const { p, outputs, send } = setup();
    // A page view moves engagement by 2.5 points: under the step of 5, no row.
    send(e('v1', 'page_view', { ts: NOW - 50_000 }));
    expect(outputs.signalsOut).toHaveLength(0);
    // A complaint moves churn risk by 0.4: a row.
    send(e('c1', 'complaint', { ts: NOW - 40_000 }));
    expect(outputs.signalsOut.map((s) => s.churnRisk)).toEqual([expect.closeTo(0.4, 6)]);
    // A second complaint in the same minute moves it again, but inside the interval: owed, not written yet.
    send(e('c2', 'complaint', { ts: NOW - 30_000 }));
    expect(outputs.signalsOut).toHaveLength(1);
    p.checkpoint(3);
    expect(outputs.signalsOut.map((s) => [s.ts, s.churnRisk])).toEqual([[NOW - 40_000, expect.closeTo(0.4, 6)], [NOW - 30_000, expect.closeTo(0.64, 6)]]);
    // Paid: the next checkpoint owes nothing.
    p.checkpoint(3);
    expect(outputs.signalsOut).toHaveLength(2);
  });

  it('pays owed rows ahead of the checkpoint a piece at a time, resuming where it stopped; the checkpoint pays the rest', () => {
    const { p, outputs, send } = setup();
    // Five customers, each a row for a first complaint and one owed for a second inside the interval.
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5'];
    for (const id of ids) send(e(`${id}-a`, 'complaint', { customerId: id, ts: NOW - 40_000 }));
    for (const id of ids) send(e(`${id}-b`, 'complaint', { customerId: id, ts: NOW - 30_000 }));
    const owed = () => outputs.signalsOut.filter((s) => s.ts === NOW - 30_000).map((s) => s.customerId);
    expect(outputs.signalsOut).toHaveLength(5);
    // Two rows per piece: the scan stops after the second and says where to go on.
    let asked = 0;
    const from = p.payOwedSnapshotsFrom(0, () => ++asked % 2 !== 0);
    expect(from).toBeGreaterThan(0);
    expect(owed()).toEqual(['c1', 'c2']);
    // A sixth customer comes to owe a row meanwhile, behind the scan's position or not: the checkpoint pays it.
    send(e('c6-a', 'complaint', { customerId: 'c6', ts: NOW - 40_000 }));
    send(e('c6-b', 'complaint', { customerId: 'c6', ts: NOW - 30_000 }));
    expect(p.payOwedSnapshotsFrom(from, () => ++asked % 2 !== 0)).toBeGreaterThan(from);
    expect(owed()).toEqual(['c1', 'c2', 'c3', 'c4']);
    p.checkpoint(12);
    // Each owed row once, with its score as of the second complaint.
    expect(owed().sort()).toEqual([...ids, 'c6']);
    expect(outputs.signalsOut.filter((s) => s.ts === NOW - 30_000).every((s) => s.churnRisk > 0.6)).toBe(true);
    // Nothing is left to pay, and a scan to the end says so.
    expect(p.payOwedSnapshotsFrom(0, () => true)).toBe(-1);
    expect(outputs.signalsOut).toHaveLength(12);
    // While replaying the replay's end pays them (with experience rows): the scan leaves them.
    send(e('c1-c', 'complaint', { customerId: 'c1', ts: NOW - 20_000 }));
    p.replaying = true;
    expect(p.payOwedSnapshotsFrom(0, () => true)).toBe(-1);
    expect(outputs.signalsOut).toHaveLength(12);
  });

  it('derives at the checkpoint, so the checkpoint and the rows cover the same derived state', () => {
    const a = setup();
    for (let i = 0; i < 40; i++) a.handle(e(`k${i}`, i % 4 === 0 ? 'complaint' : 'email_sent', { customerId: `c${i % 7}`, ts: NOW - 60_000 + i * 1000 }));
    const blob = a.p.checkpoint(40);
    // Every customer touched was derived before the state was captured: nothing is left to derive, no row is owed.
    expect(a.p.derive()).toBe(0);
    expect(new Set(a.outputs.signalsOut.map((s) => s.customerId)).size).toBe(7);
    const b = setup();
    b.p.restore(blob);
    b.continueAt(41);
    // The restored state holds the marks of those rows: the same events after it write the same rows in both.
    a.outputs.signalsOut.length = 0;
    for (let i = 40; i < 80; i++) {
      const ev = e(`k${i}`, i % 4 === 0 ? 'complaint' : 'email_sent', { customerId: `c${i % 7}`, ts: NOW - 60_000 + i * 1000 });
      a.send(ev);
      b.send(ev);
    }
    a.p.checkpoint(80);
    b.p.checkpoint(80);
    expect(b.outputs.signalsOut).toEqual(a.outputs.signalsOut);
    expect(b.p.snapshot().atRisk).toEqual(a.p.snapshot().atRisk);
  });

  it('evaluates nothing while replaying, also for events derived after the replay ends', () => {
    const { p, outputs, handle } = setup();
    p.replaying = true;
    for (let i = 0; i < 4; i++) handle(e(`m${i}`, 'email_sent', { campaignId: 'spring', ts: NOW - 10_000 + i }));
    p.derive();
    p.replaying = false;
    p.derive();
    expect(fatigue(outputs)).toHaveLength(0);
    // The signals are derived as usual: the row and the at-risk list are rebuilt.
    expect(outputs.signalsOut).toHaveLength(1);
  });

  it("ends a replay with a row for every customer it touched, so a killed process's later rows are never the latest", () => {
    // A process writes a row as each touch moves fatigue (no interval between rows); it is killed after its
    // checkpoint, having seen the touches only.
    const a = setup({ signals: { snapshotIntervalMs: 0 } });
    const blob = a.p.checkpoint(0);
    const touches = Array.from({ length: 12 }, (_, i) => e(`m${i}`, 'email_sent', { ts: NOW - 9 * 86_400_000 + i * 60_000 }));
    for (const ev of touches) a.send(ev);
    const killed = a.outputs.signalsOut.filter((s) => s.customerId === 'c1');
    expect(Math.max(...killed.map((s) => s.fatigue))).toBeGreaterThan(1);
    // The restarted process replays them and a page view published meanwhile, 9 days on: the touches have left the
    // 7-day window, and its own state never moved past the step from the checkpoint's.
    const later = e('v', 'page_view', { ts: NOW - 1000 });
    const b = setup({ signals: { snapshotIntervalMs: 0 } });
    b.p.restore(blob);
    b.continueAt(1);
    b.p.replaying = true;
    for (const ev of [...touches, later]) b.handle(ev);
    b.p.endReplay();
    expect(b.p.replaying).toBe(false);
    const rows = b.outputs.signalsOut.filter((s) => s.customerId === 'c1');
    // Its row is as of the latest event, after every row the killed process wrote, with the final scores.
    expect(rows.map((r) => r.ts)).toEqual([later.ts]);
    expect(rows[0].ts).toBeGreaterThan(Math.max(...killed.map((s) => s.ts)));
    const slot = b.p.windows.find('c1');
    expect(rows[0].fatigue).toBe(b.p.customerSignals(slot, b.p.windows.headMin(slot)).fatigue.score);
    expect(rows[0].fatigue).toBe(0);
    // Its experience row too, as of the same event.
    expect(b.outputs.experienceOut.filter((r) => r.key === 'c1').map((r) => r.ts)).toEqual([later.ts]);
    // Once: the next checkpoint owes nothing more.
    b.p.checkpoint(14);
    expect(b.outputs.signalsOut.filter((s) => s.customerId === 'c1')).toHaveLength(1);
    expect(b.outputs.experienceOut.filter((r) => r.key === 'c1')).toHaveLength(1);
  });
});

describe('Pipeline on a model set keyed by segment', () => {
  // The pooled fit and a vip fit of one version: P(alive) tells which one scored.
  const pooled = { name: 'v1', pAlive: () => 0.5, expectedPurchases: () => 0, customerValue: () => 100 };
  const vip = { name: 'v1@vip', pAlive: () => 0.9, expectedPurchases: () => 0, customerValue: () => 100 };
  const modelSet = purchaseModelSet(pooled, new Map([['vip', vip]]));

  function segmented() {
    const clock = new ManualClock(NOW);
    const outputs = new MemoryOutputs();
    const p = new Pipeline({ config: parseConfig({}), clock, outputs, model: modelSet, trend: () => null, alertStore: new MemoryAlertStore() });
    let seq = 0;
    const send = (customerId: string, over: Record<string, unknown>) =>
      p.handle({ subject: 'events.purchase', data: enc.encode(JSON.stringify({ id: `e${++seq}`, customerId, type: 'purchase', ts: NOW - 60_000 + seq, value: 10, ...over })), streamSeq: seq, receivedAt: clock.now() });
    const pAlive = (id: string) => p.customerSignals(p.windows.find(id), Math.floor(NOW / 60_000)).churn.pAlive;
    return { p, outputs, send, pAlive };
  }

  it("scores a customer with its segment's model, and without a segment or a fit for it with the pooled one", () => {
    const { p, outputs, send, pAlive } = segmented();
    send('in-vip', { segment: 'vip' });
    send('no-segment', {});
    send('unfitted', { segment: 'basic' });
    p.derive();
    expect([pAlive('in-vip'), pAlive('no-segment'), pAlive('unfitted')]).toEqual([0.9, 0.5, 0.5]);
    // the snapshot row names the model that scored it
    expect(outputs.signalsOut.map((s) => [s.customerId, s.model])).toEqual([['in-vip', 'v1@vip'], ['no-segment', 'v1'], ['unfitted', 'v1']]);
  });

  it('follows the segment the latest event names; an event without one keeps it', () => {
    const { send, pAlive } = segmented();
    send('mover', { segment: 'basic' });
    expect(pAlive('mover')).toBe(0.5);
    send('mover', { segment: 'vip' });
    expect(pAlive('mover')).toBe(0.9);
    send('mover', {});
    expect(pAlive('mover')).toBe(0.9);
  });

  it("keeps each customer's segment and the scoring version across a checkpoint", () => {
    const a = segmented();
    a.send('in-vip', { segment: 'vip' });
    a.send('no-segment', {});
    const b = segmented();
    expect(b.p.checkpointModel).toBeNull();
    b.p.setModel(purchaseModelSet({ ...pooled, name: 'v2' }, new Map([['vip', { ...vip, name: 'v2@vip' }]])));
    b.p.restore(a.p.checkpoint(2));
    expect(b.p.checkpointModel).toBe('v1');
    expect([b.pAlive('in-vip'), b.pAlive('no-segment')]).toEqual([0.9, 0.5]);
  });
});
