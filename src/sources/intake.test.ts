// The intake between nats.js's consume callback and the pipeline: messages taken in the stream's order whatever
// slices, backpressure and precedence do, nothing taken while the outputs are full, nothing after a stop. The manual
// clock drives backpressure's re-checks; turns of the loop are real (settle()).
import fc from 'fast-check';
import type { JsMsg } from 'nats';
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { ManualClock } from '../shared/clock.js';
import { Precedence } from '../shared/slices.js';
import { SlicedIntake, type IntakeOptions } from './intake.js';

const msg = (seq: number) => ({ seq }) as unknown as JsMsg;

function setup(over: Partial<IntakeOptions> = {}) {
  const clock = new ManualClock(0);
  const taken: number[] = [];
  const errors: unknown[] = [];
  const flags = { full: false };
  const intake = new SlicedIntake({
    take: (m) => (taken.push(m.seq), true),
    backpressure: () => flags.full,
    recheckMs: 50,
    clock,
    sliceMs: 0,
    precedence: null,
    onError: (err) => errors.push(err),
    ...over,
  });
  return { clock, taken, errors, flags, intake };
}

describe('SlicedIntake', () => {
  it('takes a read at once while its slice has time, in order', () => {
    const { taken, intake } = setup({ sliceMs: 60_000 });
    for (let i = 1; i <= 5; i++) intake.push(msg(i));
    expect(taken).toEqual([1, 2, 3, 4, 5]);
    expect(intake.queued).toBe(0);
  });

  it('queues what comes after its slice and takes it after a turn of the loop, behind nothing new', async () => {
    const { taken, intake } = setup();
    for (let i = 1; i <= 4; i++) intake.push(msg(i));
    // A slice of 0 ms: the first message at once, the rest after turns of the loop.
    expect(taken).toEqual([1]);
    expect(intake.queued).toBe(3);
    await settle(1);
    // Messages of a later read join the queue behind the ones waiting.
    intake.push(msg(5));
    await settle(10);
    expect(taken).toEqual([1, 2, 3, 4, 5]);
    expect(intake.queued).toBe(0);
    // Once empty, a message of a new slice is taken at once again.
    await settle(2);
    intake.push(msg(6));
    expect(taken).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('takes nothing while the outputs are full, and goes on at the re-check after they have room', async () => {
    const { clock, taken, flags, intake } = setup({ sliceMs: 60_000 });
    intake.push(msg(1));
    flags.full = true;
    // Within the same slice too: 2, 3 and 4 wait.
    intake.push(msg(2));
    intake.push(msg(3));
    intake.push(msg(4));
    await settle();
    expect(taken).toEqual([1]);
    clock.advance(50);
    await settle();
    expect(taken).toEqual([1]);
    flags.full = false;
    clock.advance(49);
    await settle();
    expect(taken).toEqual([1]);
    clock.advance(1);
    await settle();
    expect(taken).toEqual([1, 2, 3, 4]);
  });

  it('lets work that callers wait on go first at the start of a slice', async () => {
    const { clock, taken, intake } = setup({ precedence: new Precedence(50, new ManualClock(0)) });
    const precedence = new Precedence(50, clock);
    const held = setup({ precedence });
    const release = precedence.hold();
    held.intake.push(msg(1));
    await settle();
    expect(held.taken).toEqual([]);
    release();
    await settle();
    expect(held.taken).toEqual([1]);
    // Without a holder, at once.
    intake.push(msg(7));
    expect(taken).toEqual([7]);
  });

  it('stops when take says no more, and when it throws (reported once)', async () => {
    const until = setup({ take: (m) => m.seq < 3, sliceMs: 60_000 });
    for (let i = 1; i <= 5; i++) until.intake.push(msg(i));
    expect(until.intake.queued).toBe(0);
    const seen: number[] = [];
    const failing = setup({
      take: (m) => {
        seen.push(m.seq);
        if (m.seq === 2) throw new Error('boom');
        return true;
      },
    });
    for (let i = 1; i <= 4; i++) failing.intake.push(msg(i));
    await settle(10);
    expect(seen).toEqual([1, 2]);
    expect(failing.errors).toHaveLength(1);
    failing.intake.push(msg(5));
    await settle(3);
    expect(seen).toEqual([1, 2]);
  });

  it('a stop drops what is queued and takes nothing after', async () => {
    const { taken, intake } = setup();
    for (let i = 1; i <= 4; i++) intake.push(msg(i));
    intake.stop();
    intake.push(msg(5));
    await settle(10);
    expect(taken).toEqual([1]);
    expect(intake.queued).toBe(0);
  });

  it('holds about what waits, not every message since the queue last emptied, in a backlog that never lets it empty', async () => {
    const { taken, intake } = setup();
    // Ten wait; then each turn brings one and takes one (a slice of 0 ms): the queue never empties for 6,000 turns.
    let pushed = 0;
    for (let k = 0; k < 10; k++) intake.push(msg(++pushed));
    let most = 0;
    for (let turn = 0; turn < 6_000; turn++) {
      intake.push(msg(++pushed));
      await settle(1);
      most = Math.max(most, intake.retained);
    }
    expect(intake.queued).toBeGreaterThan(0);
    expect(taken.length).toBeGreaterThan(5_000);
    expect(taken).toEqual(Array.from({ length: taken.length }, (_, i) => i + 1));
    // Without compaction the array would hold all 6,000 taken; with it, at most its threshold beside what waits.
    expect(most).toBeLessThanOrEqual(1_024 + 2 * intake.queued);
  });

  it('property: whatever the reads, slices and backpressure, every message is taken once, in order', async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('read' as const), n: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant('turns' as const), n: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('full' as const), on: fc.boolean() }),
      fc.record({ kind: fc.constant('clock' as const), ms: fc.integer({ min: 1, max: 120 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.constantFrom(0, 60_000), async (steps, sliceMs) => {
        const taken: number[] = [];
        const takenWhileFull: number[] = [];
        const { clock, flags, intake } = setup({
          sliceMs,
          take: (m) => {
            if (flags.full) takenWhileFull.push(m.seq);
            taken.push(m.seq);
            return true;
          },
        });
        let pushed = 0;
        for (const s of steps) {
          if (s.kind === 'read') for (let i = 0; i < s.n; i++) intake.push(msg(++pushed));
          else if (s.kind === 'turns') await settle(s.n);
          else if (s.kind === 'full') flags.full = s.on;
          else clock.advance(s.ms);
          // Taken so far: a prefix of what was pushed, in order.
          expect(taken).toEqual(Array.from({ length: taken.length }, (_, i) => i + 1));
        }
        flags.full = false;
        clock.advance(50);
        await settle(pushed + 5);
        expect(taken).toEqual(Array.from({ length: pushed }, (_, i) => i + 1));
        expect(takenWhileFull).toEqual([]);
      }),
      { seed: 1931, numRuns: 200 },
    );
  });
});
