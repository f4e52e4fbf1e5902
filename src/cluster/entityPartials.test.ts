// The partials publisher without a server: what it sends, in what pieces, and what it keeps when the stream is away.
import type { NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import type { EntityActivityRecord } from '../contract/outputs.js';
import { PartialsPublisher } from './entityPartials.js';

const T0 = Date.UTC(2024, 2, 1, 9, 0);

/** A connection whose JetStream publish fails while `down` is set, and records what it accepted. */
function fakeNats() {
  const sent: { subject: string; rows: unknown[][] }[] = [];
  const state = { down: false };
  const nc = {
    info: { max_payload: 1024 * 1024 },
    jetstream: () => ({
      publish: async (subject: string, data: Uint8Array) => {
        if (state.down) throw new Error('timeout');
        expect(data.byteLength).toBeLessThanOrEqual(1024 * 1024);
        sent.push({ subject, rows: (JSON.parse(Buffer.from(data).toString()) as { r: unknown[][] }).r });
        return { seq: sent.length };
      },
    }),
  } as unknown as NatsConnection;
  return { nc, sent, state };
}

const row = (key: string, minute: number, events: number, writer = 1): EntityActivityRecord => ({
  kind: 'campaign',
  key,
  eventType: 'email_sent',
  minuteMs: T0 + minute * 60_000,
  events,
  revenue: 0,
  overloaded: events > 2 ? 1 : 0,
  writer,
  version: events,
});

describe('partials publisher', () => {
  it('sends each bucket as a compact row with its identity and cumulative counts, then forgets it', async () => {
    const { nc, sent } = fakeNats();
    const p = new PartialsPublisher({ nc, subject: 'vigil.partials.entities.3' });
    p.collect(row('spring', 0, 3, 1234567890123));
    await p.flush();
    expect(sent).toEqual([{ subject: 'vigil.partials.entities.3', rows: [['campaign', 'spring', 'email_sent', T0, 3, 1, '1234567890123']] }]);
    await p.flush();
    expect(sent).toHaveLength(1);
    expect(p.pendingRows).toBe(0);
  });

  it('cuts a large flush into messages under the limit, in order', async () => {
    const { nc, sent } = fakeNats();
    const p = new PartialsPublisher({ nc, subject: 's', maxMessageBytes: 1000 });
    for (let i = 0; i < 100; i++) p.collect(row(`c${i}`, 0, 1));
    await p.flush();
    expect(sent.length).toBeGreaterThan(5);
    expect(sent.flatMap((m) => m.rows.map((r) => r[1]))).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`));
    expect(p.published).toBe(100);
  });

  it('keeps what failed for the next flush, older rows first, and rejects so the commit does not pass it', async () => {
    const { nc, sent, state } = fakeNats();
    const p = new PartialsPublisher({ nc, subject: 's' });
    p.collect(row('a', 0, 1));
    state.down = true;
    await expect(p.flush()).rejects.toMatchObject({ code: 'NATS_UNAVAILABLE' });
    p.collect(row('a', 0, 2));
    expect(p.pendingRows).toBe(2);
    state.down = false;
    await p.flush();
    expect(sent.flatMap((m) => m.rows.map((r) => r[4]))).toEqual([1, 2]);
    expect(p.failures).toBe(1);
  });

  it('above its bound during an outage keeps the latest row of each bucket, then the newest minutes', async () => {
    const { nc, sent, state } = fakeNats();
    const p = new PartialsPublisher({ nc, subject: 's', maxPending: 10 });
    state.down = true;
    // One bucket growing: its cumulative rows collapse into the last one.
    for (let n = 1; n <= 11; n++) p.collect(row('grow', 0, n));
    expect(p.pendingRows).toBe(1);
    // Distinct buckets beyond the bound: the oldest minutes go.
    for (let m = 1; m <= 11; m++) p.collect(row('other', m, 1));
    expect(p.pendingRows).toBeLessThanOrEqual(10);
    state.down = false;
    await p.flush();
    const rows = sent.flatMap((x) => x.rows);
    const minutes = rows.map((r) => ((r[3] as number) - T0) / 60_000);
    expect(Math.max(...minutes)).toBe(11); // the newest are kept
    expect(p.dropped).toBe(12 - rows.length);
  });
});
