// The workload of the windows' cross-thread test (src/windows/windowsReader.test.ts) and its worker
// (windowsReaderProbe.ts): who is touched on which channel and lives in which zone, so that a read can be told
// to be one customer's at one moment, or not.
import type { CustomerRead } from '../../src/windows/windowsReader.js';

/** Every event lies in one 2-hour bucket of one day: a touch adds 1 to its 24 h and its 7-day bucket alike. */
export const NOW = Date.parse('2026-11-03T10:59:00Z');
export const CHANNELS = ['email', 'push', 'sms'] as const;
export const ZONES = ['Europe/Paris', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'Europe/Lisbon', 'America/Chicago', 'Africa/Lagos'];

export const customerId = (k: number) => `cust-${k}`;
export const channelOf = (k: number) => CHANNELS[k % CHANNELS.length];
export const zoneOf = (k: number) => ZONES[k % ZONES.length];

/** What is wrong with a read of customer k, or null: every read must be of k alone, and whole. */
export function problemWith(k: number, read: CustomerRead | null): string | null {
  if (read === null) return null;
  const t = read.touches;
  for (const ch of ['email', 'push', 'sms', 'other'] as const) {
    const h24 = t.buckets[ch].h24.reduce((a, b) => a + b, 0);
    const d7 = t.buckets[ch].d7.reduce((a, b) => a + b, 0);
    if (ch !== channelOf(k) && (h24 !== 0 || d7 !== 0)) return `${customerId(k)} has ${h24}/${d7} touches on ${ch}, only ever touched on ${channelOf(k)}`;
    if (h24 !== d7) return `${customerId(k)} has ${h24} touches on ${ch} in 24 h and ${d7} in 7 days: a read of half a write`;
  }
  if (t.zone !== null && t.zone !== zoneOf(k)) return `${customerId(k)} is in ${t.zone}, only ever in ${zoneOf(k)}`;
  if (t.lastNegative !== null) return `${customerId(k)} has a negative event, never sent one`;
  return null;
}
