// suppressionReasons() against decide(): what the suppressed set holds of a customer, worked out once, is exactly what
// the three channels' decisions say apart from quiet hours, for any customer (fast-check, fixed seed).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { HOUR_MS } from '../shared/clock.js';
import type { NegativeKind } from '../windows/customerWindows.js';
import { BUDGET_CHANNELS } from './allowance.js';
import { budgetSettings } from './contactBudget.js';
import { decide, suppressionReasons, type CustomerInput, type CustomerTouches, type Reason } from './decision.js';

const NOW = Date.parse('2026-12-07T12:30:00Z');
const NOW_MIN = NOW / 60_000;
/** The defaults, and a setting whose caps and bounds differ by channel, so that the scopes' allowances differ. */
const SETTINGS = [
  budgetSettings(parseConfig({})),
  budgetSettings(parseConfig({ signals: { caps: { email: { perDay: 2, perWeek: 5 }, push: { perDay: 6, perWeek: 20 } } }, budget: { bounds: { sms: { minPerDay: 1, maxPerDay: 2, minPerWeek: 2, maxPerWeek: 3 } } } })),
];

const count = fc.integer({ min: 0, max: 3 });
const buckets = fc.record({ h24: fc.array(count, { minLength: 12, maxLength: 12 }), d7: fc.array(count, { minLength: 7, maxLength: 7 }) });
const customer: fc.Arbitrary<CustomerTouches | null> = fc.option(
  fc.record({
    buckets: fc.record({ email: buckets, push: buckets, sms: buckets, other: buckets }),
    responses7d: fc.integer({ min: 0, max: 6 }),
    lastResponseMin: fc.option(fc.integer({ min: NOW_MIN - 30 * 1440, max: NOW_MIN })),
    lastNegative: fc.option(fc.record({ kind: fc.constantFrom<NegativeKind>('complaint', 'unsubscribe', 'payment_failed', 'support_ticket'), min: fc.integer({ min: NOW_MIN - 5 * 1440, max: NOW_MIN }) })),
    zone: fc.constantFrom(null, 'Europe/Paris', 'America/New_York'),
  }),
  { freq: 5 },
);
const input: fc.Arbitrary<CustomerInput> = fc.record({
  now: fc.integer({ min: NOW - 12 * HOUR_MS, max: NOW + 12 * HOUR_MS }),
  customer,
  consentWithdrawn: fc.boolean(),
  reserved: fc.record({ email: count, push: count, sms: count }),
});

const plain = (reasons: readonly Reason[]) => reasons.map(({ code, scope, text, until }) => ({ code, scope, text, until }));

describe('suppressionReasons', () => {
  it("gives, on each channel and on all channels together, the reasons decide() gives a marketing request there, quiet hours apart", () => {
    fc.assert(
      fc.property(input, fc.constantFrom(0, 1), (c, which) => {
        const s = SETTINGS[which];
        const once = suppressionReasons(c, s);
        for (const channel of BUDGET_CHANNELS) {
          const d = decide({ ...c, request: { customerId: 'c1', channel, campaignId: null, priority: 'marketing' } }, s);
          const fromDecide = d.reasons.filter((r) => r.code !== 'quiet_hours');
          // decide() lists the customer's own reasons, then the channel's windows, then all channels': the same order.
          expect(plain(once.filter((r) => r.scope === channel || r.scope === 'all'))).toEqual(plain(fromDecide));
        }
        // Each reason once: nothing of all channels together is repeated per channel.
        expect(new Set(once.map((r) => `${r.scope}:${r.text}`)).size).toBe(once.length);
      }),
      { seed: 4242, numRuns: 2_000 },
    );
  });

  it('finds the reasons it should: consent, a recent complaint, a channel and all channels over their allowances', () => {
    const full = { h24: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3], d7: [0, 0, 0, 0, 0, 0, 3] };
    const none = { h24: new Array<number>(12).fill(0), d7: new Array<number>(7).fill(0) };
    const reasons = suppressionReasons(
      {
        now: NOW,
        customer: { buckets: { email: full, push: full, sms: none, other: none }, responses7d: 2, lastResponseMin: NOW_MIN - 60, lastNegative: { kind: 'complaint', min: NOW_MIN - 180 }, zone: null },
        consentWithdrawn: true,
        reserved: { email: 0, push: 0, sms: 0 },
      },
      SETTINGS[0],
    );
    expect(reasons.map((r) => [r.scope, r.code])).toEqual([
      ['all', 'consent_withdrawn'],
      ['all', 'complaint'],
      ['email', 'allowance_24h'],
      ['all', 'allowance_24h'],
    ]);
    expect(reasons[1].text).toBe('complaint 3 h ago');
    expect(reasons[2].text).toMatch(/^3 emails in 24 h against an allowance of /);
  });
});
