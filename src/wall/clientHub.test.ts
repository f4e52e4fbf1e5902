import { describe, expect, it } from 'vitest';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import { FakeWallSource } from '../../tests/helpers/wallFakeSource.js';
import { buildAlert, buildStats } from '../../tests/helpers/wallFixtures.js';
import { ClientHub, type ClientContext } from './clientHub.js';
import type { WallConnection } from './transport/types.js';

class FakeConnection implements WallConnection<ClientContext> {
  readonly context: ClientContext = { role: 'responder' };
  readonly sent: string[] = [];
  /** Each message with the manual clock's time when it was sent, summarised: a flush as its frames, e.g. 'stats:2', 'alert:a1:firing'. */
  readonly log: [number, string | string[]][] = [];
  buffered = 0;
  closedWith: number | null = null;
  constructor(private readonly clock?: ManualClock) {}
  send(text: string | Buffer): boolean {
    this.sent.push(text.toString());
    const message = JSON.parse(text.toString()) as Frame | Frame[];
    this.log.push([this.clock?.now() ?? Number.NaN, Array.isArray(message) ? message.map(summary) : summary(message)]);
    return true;
  }
  bufferedAmount(): number {
    return this.buffered;
  }
  close(code: number): void {
    this.closedWith = code;
  }
  replies(type: string): Record<string, unknown>[] {
    return this.sent.map((t) => JSON.parse(t) as Record<string, unknown>).filter((m) => !Array.isArray(m) && m.type === type);
  }
}

type Frame = { type: string; stats?: { eventsPerSec: number }; alert?: { id: string; state: string; value: number }; silences?: unknown[] };

function summary(frame: Frame): string {
  if (frame.type === 'stats') return `stats:${frame.stats!.eventsPerSec}`;
  if (frame.type === 'alert') return `alert:${frame.alert!.id}:${frame.alert!.state}:${frame.alert!.value}`;
  if (frame.type === 'silences') return `silences:${frame.silences!.length}`;
  return frame.type;
}

function hub(clock: ManualClock, maxMessagesPerSecond = 5, source = new FakeWallSource(), alertIntervalMs?: number) {
  return new ClientHub({ source, logger: silentLogger, frameIntervalMs: 50, alertIntervalMs, maxBufferedBytes: 1_000, atRiskListSize: 10, maxMessagesPerSecond, clock });
}

describe('ClientHub: bounded work per client', () => {
  it('sends no reply to a client over maxBufferedBytes, and closes it (1008) when it keeps sending', () => {
    const clock = new ManualClock(0);
    const h = hub(clock, 1_000);
    const conn = new FakeConnection();
    h.open(conn);
    h.message(conn, '{"type":"ping"}');
    expect(conn.replies('pong')).toHaveLength(1);
    conn.buffered = 1_001;
    for (let i = 0; i < 8; i++) h.message(conn, '{"type":"ping"}');
    expect(conn.replies('pong')).toHaveLength(1);
    expect(conn.closedWith).toBeNull();
    h.message(conn, '{"type":"ping"}');
    expect(conn.closedWith).toBe(1008);
    expect(h.size).toBe(0);
  });

  it('lets a burst of 4 seconds through, then drops with one RATE_LIMITED error a second, and closes a client that keeps on', () => {
    const clock = new ManualClock(0);
    const h = hub(clock, 5);
    const conn = new FakeConnection();
    h.open(conn);
    for (let i = 0; i < 25; i++) h.message(conn, '{"type":"ping"}');
    expect(conn.replies('pong')).toHaveLength(20);
    expect(conn.replies('error')).toEqual([expect.objectContaining({ code: 'RATE_LIMITED' })]);
    clock.advance(1_000);
    for (let i = 0; i < 7; i++) h.message(conn, '{"type":"ping"}');
    // Five refilled in a second; the rest dropped with a second error, a second later.
    expect(conn.replies('pong')).toHaveLength(25);
    expect(conn.replies('error')).toHaveLength(2);
    expect(conn.closedWith).toBeNull();
    for (let i = 0; i < 20; i++) h.message(conn, '{"type":"ping"}');
    expect(conn.closedWith).toBe(1008);
  });

  it('does not echo an unknown message type', () => {
    const h = hub(new ManualClock(0));
    const conn = new FakeConnection();
    h.open(conn);
    h.message(conn, JSON.stringify({ type: 'x'.repeat(10_000) }));
    const [error] = conn.replies('error');
    expect(error.code).toBe('BAD_REQUEST');
    expect(String(error.message)).not.toContain('xxx');
  });
});

describe('ClientHub: two lanes on one clock (frameIntervalMs 50)', () => {
  /** A started hub with one open client whose hello and snapshot are already read. */
  function setup(clients = 1, alertIntervalMs?: number) {
    const clock = new ManualClock(1_000);
    const source = new FakeWallSource();
    const h = hub(clock, 5, source, alertIntervalMs);
    h.start();
    const conns = Array.from({ length: clients }, () => new FakeConnection(clock));
    for (const conn of conns) {
      h.open(conn);
      expect(conn.log).toEqual([
        [1_000, 'hello'],
        [1_000, 'snapshot'],
      ]);
      conn.log.length = 0;
    }
    const stats = (eventsPerSec: number) => source.push({ type: 'stats', stats: buildStats({ eventsPerSec }) });
    const alert = (id: string, state: 'pending' | 'firing' | 'resolved', value = 1) => source.push({ type: 'alert', alert: buildAlert({ id, state, value }) });
    return { clock, source, h, conns, conn: conns[0], stats, alert };
  }

  it('sends the first stats frame after a quiet spell on the next turn, then holds stats for the interval, coalesced to the latest', () => {
    const { clock, conn, stats } = setup();
    stats(1);
    expect(conn.log).toEqual([]);
    clock.advance(0);
    expect(conn.log).toEqual([[1_000, ['stats:1']]]);
    clock.advance(10);
    stats(2);
    stats(3);
    clock.advance(39);
    expect(conn.log).toHaveLength(1);
    clock.advance(1);
    expect(conn.log).toEqual([
      [1_000, ['stats:1']],
      [1_050, ['stats:3']],
    ]);
    // Quiet for longer than an interval: the leading edge again.
    clock.advance(200);
    stats(4);
    clock.advance(0);
    expect(conn.log.at(-1)).toEqual([1_250, ['stats:4']]);
  });

  it('sends an alert change on the next turn while stats wait, carrying the pending stats along in the same message', () => {
    const { clock, conn, stats, alert } = setup();
    stats(1);
    clock.advance(0);
    clock.advance(10);
    stats(2);
    clock.advance(10);
    alert('a-now', 'firing');
    clock.advance(0);
    expect(conn.log).toEqual([
      [1_000, ['stats:1']],
      [1_020, ['stats:2', 'alert:a-now:firing:1']],
    ]);
    // The stats lane's timer finds nothing left to send: the next message is the next change's.
    clock.advance(500);
    expect(conn.log).toHaveLength(2);
    stats(3);
    clock.advance(0);
    expect(conn.log.at(-1)).toEqual([1_520, ['stats:3']]);
  });

  it('sends a silence change on the next turn, just like an alert', async () => {
    const { clock, source, conn, stats } = setup();
    stats(1);
    clock.advance(0);
    clock.advance(5);
    await source.addSilence({ matchers: [{ name: 'alertname', op: '=', value: 'customer_churn_risk' }], startsAt: 0, endsAt: Date.now() + 60_000, createdBy: 'sam', comment: 'test' });
    clock.advance(0);
    expect(conn.log).toEqual([
      [1_000, ['stats:1']],
      [1_005, ['silences:1']],
    ]);
  });

  it('paces a storm of alerts by alertIntervalMs, not by the stats interval, while stats keep theirs', () => {
    const { clock, conn, alert, stats } = setup(1, 10);
    alert('a1', 'firing');
    clock.advance(0);
    // Alert changes every 2 ms for 40 ms: one message per 10 ms, not one per 50 ms (the round of 1_040 comes just
    // after that instant's flush, so it leaves at 1_050).
    for (let round = 1; round <= 20; round++) {
      clock.advance(2);
      alert('a1', 'firing', round);
    }
    clock.advance(10);
    expect(conn.log.map(([at]) => at)).toEqual([1_000, 1_010, 1_020, 1_030, 1_040, 1_050]);
    expect(conn.log.at(-1)).toEqual([1_050, ['alert:a1:firing:20']]);
    // Stats keep frameIntervalMs: the first leaves on the next turn, the next one a whole 50 ms later.
    stats(1);
    clock.advance(0);
    stats(2);
    clock.advance(49);
    expect(conn.log.at(-1)).toEqual([1_050, ['stats:1']]);
    clock.advance(1);
    expect(conn.log.at(-1)).toEqual([1_100, ['stats:2']]);
  });

  it('holds alerts back only in a storm, for the rest of the interval, keeping one frame per alert id with its latest state', () => {
    const { clock, conn, alert } = setup();
    alert('a1', 'pending');
    clock.advance(0);
    clock.advance(10);
    alert('a1', 'firing');
    alert('a2', 'firing');
    alert('a1', 'resolved');
    clock.advance(39);
    expect(conn.log).toEqual([[1_000, ['alert:a1:pending:1']]]);
    clock.advance(1);
    expect(conn.log).toEqual([
      [1_000, ['alert:a1:pending:1']],
      [1_050, ['alert:a1:resolved:1', 'alert:a2:firing:1']],
    ]);
    // A storm of 5 alerts changing every 5 ms from 1_055 to 1_250: one message per interval, each alert once, at its
    // latest value (the round of 1_250 comes just after that instant's flush, so it leaves an interval later).
    for (let round = 1; round <= 40; round++) {
      clock.advance(5);
      for (let id = 0; id < 5; id++) alert(`s${id}`, 'firing', round);
    }
    clock.advance(100);
    const storm = conn.log.slice(2);
    expect(storm.map(([at]) => at)).toEqual([1_100, 1_150, 1_200, 1_250, 1_300]);
    for (const [, frames] of storm) expect(new Set(frames).size).toBe(5);
    expect(storm.at(-1)![1]).toEqual([0, 1, 2, 3, 4].map((id) => `alert:s${id}:firing:40`));
    // Quiet again for an interval: the next alert leaves on the next turn.
    alert('a3', 'firing');
    clock.advance(0);
    expect(conn.log.at(-1)).toEqual([1_350, ['alert:a3:firing:1']]);
  });

  it('skips a client over maxBufferedBytes without holding the others, then resyncs it with a fresh snapshot once it drains', () => {
    const { clock, source, h, conns, alert } = setup(2);
    const [fast, slow] = conns;
    slow.buffered = 1_001;
    alert('a1', 'firing', 1);
    clock.advance(0);
    clock.advance(20);
    alert('a1', 'firing', 2);
    clock.advance(30);
    expect(fast.log).toEqual([
      [1_000, ['alert:a1:firing:1']],
      [1_050, ['alert:a1:firing:2']],
    ]);
    expect(slow.log).toEqual([]);
    // Still behind: checked again every interval even with no news, and skipped.
    clock.advance(50);
    expect(slow.log).toEqual([]);
    slow.buffered = 0;
    const snapshotsBefore = source.snapshotCalls;
    clock.advance(50);
    // Not the frames it missed but the current state, in one snapshot; the fast client gets nothing for it.
    expect(slow.log).toEqual([[1_150, 'snapshot']]);
    expect((JSON.parse(slow.sent.at(-1)!) as { alerts: { id: string; value: number }[] }).alerts).toEqual([expect.objectContaining({ id: 'a1', value: 2 })]);
    expect(source.snapshotCalls).toBe(snapshotsBefore + 1);
    expect(fast.log).toHaveLength(2);
    // Back in step: both get the next flush.
    clock.advance(100);
    alert('a2', 'pending');
    clock.advance(0);
    expect(slow.log.at(-1)).toEqual([1_250, ['alert:a2:pending:1']]);
    expect(fast.log.at(-1)).toEqual([1_250, ['alert:a2:pending:1']]);
    h.stop();
    expect(clock.pending()).toBe(0);
  });

  it('never holds a frame longer than one interval when the clock is set back', () => {
    const { clock, conn, stats } = setup();
    stats(1);
    clock.advance(0);
    clock.set(0);
    stats(2);
    clock.advance(50);
    expect(conn.log).toEqual([
      [1_000, ['stats:1']],
      [50, ['stats:2']],
    ]);
  });

  it('dates a silence sent without startsAt by the clock it was given', async () => {
    const clock = new ManualClock(123_456);
    const source = new FakeWallSource();
    const h = hub(clock, 5, source);
    const conn = new FakeConnection(clock);
    h.open(conn);
    h.message(conn, JSON.stringify({ type: 'silence', matchers: [{ name: 'alertname', op: '=', value: 'x' }], endsAt: Date.now() + 60_000, comment: 'why' }));
    await Promise.resolve();
    expect(source.silenceRequests.map((input) => input.startsAt)).toEqual([123_456]);
  });

  it('stamps hello and pong with the clock it was given', () => {
    const clock = new ManualClock(123_456);
    const h = hub(clock);
    const conn = new FakeConnection(clock);
    h.open(conn);
    h.message(conn, '{"type":"ping"}');
    expect(conn.replies('hello')[0].serverTime).toBe(123_456);
    expect(conn.replies('pong')[0].serverTime).toBe(123_456);
  });
});
