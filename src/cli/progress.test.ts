import { describe, expect, it } from 'vitest';
import { ManualClock } from '../shared/clock.js';
import { formatDuration, formatProgress, Progress } from './progress.js';

describe('progress lines', () => {
  it('say how far, how fast, and how long is left', () => {
    expect(formatProgress({ label: 'history', done: 12_345, total: 29_400, unit: 'events', elapsedMs: 2_000 })).toBe(
      'history: 41% (12,345 / 29,400 events, 6,173 events/s, 2.0 s elapsed, about 2.8 s left)',
    );
    expect(formatProgress({ label: 'forget c1', done: 0, total: null, unit: 'audit checks', elapsedMs: 0 })).toBe('forget c1: (0 audit checks, 0.0 s elapsed)');
    expect(formatProgress({ label: 'x', done: 10, total: 10, unit: 'days', elapsedMs: 5_000 })).toBe('x: 100% (10 / 10 days, 2 days/s, 5.0 s elapsed)');
  });

  it('formats durations from seconds to hours', () => {
    expect([999, 61_000, 3_725_000].map(formatDuration)).toEqual(['1.0 s', '1 min 1 s', '1 h 2 min']);
  });

  it('writes at most one line per interval, plus one at each tenth done, and always the last', () => {
    const clock = new ManualClock(0);
    const lines: string[] = [];
    const p = new Progress({ label: 'history', unit: 'events', total: 1_000, clock, write: (l) => lines.push(l) });
    for (let i = 1; i <= 50; i++) {
      clock.advance(10);
      p.update(i);
    }
    expect(lines).toEqual([]); // 5% in 0.5 s: nothing due
    for (let i = 51; i <= 100; i++) {
      clock.advance(10);
      p.update(i);
    }
    expect(lines).toHaveLength(1); // the first tenth
    expect(lines[0]).toMatch(/^history: 10% \(100 \/ 1,000 events/);
    clock.advance(2_000);
    p.update(101);
    expect(lines).toHaveLength(2); // the interval
    p.update(102);
    expect(lines).toHaveLength(2);
    p.finish();
    expect(lines).toHaveLength(3);
  });

  it('repeats a waiting note only once per interval, with the time so far', () => {
    const clock = new ManualClock(0);
    const lines: string[] = [];
    const p = new Progress({ label: 'forget c1', unit: 'checks', clock, write: (l) => lines.push(l) });
    for (let i = 0; i < 20; i++) {
      clock.advance(250);
      p.note('waiting for the audit record');
    }
    expect(lines).toEqual(['forget c1: waiting for the audit record (2.0 s elapsed)\n', 'forget c1: waiting for the audit record (4.0 s elapsed)\n']);
  });

  it('writes nothing when turned off', () => {
    const clock = new ManualClock(0);
    const lines: string[] = [];
    const p = new Progress({ label: 'x', unit: 'rows', total: 10, clock, write: (l) => lines.push(l), enabled: false });
    p.update(10);
    p.step('done');
    p.finish();
    expect(lines).toEqual([]);
  });
});
