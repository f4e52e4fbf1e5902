// The tally of checks and suppressions per campaign and channel: what the campaign alert and the wall read.
import { describe, expect, it } from 'vitest';
import { SuppressionTally } from './suppressionTally.js';

const NOW = Date.parse('2024-03-10T12:30:00Z');
const WINDOW = 10 * 60_000;

describe('SuppressionTally', () => {
  it('counts each campaign and channel apart, the last one recorded and the others alike', () => {
    const t = new SuppressionTally(WINDOW);
    t.record('a', 'email', null, NOW);
    t.record('a', 'email', ['quiet_hours'], NOW);
    t.record('a', 'push', null, NOW);
    t.record(null, 'email', ['complaint', 'complaint'], NOW);
    t.record('a', 'email', null, NOW + 60_000);
    const counts = t.counts(NOW + 60_000);
    const of = (campaignId: string | null, channel: string) => counts.find((c) => c.campaignId === campaignId && c.channel === channel);
    expect(of('a', 'email')).toMatchObject({ checked: 3, suppressed: 1, reasons: [{ code: 'quiet_hours', count: 1 }] });
    expect(of('a', 'push')).toMatchObject({ checked: 1, suppressed: 0 });
    expect(of(null, 'email')).toMatchObject({ checked: 1, suppressed: 1, reasons: [{ code: 'complaint', count: 1 }] });
  });

  it('a campaign swept out of the window and checked again counts from there, though it was the last recorded', () => {
    const t = new SuppressionTally(WINDOW);
    t.record('a', 'email', null, NOW);
    t.sweep(NOW + WINDOW + 60_000);
    expect(t.counts(NOW + WINDOW + 60_000)).toEqual([]);
    t.record('a', 'email', null, NOW + WINDOW + 60_000);
    expect(t.counts(NOW + WINDOW + 60_000)).toMatchObject([{ campaignId: 'a', channel: 'email', checked: 1, suppressed: 0 }]);
  });
});
