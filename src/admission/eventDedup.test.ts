import { describe, expect, it } from 'vitest';
import { EventDedup } from './eventDedup.js';
import { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { MINUTE_MS as M } from '../shared/clock.js';

const T = Date.parse('2026-11-23T10:00:00Z');

describe('EventDedup', () => {
  it('sees an id once per minute generation and forgets generations behind the bound', () => {
    const d = new EventDedup();
    expect(d.firstSeen('e1', T)).toBe(true);
    expect(d.firstSeen('e1', T)).toBe(false);
    expect(d.firstSeen('e2', T + M)).toBe(true);
    d.expire(T + M);
    expect(d.size).toBe(1);
    expect(d.firstSeen('e1', T)).toBe(true);
    expect(d.firstSeen('e2', T + M)).toBe(false);
  });

  it('remembers its ids across a checkpoint, and across one written before they were kept as a block', () => {
    const d = new EventDedup();
    d.firstSeen('e1', T);
    d.firstSeen('e\u00002', T);
    d.firstSeen('e3', T + M);
    const w = new SnapshotWriter();
    d.save(w);
    const old = new SnapshotWriter();
    old.json.dedup = [[T / M, ['e1', 'e\u00002']], [T / M + 1, ['e3']]];
    for (const blob of [w.finish(), old.finish()]) {
      const restored = new EventDedup();
      restored.load(new SnapshotReader(blob));
      expect(restored.size).toBe(3);
      expect([restored.firstSeen('e1', T), restored.firstSeen('e\u00002', T), restored.firstSeen('e3', T + M), restored.firstSeen('e4', T)]).toEqual([false, false, false, true]);
    }
  });
});
