// The processor's timers on the manual clock: the commit loop's pacing, its failures, its stop; the evaluation tick.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../shared/clock.js';
import { every, startCommitLoop } from './commitLoop.js';

/** Lets the loop's awaits run (the fakes resolve at once). */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('startCommitLoop', () => {
  it('beats then runs a round once per interval, never before the interval has passed', async () => {
    const clock = new ManualClock(0);
    const calls: string[] = [];
    const loop = startCommitLoop({ timers: clock, intervalMs: 1_000, beat: () => calls.push(`beat ${clock.now()}`), round: async () => void calls.push(`round ${clock.now()}`), log: { error: () => undefined } });
    await settle();
    clock.advance(999);
    await settle();
    expect(calls).toEqual([]);
    clock.advance(1);
    await settle();
    clock.advance(1_000);
    await settle();
    expect(calls).toEqual(['beat 1000', 'round 1000', 'beat 2000', 'round 2000']);
    const stopped = loop.stop();
    clock.advance(1_000);
    await stopped;
  });

  it('does not overlap itself: the next interval starts when the round under way ends', async () => {
    const clock = new ManualClock(0);
    let release = (): void => undefined;
    let rounds = 0;
    const loop = startCommitLoop({ timers: clock, intervalMs: 1_000, beat: () => undefined, round: () => (rounds++, new Promise<void>((r) => (release = r))), log: { error: () => undefined } });
    await settle();
    clock.advance(1_000);
    await settle();
    clock.advance(5_000);
    await settle();
    expect(rounds).toBe(1);
    release();
    await settle();
    clock.advance(1_000);
    await settle();
    expect(rounds).toBe(2);
    const stopped = loop.stop();
    release();
    await settle();
    clock.advance(1_000);
    await stopped;
  });

  it('logs a failed round and tries again at the next interval', async () => {
    const clock = new ManualClock(0);
    const errors: string[] = [];
    let rounds = 0;
    const loop = startCommitLoop({
      timers: clock,
      intervalMs: 1_000,
      beat: () => undefined,
      round: async () => {
        if (++rounds === 1) throw new Error('ClickHouse away');
      },
      log: { error: (fields, message) => errors.push(`${message}: ${String(fields.err)}`) },
    });
    for (let i = 0; i < 2; i++) {
      await settle();
      clock.advance(1_000);
    }
    await settle();
    expect(rounds).toBe(2);
    expect(errors).toEqual(['commit failed; retrying at the next interval: ClickHouse away']);
    const stopped = loop.stop();
    clock.advance(1_000);
    await stopped;
  });

  it('stops after the interval under way without another round', async () => {
    const clock = new ManualClock(0);
    let rounds = 0;
    const loop = startCommitLoop({ timers: clock, intervalMs: 1_000, beat: () => undefined, round: async () => void rounds++, log: { error: () => undefined } });
    await settle();
    const stopped = loop.stop();
    clock.advance(1_000);
    await stopped;
    expect(rounds).toBe(0);
    expect(clock.pending()).toBe(0);
  });
});

describe('every', () => {
  it('calls once per interval until cancelled, and not after', () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    const cancel = every(clock, 250, () => at.push(clock.now()));
    clock.advance(1_000);
    expect(at).toEqual([250, 500, 750, 1_000]);
    cancel();
    clock.advance(1_000);
    expect(at).toHaveLength(4);
    expect(clock.pending()).toBe(0);
  });

  it('keeps its period when a call throws (the caller catches, but the next call is already scheduled)', () => {
    const clock = new ManualClock(0);
    let calls = 0;
    every(clock, 100, () => {
      calls++;
      if (calls === 1) throw new Error('tick failed');
    });
    expect(() => clock.advance(100)).toThrow('tick failed');
    clock.advance(100);
    expect(calls).toBe(2);
  });
});
