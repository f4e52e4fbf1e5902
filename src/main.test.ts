import { describe, expect, it } from 'vitest';
import { readSignal, SAME_REQUEST_MS } from './main.js';

describe('what a stop signal asks', () => {
  const first = { signal: 'SIGINT', at: 1_000 };

  it('the first signal stops cleanly', () => {
    expect(readSignal(null, 'SIGTERM', 0)).toBe('stop');
  });

  it('a different signal right after the first (the demo script\'s SIGTERM after the terminal\'s SIGINT) is the same request', () => {
    expect(readSignal(first, 'SIGTERM', 1_000)).toBe('same request');
    expect(readSignal(first, 'SIGTERM', 1_000 + SAME_REQUEST_MS - 1)).toBe('same request');
  });

  it('the same signal again (a second Ctrl-C) exits now, however soon', () => {
    expect(readSignal(first, 'SIGINT', 1_000)).toBe('exit now');
  });

  it('a different signal after the window exits now', () => {
    expect(readSignal(first, 'SIGTERM', 1_000 + SAME_REQUEST_MS)).toBe('exit now');
  });
});
