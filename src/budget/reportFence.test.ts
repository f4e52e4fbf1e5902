// The fence that keeps the main thread's copy of the reservations what the budget's thread holds, although the
// thread's reports cross the main thread's messages on their way (reportFence.ts): the order of messages on the two
// ports, played out by hand and then at random against two real Reservations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BudgetChannel } from './allowance.js';
import { ReportFence } from './reportFence.js';
import { Reservations } from './reservations.js';

describe('ReportFence: erasures', () => {
  it('leaves out a report settled before the thread applied the erasure, and keeps one settled after it', () => {
    const f = new ReportFence();
    f.send(); // a consent flip: message 1
    f.erasure('ann'); // message 2
    // Settled when the thread had applied only the flip: it had not heard of the erasure.
    expect(f.stale('ann', 1)).toBe(true);
    // Settled after it applied the erasure: a new check of a customer who came back.
    expect(f.stale('ann', 2)).toBe(false);
    // Other customers are untouched.
    expect(f.stale('bob', 0)).toBe(false);
  });

  it('forgets an erasure once the thread has applied it, and a second erasure of the same customer moves the fence', () => {
    const f = new ReportFence();
    f.erasure('ann'); // 1
    f.send(); // 2
    f.applied(1);
    expect(f.erasures).toBe(0);
    expect(f.stale('ann', 0)).toBe(false);
    f.erasure('ann'); // 3
    f.erasure('ann'); // 4
    expect(f.stale('ann', 3)).toBe(true);
    f.applied(3);
    expect(f.erasures).toBe(1);
    f.applied(4);
    expect(f.erasures).toBe(0);
  });

  it('starts again from nothing for a new thread', () => {
    const f = new ReportFence();
    f.erasure('ann');
    f.touch('ann', 'email', false);
    f.reset();
    expect([f.erasures, f.touches]).toEqual([0, 0]);
    f.erasure('bob');
    expect(f.stale('bob', 0)).toBe(true);
    expect(f.stale('ann', 0)).toBe(false);
  });
});

describe('ReportFence: touches', () => {
  it('matches a touch that found no slot here with the first report of its channel settled before the touch', () => {
    const f = new ReportFence();
    f.touch('ann', 'email', true); // 1: used a slot here: nothing to match
    f.touch('ann', 'email', false); // 2
    expect(f.touches).toBe(1);
    // Another channel, another customer, a check settled after the touch: not that slot.
    expect(f.usedSince('ann', 'sms', 0)).toBe(false);
    expect(f.usedSince('bob', 'email', 0)).toBe(false);
    expect(f.usedSince('ann', 'email', 2)).toBe(false);
    // The slot the touch used on the thread, reported late: matched once.
    expect(f.usedSince('ann', 'email', 1)).toBe(true);
    expect(f.usedSince('ann', 'email', 0)).toBe(false);
    expect(f.touches).toBe(0);
  });

  it('lets a touch go once the thread has applied it', () => {
    const f = new ReportFence();
    f.touch('ann', 'email', false); // 1
    f.touch('ann', 'push', false); // 2
    f.applied(1);
    expect(f.touches).toBe(1);
    expect(f.usedSince('ann', 'email', 0)).toBe(false);
    f.applied(2);
    expect(f.touches).toBe(0);
  });
});

/**
 * Both threads' reservations, the two ports as queues, and every interleaving fast-check finds: the thread settles
 * checks (a slot each), the main thread sends touches and erasures, each side takes its next message when the run
 * says so. Once both queues are drained, the main thread's copy holds what the thread holds, key by key.
 */
describe('ReportFence keeps the two copies equal', () => {
  const NOW = Date.parse('2026-12-07T12:00:00Z');
  const IDS = ['ann', 'bob'];
  const CHANNELS: BudgetChannel[] = ['email', 'push'];
  type Op = { k: 'check' | 'touch' | 'erase'; id: number; ch: number } | { k: 'apply' | 'flush' | 'receive' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constantFrom('check' as const, 'touch' as const, 'erase' as const), id: fc.nat(IDS.length - 1), ch: fc.nat(CHANNELS.length - 1) }),
    fc.record({ k: fc.constantFrom('apply' as const, 'flush' as const, 'receive' as const) }),
  );

  type Control = { t: 'consume' | 'forget'; id: string; ch: BudgetChannel };
  type Report = { t: 'report'; id: string; ch: BudgetChannel; seen: number } | { t: 'applied'; n: number };

  function play(ops: Op[], fenced: boolean): { main: number[]; thread: number[]; left: number } {
    const limits = { maxTotal: 1_000, maxUnknown: 1_000, maxPerKey: 1_000 };
    const main = new Reservations(60_000, limits);
    const thread = new Reservations(60_000, limits);
    const fence = new ReportFence();
    const control: Control[] = [];
    const reports: Report[] = [];
    let applied = 0;
    const apply = () => {
      const m = control.shift();
      if (!m) return;
      if (m.t === 'consume') thread.consume(m.id, m.ch, NOW);
      else thread.forget(m.id);
      applied++;
    };
    const receive = () => {
      const r = reports.shift();
      if (!r) return;
      if (r.t === 'applied') return fence.applied(r.n);
      if (fence.stale(r.id, r.seen)) return;
      if (fenced && fence.usedSince(r.id, r.ch, r.seen)) return;
      main.reserve(r.id, r.ch, NOW);
    };
    for (const o of ops) {
      if (o.k === 'check') {
        thread.reserve(IDS[o.id], CHANNELS[o.ch], NOW);
        reports.push({ t: 'report', id: IDS[o.id], ch: CHANNELS[o.ch], seen: applied });
      } else if (o.k === 'touch') {
        const found = main.consume(IDS[o.id], CHANNELS[o.ch], NOW);
        fence.touch(IDS[o.id], CHANNELS[o.ch], found);
        control.push({ t: 'consume', id: IDS[o.id], ch: CHANNELS[o.ch] });
      } else if (o.k === 'erase') {
        main.forget(IDS[o.id]);
        fence.erasure(IDS[o.id]);
        control.push({ t: 'forget', id: IDS[o.id], ch: 'email' });
      } else if (o.k === 'apply') apply();
      else if (o.k === 'flush') reports.push({ t: 'applied', n: applied });
      else receive();
    }
    while (control.length) apply();
    reports.push({ t: 'applied', n: applied });
    while (reports.length) receive();
    const counts = (r: Reservations) => IDS.flatMap((id) => CHANNELS.map((ch) => r.count(id, ch, NOW)));
    return { main: counts(main), thread: counts(thread), left: fence.touches + fence.erasures };
  }

  it('holds for every interleaving of checks, touches, erasures and the two ports', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const r = play(ops, true);
        expect(r.main).toEqual(r.thread);
        expect(r.left).toBe(0);
      }),
      { numRuns: 2_000 },
    );
  });

  it('is needed: without the touches matched, a report that crossed its touch leaves a slot here that the thread used', () => {
    // The thread settles a check; the touch that uses its slot is sent before its report arrives here.
    const ops: Op[] = [{ k: 'check', id: 0, ch: 0 }, { k: 'touch', id: 0, ch: 0 }, { k: 'apply' }];
    expect(play(ops, false)).toMatchObject({ main: [1, 0, 0, 0], thread: [0, 0, 0, 0] });
    expect(play(ops, true)).toMatchObject({ main: [0, 0, 0, 0], thread: [0, 0, 0, 0] });
  });
});

describe('ReportFence over a long stream of touches', () => {
  it('keeps matching what is left after its columns were compacted, and counts what waits', () => {
    const f = new ReportFence();
    // 20,000 touches that found no slot here, the thread 500 messages behind, a report of it every 100.
    for (let i = 1; i <= 20_000; i++) {
      f.touch(`c${i % 50}`, i % 2 ? 'email' : 'push', false);
      if (i % 100 === 0 && i > 500) f.applied(i - 500);
    }
    expect(f.touches).toBe(500);
    // A slot of c7 on email reserved by a check settled after message 19,600: the first such touch is 19,607.
    expect(f.usedSince('c7', 'email', 19_600)).toBe(true);
    expect(f.touches).toBe(499);
    // c8's touches are all on push (even numbers); c7's next email touch after 19,600 is 19,657.
    expect(f.usedSince('c8', 'email', 19_600)).toBe(false);
    expect(f.usedSince('c7', 'email', 19_650)).toBe(true);
    // A report settled earlier still finds c7's first email touch left (those up to 19,500 are gone: applied there).
    expect(f.usedSince('c7', 'email', 0)).toBe(true);
    f.applied(19_700);
    expect(f.touches).toBe(300);
    f.applied(20_000);
    expect(f.touches).toBe(0);
    expect(f.usedSince('c7', 'email', 0)).toBe(false);
  });
});
