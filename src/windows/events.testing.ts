// Small builders for events in unit tests: fixtures are made in code, not copied blobs.
import type { VigilEvent } from '../contract/event.js';

let seq = 0;
export const T0 = Date.parse('2026-11-01T00:00:00Z');

export function ev(type: string, atMs: number, over: Partial<VigilEvent> = {}): VigilEvent {
  return { id: `t${++seq}`, customerId: 'c1', type, ts: atMs, channel: null, value: null, segment: null, campaignId: null, props: null, ...over };
}
