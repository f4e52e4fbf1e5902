import { describe, expect, it } from 'vitest';
import { MinuteActivity } from './minuteActivity.js';
import { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { MINUTE_MS as M } from '../shared/clock.js';

const T = Date.parse('2026-11-23T10:00:00Z');

describe('MinuteActivity', () => {
  it('accumulates per key and minute and hands out cumulative rows versioned by their count', () => {
    const a = new MinuteActivity();
    a.add('c1\u0000purchase', T + 1000, 10, 1);
    a.add('c1\u0000purchase', T + 2000, 5, 2);
    a.add('c1\u0000purchase', T + M, 1, 3);
    const first = a.drain(0);
    expect(first.map((b) => [b.minuteMs, b.events, b.revenue, b.version])).toEqual([
      [T, 2, 15, 2],
      [T + M, 1, 1, 1],
    ]);
    a.add('c1\u0000purchase', T + 3000, 1, 4);
    const second = a.drain(0);
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ minuteMs: T, events: 3, revenue: 16, version: 3, writer: first[0].writer });
  });

  it('closes buckets behind the watermark and starts a new incarnation for a minute seen again', () => {
    const a = new MinuteActivity();
    a.add('k', T, 0, 10);
    const w1 = a.drain(T + M)[0].writer;
    expect(a.size).toBe(0);
    a.add('k', T, 0, 11);
    const again = a.drain(T + M)[0];
    expect(again.writer).not.toBe(w1);
    expect(again.events).toBe(1);
  });

  it('reopens a bucket under the same writer when the same events are replayed, so the row is rewritten, not added', () => {
    const live = new MinuteActivity();
    const replayed = new MinuteActivity();
    for (const a of [live, replayed]) {
      a.add('c1\u0000click', T, 0, 41);
      a.add('c1\u0000click', T + 5, 0, 42);
    }
    expect(replayed.drain(0)).toEqual(live.drain(0));
  });

  it('restores its open buckets from a checkpoint, and from one written before they were kept as arrays', () => {
    const a = new MinuteActivity();
    a.add('c1\u0000purchase', T + 1000, 10, 7);
    a.add('c1\u0000purchase', T + 2000, 5, 8);
    a.add('campaign\u0000spring\u0000email_sent', T + M, 0, 9, true);
    const w = new SnapshotWriter();
    a.save(w, 'activity');
    const restored = new MinuteActivity();
    restored.load(new SnapshotReader(w.finish()), 'activity');
    const expected = a.drain(0);
    expect(restored.drain(0)).toEqual(expected);
    const old = new SnapshotWriter();
    old.json.activity = [['c1\u0000purchase', T, 2, 15, 0, '7'], ['campaign\u0000spring\u0000email_sent', T + M, 1, 0, 1, '9']];
    const fromOld = new MinuteActivity();
    fromOld.load(new SnapshotReader(old.finish()), 'activity');
    expect(fromOld.drain(0)).toEqual(expected);
  });

  it('forgets a customer by key prefix', () => {
    const a = new MinuteActivity();
    a.add('c1\u0000click', T, 0, 1);
    a.add('c2\u0000click', T, 0, 2);
    expect(a.forget('c1\u0000')).toBe(1);
    expect(a.drain(0).map((b) => b.key)).toEqual(['c2\u0000click']);
  });
});

