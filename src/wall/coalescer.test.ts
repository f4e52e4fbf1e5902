// The coalescing rules the wall promises its screens: latest stats, lists and overload win; one frame per alert id.
import { describe, expect, it } from 'vitest';
import type { AlertView, ProcessorStats, WallFrame } from '../contract/frames.js';
import { FrameCoalescer } from './coalescer.js';

const stats = (eventsPerSec: number) => ({ type: 'stats', stats: { eventsPerSec } as ProcessorStats }) as const;
const alert = (id: string, state: AlertView['state']) => ({ type: 'alert', alert: { id, state } as AlertView }) as const;

function drainAll(frames: WallFrame[]): WallFrame[] {
  const coalescer = new FrameCoalescer();
  for (const frame of frames) coalescer.add(frame);
  return coalescer.drain();
}

describe('FrameCoalescer', () => {
  it('keeps only the latest stats, at-risk list and overload table', () => {
    const out = drainAll([stats(1), { type: 'at_risk', atRisk: [] }, stats(2), { type: 'overload', overload: [] }, stats(3)]);
    expect(out.map((frame) => frame.type)).toEqual(['stats', 'at_risk', 'overload']);
    expect(out[0]).toEqual(stats(3));
  });

  it('keeps the latest experience table, after the overload table', () => {
    const worst = [{ kind: 'product', key: 'sku-1', index: 22, trend: -9, volume: 40, reason: null }] as const;
    const out = drainAll([{ type: 'experience', experience: [] }, { type: 'overload', overload: [] }, { type: 'experience', experience: [...worst] }]);
    expect(out).toEqual([{ type: 'overload', overload: [] }, { type: 'experience', experience: worst }]);
  });

  it('keeps one frame per alert: its first position, its latest state', () => {
    const out = drainAll([alert('a', 'pending'), alert('b', 'firing'), alert('a', 'firing'), alert('a', 'resolved')]);
    expect(out).toEqual([alert('a', 'resolved'), alert('b', 'firing')]);
  });

  it('keeps the latest silence list, just before the alerts it marks', () => {
    const out = drainAll([alert('a', 'firing'), { type: 'silences', silences: [] }, stats(1), { type: 'silences', silences: [{ id: 's1' } as never] }]);
    expect(out.map((frame) => frame.type)).toEqual(['stats', 'silences', 'alert']);
    expect(out[1]).toEqual({ type: 'silences', silences: [{ id: 's1' }] });
  });

  it('lets a snapshot supersede everything before it', () => {
    const snapshot = { type: 'snapshot' } as WallFrame;
    const out = drainAll([stats(1), alert('a', 'firing'), snapshot, stats(2)]);
    expect(out).toEqual([snapshot, stats(2)]);
  });

  it('is empty after a drain', () => {
    const coalescer = new FrameCoalescer();
    expect(coalescer.empty).toBe(true);
    coalescer.add(stats(1));
    expect(coalescer.empty).toBe(false);
    coalescer.drain();
    expect(coalescer.empty).toBe(true);
    expect(coalescer.drain()).toEqual([]);
  });
});
