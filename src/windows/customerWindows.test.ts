import { describe, expect, it } from 'vitest';
import { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { CustomerWindows } from './customerWindows.js';
import { ev, T0 } from './events.testing.js';
import { DAY_MS as DAY, HOUR_MS as HOUR, MINUTE_MS as MIN } from '../shared/clock.js';

const minOf = (ms: number) => Math.floor(ms / MIN);

function store(max = 100) {
  return new CustomerWindows({ maxCustomers: max, idleEvictMin: 8 * 1440, initialCapacity: 4 });
}

describe('CustomerWindows', () => {
  it('counts weighted engagement in each horizon', () => {
    const w = store();
    const s = w.slotFor('c1');
    w.record(s, ev('page_view', T0), 1);
    w.record(s, ev('page_view', T0 + 2 * HOUR), 1);
    w.record(s, ev('purchase', T0 + 2 * HOUR + 3 * MIN, { value: 80 }), 5);
    const v = w.view(s, minOf(T0 + 2 * HOUR + 4 * MIN));
    // the 5-minute window at 2:04 holds the minutes 2:00 to 2:04: the page view at 2:00 and the purchase
    expect(v.engagement).toEqual({ m5: 6, h1: 6, h24: 7, d7: 7 });
    expect(v.purchases).toBe(1);
    expect(v.revenue).toBe(80);
    expect(v.firstPurchaseMin).toBe(minOf(T0 + 2 * HOUR + 3 * MIN));
  });

  it('keeps the first purchase’s value, the earliest by event time even when purchases arrive out of order', () => {
    const w = store();
    const s = w.slotFor('c1');
    w.record(s, ev('purchase', T0 + DAY, { value: 30 }), 5);
    w.record(s, ev('purchase', T0 + 20_000, { value: 12 }), 5); // earlier, in a later-arriving event
    w.record(s, ev('purchase', T0 + 50_000, { value: 99 }), 5); // same minute, later millisecond: not first
    w.record(s, ev('purchase', T0 + 2 * DAY, { value: 40 }), 5);
    const v = w.view(s, minOf(T0 + 3 * DAY));
    expect([v.purchases, v.revenue, v.firstPurchaseValue]).toEqual([4, 181, 12]);
    expect([v.firstPurchaseMin, v.lastPurchaseMin]).toEqual([minOf(T0), minOf(T0 + 2 * DAY)]);
    w.remove('c1');
    expect(w.view(w.slotFor('c1'), minOf(T0 + 3 * DAY)).firstPurchaseValue).toBe(0);
  });

  it('lets engagement slide out of the short windows as time passes without events', () => {
    const w = store();
    const s = w.slotFor('c1');
    w.record(s, ev('session_start', T0), 2);
    expect(w.view(s, minOf(T0 + 10 * MIN)).engagement).toEqual({ m5: 0, h1: 2, h24: 2, d7: 2 });
    expect(w.view(s, minOf(T0 + 3 * DAY)).engagement).toEqual({ m5: 0, h1: 0, h24: 0, d7: 2 });
    expect(w.view(s, minOf(T0 + 8 * DAY)).engagement.d7).toBe(0);
  });

  it('counts touches per channel and negatives, out of order within the window', () => {
    const w = store();
    const s = w.slotFor('c1');
    w.record(s, ev('email_sent', T0 + 5 * HOUR), 0);
    w.record(s, ev('email_sent', T0 + 1 * HOUR), 0);
    w.record(s, ev('push_sent', T0 + 3 * HOUR), 0);
    w.record(s, ev('sms_sent', T0 + 4 * HOUR, { channel: 'sms' }), 0);
    w.record(s, ev('complaint', T0 + 5 * HOUR), 0);
    const v = w.view(s, minOf(T0 + 6 * HOUR));
    expect(v.touches24h).toEqual({ email: 2, push: 1, sms: 1, other: 0 });
    expect(v.negatives24h).toBe(1);
    expect(v.lastNegative).toEqual({ kind: 'complaint', min: minOf(T0 + 5 * HOUR) });
  });

  it('keeps customers apart and evicts the idle ones', () => {
    const w = store();
    const a = w.slotFor('a');
    const b = w.slotFor('b');
    w.record(a, ev('click', T0, { customerId: 'a' }), 1);
    w.record(b, ev('click', T0 + 9 * DAY, { customerId: 'b' }), 1);
    const evicted: string[] = [];
    w.evictIdle(minOf(T0 + 9 * DAY), 10, (id) => evicted.push(id));
    expect(evicted).toEqual(['a']);
    expect(w.find('a')).toBe(-1);
    expect(w.size).toBe(1);
    // a reused slot starts empty
    const c = w.slotFor('c');
    expect(w.view(c, minOf(T0 + 9 * DAY)).engagement.d7).toBe(0);
  });

  it('never holds more than maxCustomers, evicting the least recently active', () => {
    const w = store(3);
    ['a', 'b', 'c'].forEach((id, i) => w.record(w.slotFor(id), ev('click', T0 + (i + 1) * DAY, { customerId: id }), 1));
    const evicted: string[] = [];
    w.slotFor('d', (id) => evicted.push(id));
    expect(w.size).toBe(3);
    expect(evicted).toHaveLength(1);
    expect(w.find('d')).not.toBe(-1);
  });

  it('grows past its initial capacity without losing state', () => {
    const w = store(1000);
    for (let i = 0; i < 100; i++) w.record(w.slotFor(`c${i}`), ev('click', T0, { customerId: `c${i}` }), i);
    expect(w.view(w.find('c42'), minOf(T0)).engagement.h24).toBe(42);
  });

  it('packs a customer in under 231 bytes of typed arrays, its 8-byte id, share of the id table, last snapshot scores and 16 bytes of brand experience included', () => {
    const w = store(100_000);
    expect(w.experience.bytesPerSlot).toBe(16);
    expect(w.bytesPerSlot).toBeLessThan(226);
    for (let i = 0; i < 50_000; i++) w.slotFor(`c${String(i).padStart(7, '0')}`);
    expect(w.bytesPerSlot).toBeLessThan(231);
  });

  it('restores customers at their slots from a checkpoint, free slots reused first, and decodes their ids', () => {
    const w = store();
    const ids = ['a', 'b', 'ç-\u{1F600}', 'd'];
    for (const id of ids) w.record(w.slotFor(id), ev('click', T0, { customerId: id }), 2);
    w.remove('b');
    const writer = new SnapshotWriter();
    w.save(writer);
    const restored = store();
    restored.load(new SnapshotReader(writer.finish()));
    expect(restored.size).toBe(3);
    expect(new Map(restored.entries())).toEqual(new Map(w.entries()));
    expect([...restored.customerIds()]).toEqual(['a', 'ç-\u{1F600}', 'd']);
    const s = restored.find('ç-\u{1F600}');
    expect(restored.idOf(s)).toBe('ç-\u{1F600}');
    expect(restored.view(s, minOf(T0)).customerId).toBe('ç-\u{1F600}');
    expect(restored.view(s, minOf(T0)).engagement.h1).toBe(2);
    // b's slot is free: the next customer takes it, and starts empty
    const e = restored.slotFor('e');
    expect(e).toBe(w.find('a') + 1);
    expect(restored.view(e, minOf(T0)).engagement.h1).toBe(0);
    expect(restored.find('b')).toBe(-1);
  });

  it('hands the evicted id to the callback, decoded from the table', () => {
    const w = store();
    w.record(w.slotFor('old-é'), ev('click', T0, { customerId: 'old-é' }), 1);
    w.record(w.slotFor('new'), ev('click', T0 + 9 * DAY, { customerId: 'new' }), 1);
    const evicted: [string, number][] = [];
    w.evictIdle(minOf(T0 + 9 * DAY), 10, (id, slot) => evicted.push([id, slot]));
    expect(evicted).toEqual([['old-é', 0]]);
    expect([...w.customerIds()]).toEqual(['new']);
  });

  it('restores a first purchase value saved as a Float64 (before it was kept as a Float32)', () => {
    const w = store();
    const s = w.slotFor('c1');
    w.record(s, ev('purchase', T0, { value: 19.99 }), 5);
    const writer = new SnapshotWriter();
    w.save(writer);
    const blob = new SnapshotReader(writer.finish());
    // The same checkpoint with the array as an older processor wrote it (every other array copied byte for byte).
    const old = new SnapshotWriter();
    Object.assign(old.json, blob.json);
    const names = ['head', 'firstPurchase', 'firstPurchaseMs', 'lastPurchase', 'purchases', 'revenue', 'lastResponse', 'lastNegative', 'lastNegativeKind', 'flags', 'snapshotMin', 'zone'];
    for (const name of [...names.map((n) => `customers.${n}`), ...Array.from({ length: 15 }, (_, i) => `customers.v2.ring${i}`)]) {
      const ctor = { 1: Uint8Array, 2: Uint16Array, 4: Int32Array, 8: Float64Array }[blob.elementBytes(name) as 1 | 2 | 4 | 8];
      old.array(name, blob.array(name, ctor as never)!);
    }
    old.array('customers.firstPurchaseValue', Float64Array.of(19.99));
    // and the ids as a JSON array, as checkpoints held them before SnapshotWriter.strings
    (old.json.customers as { ids?: (string | null)[] }).ids = ['c1'];
    const restored = store();
    restored.load(new SnapshotReader(old.finish()));
    expect(restored.view(restored.find('c1'), minOf(T0)).firstPurchaseValue).toBeCloseTo(19.99, 5);
  });

  it('restores a checkpoint of the first layout (Float32 engagement, a byte per touch), converted', () => {
    const w = new SnapshotWriter();
    w.json.customers = { nextSlot: 1, ids: ['c1'], zones: [''] };
    const head = minOf(T0);
    w.array('customers.head', Int32Array.of(head));
    const old = (buckets: number, ctor: Float32ArrayConstructor | Uint8ArrayConstructor | Uint16ArrayConstructor) => new ctor(buckets);
    const rings = [old(5, Float32Array), old(6, Float32Array), old(12, Float32Array), old(14, Float32Array)];
    rings[3][Math.floor(head / 1440) % 14] = 2.5; // 2.5 weighted engagement today
    const touch24h = Array.from({ length: 4 }, () => old(12, Uint8Array));
    touch24h[0][Math.floor(head / 120) % 12] = 3; // 3 emails in this two-hour bucket
    const touch7d = Array.from({ length: 4 }, () => old(7, Uint8Array));
    touch7d[0][Math.floor(head / 1440) % 7] = 3;
    [...rings, ...touch24h, ...touch7d, old(12, Uint8Array), old(7, Uint8Array), old(7, Uint16Array)].forEach((a, i) => w.array(`customers.ring${i}`, a));
    const restored = store();
    restored.load(new SnapshotReader(w.finish()));
    const v = restored.view(restored.find('c1'), head);
    expect(v.engagement.d7).toBe(2.5);
    expect(v.touches24h.email).toBe(3);
    expect(v.touches7d.email).toBe(3);
  });

  it('keeps the last snapshot\'s scores and the latest event time through a checkpoint; one written before them loads with the baseline', () => {
    const w = store();
    const s = w.slotFor('c1');
    w.record(s, ev('page_view', T0 + 1234), 1);
    w.record(s, ev('page_view', T0 + 500), 1);
    expect(w.latestTs(s)).toBe(T0 + 1234);
    w.markSnapshot(s, minOf(T0), [0.5, 0.25, 1.5, 0.75]);
    w.setSnapshotOwed(s, true);
    const writer = new SnapshotWriter();
    w.save(writer);
    const restored = store();
    restored.load(new SnapshotReader(writer.finish()));
    const r = restored.find('c1');
    expect(restored.latestTs(r)).toBe(T0 + 1234);
    expect(restored.snapshotOwed(r)).toBe(true);
    expect(restored.snapshotMove(r, [0.5, 0.25, 1.5, 0.75])).toBeLessThan(1e-3);
    expect(restored.snapshotMove(r, [0.5, 0.35, 1.5, 0.75])).toBeCloseTo(0.1, 3);
    // The same checkpoint without the new arrays, as a processor before the snapshot step wrote it.
    const blob = new SnapshotReader(writer.finish());
    const old = new SnapshotWriter();
    Object.assign(old.json, blob.json);
    old.strings('customers.ids', ['c1']);
    const names = ['head', 'firstPurchase', 'firstPurchaseMs', 'firstPurchaseValue', 'lastPurchase', 'purchases', 'revenue', 'lastResponse', 'lastNegative', 'lastNegativeKind', 'flags', 'snapshotMin', 'zone'];
    for (const name of [...names.map((n) => `customers.${n}`), ...Array.from({ length: 15 }, (_, i) => `customers.v2.ring${i}`)]) {
      const ctor = { 1: Uint8Array, 2: Uint16Array, 4: name.endsWith('firstPurchaseValue') ? Float32Array : Int32Array, 8: Float64Array }[blob.elementBytes(name) as 1 | 2 | 4 | 8];
      old.array(name, blob.array(name, ctor as never)!);
    }
    const older = store();
    older.load(new SnapshotReader(old.finish()));
    const o = older.find('c1');
    expect(older.view(o, minOf(T0)).engagement.d7).toBe(2);
    // Compared with a customer with no events (0, 0, 0, P(alive) 1); the event time within the minute is lost.
    expect(older.snapshotMove(o, [0, 0, 0, 1])).toBe(0);
    expect(older.latestTs(o)).toBe(minOf(T0) * MIN);
  });
});
