// Budget request parsing: whatever bytes arrive, a request or a reason, never a throw, never the input echoed; and a
// batch decided in slices, exactly as one decided at once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { ManualClock } from '../shared/clock.js';
import { Precedence } from '../shared/slices.js';
import { CustomerWindows } from '../windows/customerWindows.js';
import { ev } from '../windows/events.testing.js';
import { ContactBudget } from './contactBudget.js';
import { answerBatch, answerCheck, parseBatch, parseBody, parseCheck } from './requests.js';

const enc = new TextEncoder();
const body = (text: string) => parseBody(enc.encode(text));

describe('parseBody', () => {
  it('refuses invalid UTF-8 rather than reading it as U+FFFD', () => {
    expect(parseBody(new Uint8Array([0x7b, 0x22, 0x63, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]))).toEqual({ ok: false, reason: 'the request is not valid UTF-8' });
  });
  it('refuses nesting deeper than 8 before JSON.parse sees it, counting no bracket inside a string', () => {
    expect(body('['.repeat(1 << 19) + ']'.repeat(1 << 19))).toEqual({ ok: false, reason: 'the request nests deeper than 8 levels' });
    expect(body('{"a":'.repeat(9) + '1' + '}'.repeat(9)).ok).toBe(false);
    expect(body('{"a":'.repeat(8) + '1' + '}'.repeat(8)).ok).toBe(true);
    expect(body(JSON.stringify({ customerId: '[[[[[[[[[[[[\\"[[[[', channel: 'email' }))).toMatchObject({ ok: true });
  });
  it('refuses what is not JSON', () => {
    expect(body('{"customerId":')).toEqual({ ok: false, reason: 'the request must be JSON' });
  });
});

describe('budget request ids', () => {
  it.each([
    ['a lone surrogate', 'c\ud800'],
    ['a NUL', 'c\u0000'],
    ['a C1 control', 'c\u0085'],
    ['a DEL', 'c\u007f'],
  ])('refuses a customerId with %s, in a check and in a batch, without echoing it', (_name, id) => {
    const one = parseCheck({ customerId: id, channel: 'email' });
    expect(one).toEqual({ ok: false, reason: 'customerId must be a string of 1..128 characters, well-formed Unicode without control characters' });
    const many = parseBatch({ customerIds: ['fine', id], channel: 'email' }, 10);
    expect(many.ok).toBe(false);
    expect(parseCheck({ customerId: 'fine', channel: 'email', campaignId: id }).ok).toBe(false);
  });
  it('accepts a surrogate pair and non-Latin ids', () => {
    expect(parseBatch({ customerIds: ['c-\u{1F600}', '顧客'], channel: 'sms', campaignId: 'été' }, 10).ok).toBe(true);
  });
  it('never throws and never echoes generated input', () => {
    const anything = fc.oneof(fc.jsonValue(), fc.record({ customerId: fc.jsonValue(), customerIds: fc.array(fc.oneof(fc.string(), fc.jsonValue()), { maxLength: 5 }), channel: fc.oneof(fc.constantFrom('email', 'push', 'sms'), fc.string()), priority: fc.jsonValue(), campaignId: fc.jsonValue() }, { requiredKeys: [] }));
    fc.assert(
      fc.property(anything, (v) => {
        for (const r of [parseCheck(v), parseBatch(v, 3)]) {
          if (!r.ok) {
            expect(r.reason.length).toBeGreaterThan(0);
            expect(r.reason).not.toContain('\u0000');
          }
        }
      }),
      { numRuns: 3_000, seed: 13 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => void parseBody(bytes)), { numRuns: 3_000, seed: 13 });
  });
});

describe('answerBatch in slices', () => {
  const NOW = Date.parse('2024-03-10T12:30:00Z');
  function setup() {
    // Two emails a day for a customer with no opens on record; no quiet hours, so the time of day does not matter.
    const config = parseConfig({ signals: { caps: { email: { perDay: 2, perWeek: 7 } } }, budget: { quietHours: { start: 0, end: 0 } } });
    const windows = new CustomerWindows({ maxCustomers: 1_000, idleEvictMin: 8 * 1440 });
    const budget = new ContactBudget({ windows, config, clock: new ManualClock(NOW), consentWithdrawn: () => false });
    const touch = (id: string) => {
      const e = ev('email_sent', NOW - 60_000, { customerId: id, channel: 'email', campaignId: 'x' });
      const slot = windows.slotFor(id);
      windows.record(slot, e, 0);
      budget.onEvent(e, slot, false);
    };
    return { budget, touch };
  }
  const ids = Array.from({ length: 500 }, (_, i) => `c${i}`);
  const batch = (customerIds: string[]) => ({ customerIds, channel: 'email' as const, campaignId: 'spring', priority: 'marketing' as const });

  it('answers exactly as a batch decided at once, whatever the slices', async () => {
    const whole = setup();
    const sliced = setup();
    for (const s of [whole, sliced]) for (const id of ids.slice(0, 100)) s.touch(id);
    const a = await answerBatch(whole.budget, batch(ids), (id) => id, Number.POSITIVE_INFINITY);
    const b = await answerBatch(sliced.budget, batch(ids), (id) => id, 0);
    expect(b).toEqual(a);
    expect((a.allowed as string[]).length).toBe(500);
    // A second pass: the first pass's reservations hold, so those with a touch are now at their allowance of 2.
    const again = await answerBatch(sliced.budget, batch(ids), (id) => id, 0);
    expect((again.allowed as string[]).length).toBe(400);
    expect((again.suppressed as { customerId: string }[]).map((s) => s.customerId)).toEqual(ids.slice(0, 100));
  });

  it('lets a single check in between its slices, and never gives one last slot twice', async () => {
    const { budget, touch } = setup();
    const last = ids[ids.length - 1];
    touch(last); // one of two slots taken: one left
    const answer = answerBatch(budget, batch(ids), (id) => id, 0);
    // The batch has yielded after its first slice: this check comes before it reaches `last`, and takes the slot.
    expect(answerCheck(budget, { customerId: last, channel: 'email', campaignId: 'other', priority: 'marketing' }, (id) => id)).toMatchObject({ decision: 'allow' });
    const result = await answer;
    expect(result.allowed).toEqual(ids.slice(0, -1));
    expect(result.suppressed).toEqual([{ customerId: last, until: expect.any(Number), reasons: [0] }]);
  });

  it('holds precedence over the stream while it is decided, and lets go when done or when it fails', async () => {
    const { budget } = setup();
    const precedence = new Precedence(50, new ManualClock(NOW));
    const answer = answerBatch(budget, batch(ids), (id) => id, 0, precedence);
    expect(precedence.busy).toBe(true);
    await answer;
    expect(precedence.busy).toBe(false);
    const failing = answerBatch(budget, batch(ids), (id) => {
      if (id === 'c400') throw new Error('no mapping');
      return id;
    }, 0, precedence);
    expect(precedence.busy).toBe(true);
    await expect(failing).rejects.toThrow('no mapping');
    expect(precedence.busy).toBe(false);
  });
});

describe('a batch against single checks', () => {
  const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo'];
  const TYPES = ['email_sent', 'push_sent', 'sms_sent', 'email_open', 'complaint', 'unsubscribe'] as const;
  const CHANNEL: Record<string, string> = { email_sent: 'email', push_sent: 'push', sms_sent: 'sms', email_open: 'email', complaint: 'email', unsubscribe: 'email' };

  /** Two budgets in the same generated state: customers with touches, opens, negatives, zones, withdrawals, reservations. */
  function twins(seed: number, now: number) {
    let x = seed;
    const rnd = () => ((x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    const config = parseConfig({});
    const withdrawn = new Set<string>();
    const make = () => {
      const windows = new CustomerWindows({ maxCustomers: 1_000, idleEvictMin: 8 * 1440 });
      return { windows, budget: new ContactBudget({ windows, config, clock: new ManualClock(now), consentWithdrawn: (id) => withdrawn.has(id) }) };
    };
    const a = make();
    const b = make();
    const ids = Array.from({ length: 300 }, (_, i) => `c${i}`);
    const events: ReturnType<typeof ev>[] = [];
    for (const id of ids) {
      if (rnd() < 0.05) withdrawn.add(id);
      if (rnd() < 0.1) continue; // no live state
      const tz = ZONES[Math.floor(rnd() * ZONES.length)];
      const n = Math.floor(rnd() * 6);
      for (let k = 0; k <= n; k++) {
        const type = k === 0 ? 'email_open' : TYPES[Math.floor(rnd() * (rnd() < 0.1 ? TYPES.length : 4))];
        events.push(ev(type, now - Math.floor(rnd() * 6 * 86_400_000), { customerId: id, channel: CHANNEL[type], campaignId: 'x', props: { tz } }));
      }
    }
    events.sort((p, q) => p.ts - q.ts);
    for (const t of [a, b]) {
      for (const e of events) {
        const slot = t.windows.slotFor(e.customerId);
        t.windows.record(slot, e, 0);
        t.budget.onEvent(e, slot, false);
      }
    }
    // Reservations already held by earlier checks, the same in both.
    for (const id of ids) if (rnd() < 0.3) for (const t of [a, b]) t.budget.check({ customerId: id, channel: 'email', campaignId: 'earlier', priority: 'marketing' });
    return { a, b, ids: [...ids, ...ids.slice(0, 50)] };
  }

  it.each([
    ['in the afternoon (UTC)', '2024-03-10T14:30:00Z'],
    ['at 02:30 UTC (quiet in Europe, not in Tokyo)', '2024-03-10T02:30:00Z'],
    ['at 23:30 UTC (quiet in Europe and UTC)', '2024-03-10T23:30:00Z'],
  ])('gives every id the decision, reservation and counts of a single check, %s', async (_when, iso) => {
    const now = Date.parse(iso);
    for (const seed of [1, 2, 3]) {
      for (const channel of ['email', 'push', 'sms'] as const) {
        for (const priority of ['marketing', 'transactional'] as const) {
          const { a, b, ids } = twins(seed, now);
          const batch = await answerBatch(a.budget, { customerIds: ids, channel, campaignId: 'spring', priority }, (id) => id, 0);
          const allowed: string[] = [];
          const suppressed: { customerId: string; until: number | null; reasons: string[] }[] = [];
          for (const id of ids) {
            const d = b.budget.check({ customerId: id, channel, campaignId: 'spring', priority });
            if (d.allow) allowed.push(id);
            else suppressed.push({ customerId: id, until: d.until, reasons: d.reasons.map((r) => r.text) });
          }
          const texts = batch.reasons as string[];
          expect(batch.allowed).toEqual(allowed);
          expect((batch.suppressed as { customerId: string; until: number | null; reasons: number[] }[]).map((s) => ({ ...s, reasons: s.reasons.map((r) => texts[r]) }))).toEqual(suppressed);
          expect(a.budget.counts).toEqual(b.budget.counts);
          expect(a.budget.reservations.size).toBe(b.budget.reservations.size);
          expect([...a.budget.suppressions()]).toEqual([...b.budget.suppressions()]);
          expect(a.budget.campaignCounts(now)).toEqual(b.budget.campaignCounts(now));
        }
      }
    }
  });
});
