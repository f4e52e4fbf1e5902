import { describe, expect, it } from 'vitest';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import { FakeWallSource } from '../../tests/helpers/wallFakeSource.js';
import { ClientHub, type ClientContext } from './clientHub.js';
import type { WallConnection } from './transport/types.js';

class FakeConnection implements WallConnection<ClientContext> {
  readonly context: ClientContext = { role: 'responder' };
  readonly sent: string[] = [];
  buffered = 0;
  closedWith: number | null = null;
  send(text: string | Buffer): boolean {
    this.sent.push(text.toString());
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

function hub(clock: ManualClock, maxMessagesPerSecond = 5) {
  return new ClientHub({ source: new FakeWallSource(), logger: silentLogger, frameIntervalMs: 50, maxBufferedBytes: 1_000, atRiskListSize: 10, maxMessagesPerSecond, now: () => clock.now() });
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
