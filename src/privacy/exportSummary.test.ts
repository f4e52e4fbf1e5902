import { describe, expect, it } from 'vitest';
import { plainSummary, type SummaryFacts } from './exportSummary.js';

const NOW = Date.UTC(2024, 2, 10, 12, 0);
const H = 3_600_000;

function facts(over: Partial<SummaryFacts> = {}): SummaryFacts {
  return {
    now: NOW,
    pseudonym: null,
    events: { total: 0, first: null, last: null },
    touches7d: {},
    heldBack: [],
    churn: null,
    engagement: null,
    fatigue: null,
    consent: { withdrawn: false, since: null },
    alerts: { count: 0, rules: [] },
    liveNote: null,
    ...over,
  };
}

describe('plainSummary', () => {
  it('says what is held, how often the customer was contacted, what is held back and why, and the model estimate with its reasons', () => {
    const s = plainSummary(
      facts({
        events: { total: 1204, first: Date.UTC(2024, 1, 1, 9, 30), last: NOW - H },
        touches7d: { email_sent: 9, push_sent: 5, page_view: 0 },
        heldBack: [
          { channel: 'email', reasons: ['complaint 3 h ago'], until: NOW + 69 * H },
          { channel: 'push', reasons: ['complaint 3 h ago'], until: NOW + 69 * H },
          { channel: 'sms', reasons: ['complaint 3 h ago'], until: NOW + 69 * H },
        ],
        churn: { pAlive: 0.634, risk: 0.52, customerValue: 120.456, reasons: ['complaint 3 h ago', 'no purchase in 45 days'], source: 'live', at: NOW },
        engagement: { score: 41.6 },
        fatigue: { score: 1.4, reasons: ['9 emails in 7 days against a cap of 7'] },
        experience: { index: 27.6, reasons: ['3 product problems recently (refunds, returns, defects, failed payments, low ratings; 14-day half-life)'] },
        alerts: { count: 2, rules: ['churn_risk_high', 'contact_fatigue'] },
      }),
    );
    expect(s).toEqual([
      'We hold 1,204 events about you, from 2024-02-01 09:30 UTC to 2024-03-10 11:00 UTC.',
      'You were contacted 14 times in the last 7 days (9 emails and 5 push notifications).',
      'We are holding back marketing emails, push notifications and text messages because: complaint 3 h ago (until 2024-03-13 09:00 UTC).',
      'Our model estimates a 63 % chance that you are still an active customer, because: complaint 3 h ago; no purchase in 45 days.',
      'It puts your risk of leaving at 52 % and the value of your future purchases at 120.46.',
      'Your engagement with us over the last 7 days scores 42 out of 100.',
      'We count you as contacted too often: 9 emails in 7 days against a cap of 7.',
      'We estimate your experience with us (products, service, and what other customers say of what you bought) at 28 out of 100, 50 being neutral, because: 3 product problems recently (refunds, returns, defects, failed payments, low ratings; 14-day half-life).',
      'Our operations team was alerted about you 2 times (churn_risk_high and contact_fatigue).',
    ]);
  });

  it('names the pseudonym, a stored estimate with its time, a withdrawal without end, and why live scores are missing', () => {
    const s = plainSummary(
      facts({
        pseudonym: 'ab12',
        events: { total: 1, first: NOW, last: NOW },
        touches7d: { email_sent: 1 },
        heldBack: [{ channel: 'email', reasons: ['consent withdrawn'], until: null }],
        consent: { withdrawn: true, since: NOW - 2 * H },
        churn: { pAlive: 0.9, risk: 0.1, customerValue: 0, reasons: [], source: 'snapshot', at: NOW - 24 * H },
        liveNote: 'no processor answered at http://127.0.0.1:8080',
      }),
    );
    expect(s).toEqual([
      'We store you under the pseudonym ab12, never under your own id.',
      'We hold 1 event about you, from 2024-03-10 12:00 UTC to 2024-03-10 12:00 UTC.',
      'You were contacted 1 time in the last 7 days (1 email).',
      'We are holding back marketing emails because: consent withdrawn.',
      'You withdrew your consent on 2024-03-10 10:00 UTC: since then we store nothing about what you do, score you no longer and hold back every marketing message.',
      'Our model estimates a 90 % chance that you are still an active customer (as of 2024-03-09 12:00 UTC, our latest stored estimate), with no particular warning sign.',
      'It puts your risk of leaving at 10 % and the value of your future purchases at 0.00.',
      'Your live scores are not in this export: no processor answered at http://127.0.0.1:8080.',
    ]);
  });

  it('for someone Vigil holds nothing on: no events, no contact, nothing else claimed', () => {
    expect(plainSummary(facts())).toEqual(['We hold no events about you.', 'We did not contact you in the last 7 days.']);
  });
});
