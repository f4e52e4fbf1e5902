import fc from 'fast-check';
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
    // Written while ids were kept as Sets of strings: one block of strings, counted per minute.
    const block = new SnapshotWriter();
    block.json.dedupMinutes = [[T / M, 2], [T / M + 1, 1]];
    block.strings('dedup.ids', ['e1', 'e\u00002', 'e3']);
    for (const blob of [w.finish(), old.finish(), block.finish()]) {
      const restored = new EventDedup();
      restored.load(new SnapshotReader(blob));
      expect(restored.size).toBe(3);
      expect([restored.firstSeen('e1', T), restored.firstSeen('e\u00002', T), restored.firstSeen('e3', T + M), restored.firstSeen('e4', T)]).toEqual([false, false, false, true]);
    }
  });

  it('agrees with a set of strings per minute over generated ids, minutes, expiries and checkpoints (unicode and lone surrogates too)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ op: fc.constant('see' as const), id: fc.oneof(fc.constantFrom('a', 'b', 'é', '\ud800', '\ud83d\ude00', 'x'.repeat(300)), fc.string({ maxLength: 4, unit: 'binary' })), minute: fc.integer({ min: 0, max: 4 }) }), fc.record({ op: fc.constant('expire' as const), minute: fc.integer({ min: 0, max: 5 }) }), fc.constant({ op: 'checkpoint' as const })), { maxLength: 200 }),
        (ops) => {
          let d = new EventDedup();
          const model = new Map<number, Set<string>>();
          for (const o of ops) {
            if (o.op === 'see') {
              const set = model.get(o.minute) ?? new Set<string>();
              model.set(o.minute, set);
              expect(d.firstSeen(o.id, T + o.minute * M)).toBe(!set.has(o.id));
              set.add(o.id);
            } else if (o.op === 'expire') {
              d.expire(T + o.minute * M);
              for (const m of model.keys()) if (m < o.minute) model.delete(m);
            } else {
              const w = new SnapshotWriter();
              d.save(w);
              d = new EventDedup();
              d.load(new SnapshotReader(w.finish()));
            }
            expect(d.size).toBe([...model.values()].reduce((n, set) => n + set.size, 0));
          }
        },
      ),
      { seed: 15, numRuns: 300 },
    );
  });
});
