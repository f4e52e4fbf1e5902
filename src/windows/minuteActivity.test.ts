import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinuteActivity } from './minuteActivity.js';
import { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { MINUTE_MS as M } from '../shared/clock.js';

const T = Date.parse('2026-11-23T10:00:00Z');

const KINDS = ['channel', 'segment', 'campaign'];

describe('MinuteActivity', () => {
  it('accumulates per key and minute and hands out cumulative rows versioned by their count', () => {
    const a = new MinuteActivity();
    a.add('c1', 'purchase', T + 1000, 10, 1);
    a.add('c1', 'purchase', T + 2000, 5, 2);
    a.add('c1', 'purchase', T + M, 1, 3);
    const first = a.drain(0);
    expect(first.map((b) => [b.minuteMs, b.events, b.revenue, b.version])).toEqual([
      [T, 2, 15, 2],
      [T + M, 1, 1, 1],
    ]);
    a.add('c1', 'purchase', T + 3000, 1, 4);
    const second = a.drain(0);
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ minuteMs: T, events: 3, revenue: 16, version: 3, writer: first[0].writer });
  });

  it('writes dirty buckets ahead of a drain in slices, in order, closing nothing; a bucket changed since is written again', () => {
    const a = new MinuteActivity();
    for (let k = 0; k < 5; k++) a.add(`c${k}`, 'click', T + k, 0, k + 1);
    const rows: [string, number][] = [];
    const visit = (id: string, _type: string, _kind: number, _minuteMs: number, events: number) => void rows.push([id, events]);
    let budget = 1;
    // Two buckets a slice (one at least, then while the budget lasts).
    expect(a.drainDirty(visit, () => budget-- > 0)).toBe(false);
    expect(rows).toEqual([['c0', 1], ['c1', 1]]);
    // c0 changes after its row was written: it joins the end, behind the buckets not yet written.
    a.add('c0', 'click', T + 10, 0, 6);
    budget = 10;
    expect(a.drainDirty(visit, () => budget-- > 0)).toBe(true);
    expect(rows.slice(2)).toEqual([['c2', 1], ['c3', 1], ['c4', 1], ['c0', 2]]);
    // Nothing was closed: the drain after a whole lateness finds the buckets still open, and nothing dirty.
    expect(a.size).toBe(5);
    expect(a.drain(T + 2 * M)).toEqual([]);
    expect(a.size).toBe(0);
  });

  it('closes buckets behind the watermark and starts a new incarnation for a minute seen again', () => {
    const a = new MinuteActivity();
    a.add('k', 'click', T, 0, 10);
    const w1 = a.drain(T + M)[0].writer;
    expect(a.size).toBe(0);
    a.add('k', 'click', T, 0, 11);
    const again = a.drain(T + M)[0];
    expect(again.writer).not.toBe(w1);
    expect(again.events).toBe(1);
  });

  it('reopens a bucket under the same writer when the same events are replayed, so the row is rewritten, not added', () => {
    const live = new MinuteActivity();
    const replayed = new MinuteActivity();
    for (const a of [live, replayed]) {
      a.add('c1', 'click', T, 0, 41);
      a.add('c1', 'click', T + 5, 0, 42);
    }
    expect(replayed.drain(0)).toEqual(live.drain(0));
  });

  it('restores its open buckets from a checkpoint, and from one written before they were kept as arrays', () => {
    const a = new MinuteActivity();
    a.add('c1', 'purchase', T + 1000, 10, 7);
    a.add('c1', 'purchase', T + 2000, 5, 8);
    const w = new SnapshotWriter();
    a.save(w, 'activity');
    const restored = new MinuteActivity();
    restored.load(new SnapshotReader(w.finish()), 'activity');
    const expected = a.drain(0);
    expect(restored.drain(0)).toEqual(expected);
    const old = new SnapshotWriter();
    old.json.activity = [['c1\u0000purchase', T, 2, 15, 0, '7']];
    const fromOld = new MinuteActivity();
    fromOld.load(new SnapshotReader(old.finish()), 'activity');
    expect(fromOld.drain(0)).toEqual(expected);
  });

  it('restores from the layout of joined key strings it wrote before the id table and bucket arrays', () => {
    const a = new MinuteActivity();
    a.add('c1', 'purchase', T + 1000, 10, 7);
    a.add('c1', 'purchase', T + 2000, 5, 8);
    a.add('cé', 'click', T + M, 0, 9);
    const old = new SnapshotWriter();
    old.strings('activity.keys', ['c1\u0000purchase', 'cé\u0000click']);
    old.array('activity.minute', Int32Array.of(T / M, T / M + 1));
    old.array('activity.events', Float64Array.of(2, 1));
    old.array('activity.revenue', Float64Array.of(15, 0));
    old.array('activity.overloaded', Float64Array.of(0, 0));
    old.array('activity.writer', Float64Array.of(7, 9));
    const fromOld = new MinuteActivity();
    fromOld.load(new SnapshotReader(old.finish()), 'activity');
    expect(fromOld.drain(0)).toEqual(a.drain(0));
  });

  it('drops on restore the buckets of a kind this version does not know, and their ids with them', () => {
    const newer = new MinuteActivity([...KINDS, 'product']);
    newer.add('spring', 'email_sent', T, 0, 1, false, 2);
    newer.add('p-9', 'refund', T, 0, 2, false, 3);
    newer.add('spring', 'refund', T, 0, 3, false, 3);
    const w = new SnapshotWriter();
    newer.save(w, 'entities');
    const restored = new MinuteActivity(KINDS);
    restored.load(new SnapshotReader(w.finish()), 'entities');
    expect(restored.size).toBe(1);
    expect(restored.forget('p-9')).toBe(0);
    expect(restored.drain(0).map((b) => [b.key, b.events, b.writer])).toEqual([['campaign\u0000spring\u0000email_sent', 1, 1]]);
  });

  it('forgets a customer by key prefix', () => {
    const a = new MinuteActivity();
    a.add('c1', 'click', T, 0, 1);
    a.add('c2', 'click', T, 0, 2);
    expect(a.forget('c1')).toBe(1);
    expect(a.forget('c')).toBe(0);
    expect(a.drain(0).map((b) => b.key)).toEqual(['c2\u0000click']);
  });

  it('keeps kinds apart and writes their keys as before: kind, id and type joined by \\0', () => {
    const a = new MinuteActivity(KINDS);
    a.add('spring', 'email_sent', T + M, 0, 9, true, 2);
    a.add('spring', 'email_sent', T + M, 0, 10, false, 1);
    const w = new SnapshotWriter();
    a.save(w, 'entities');
    const old = new SnapshotWriter();
    old.json.entities = [['campaign\u0000spring\u0000email_sent', T + M, 1, 0, 1, '9'], ['segment\u0000spring\u0000email_sent', T + M, 1, 0, 0, '10']];
    const fromOld = new MinuteActivity(KINDS);
    fromOld.load(new SnapshotReader(old.finish()), 'entities');
    const restored = new MinuteActivity(KINDS);
    restored.load(new SnapshotReader(w.finish()), 'entities');
    const rows = a.drain(0);
    expect(rows.map((b) => [b.key, b.events, b.overloaded, b.writer])).toEqual([
      ['campaign\u0000spring\u0000email_sent', 1, 1, 9],
      ['segment\u0000spring\u0000email_sent', 1, 0, 10],
    ]);
    expect(fromOld.drain(0)).toEqual(rows);
    expect(restored.drain(0)).toEqual(rows);
  });

  it('behaves as a map from (id, kind, type, minute) to counts under random adds, drains and forgets', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('add' as const), id: fc.constantFrom('a', 'b', 'ç', '\u{1F600}'), type: fc.constantFrom('click', 'purchase'), kind: fc.integer({ min: 0, max: 2 }), min: fc.integer({ min: 0, max: 5 }) }),
            fc.record({ op: fc.constant('drain' as const), before: fc.integer({ min: 0, max: 6 }) }),
            fc.record({ op: fc.constant('forget' as const), id: fc.constantFrom('a', 'b') }),
            fc.record({ op: fc.constant('ahead' as const), budget: fc.integer({ min: 0, max: 4 }) }),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          const a = new MinuteActivity(KINDS);
          const model = new Map<string, number>();
          // The last row written per open bucket, ahead or by a drain: a bucket's latest row carries its count.
          const written = new Map<string, number>();
          let seq = 0;
          for (const o of ops) {
            if (o.op === 'ahead') {
              let budget = o.budget;
              a.drainDirty((id, type, kind, minuteMs, events) => written.set(`${KINDS[kind]}\u0000${id}\u0000${type}@${(minuteMs - T) / M}`, events), () => budget-- > 0);
              expect(a.size).toBe(model.size);
              continue;
            }
            if (o.op === 'add') {
              a.add(o.id, o.type, T + o.min * M, 0, ++seq, false, o.kind);
              const k = `${KINDS[o.kind]}\u0000${o.id}\u0000${o.type}@${o.min}`;
              model.set(k, (model.get(k) ?? 0) + 1);
            } else if (o.op === 'forget') {
              a.forget(o.id);
              for (const k of [...model.keys()]) if (k.split('\u0000')[1] === o.id) model.delete(k);
            } else {
              for (const b of a.drain(T + o.before * M)) written.set(`${b.key}@${(b.minuteMs - T) / M}`, b.events);
              for (const k of [...model.keys()]) if (Number(k.split('@')[1]) + 1 <= o.before) model.delete(k);
            }
            expect(a.size).toBe(model.size);
          }
          const w0 = new SnapshotWriter();
          a.save(w0, 'x');
          for (const b of a.drain(T)) written.set(`${b.key}@${(b.minuteMs - T) / M}`, b.events);
          for (const [k, events] of model) expect(written.get(k), k).toBe(events);
          a.load(new SnapshotReader(w0.finish()), 'x');
          // A restore marks every open bucket dirty: its drain lists them all, with their counts.
          const w = new SnapshotWriter();
          a.save(w, 'x');
          const restored = new MinuteActivity(KINDS);
          restored.load(new SnapshotReader(w.finish()), 'x');
          const got = new Map(restored.drain(0).map((b) => [`${b.key}@${(b.minuteMs - T) / M}`, b.events]));
          expect(got).toEqual(model);
        },
      ),
      { numRuns: 300, seed: 15 },
    );
  });
});
