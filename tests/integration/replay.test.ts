// The replay of one partition's subject after its checkpoint: every message of the partition up to the bound, in
// order, however many fetches it takes, and nothing past the bound (the consumer takes over from there).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/shared/logger.js';
import { replay } from '../../src/sources/jetstream.js';
import type { InboundMessage } from '../../src/contract/pipeline.js';
import { natsConnection } from '../helpers/processor.js';

describe('replay of a partition', () => {
  const tag = randomBytes(4).toString('hex');
  const stream = `REPLAY_T${tag}`;
  const prefix = `t${tag}.events`;
  let nc: NatsConnection;
  const expected = new Map<number, number[]>();
  let last = 0;

  beforeAll(async () => {
    nc = await natsConnection();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
    const js = nc.jetstream();
    // Several fetches' worth per partition (an earlier replay stopped after the first thousand or so).
    let acks: Promise<{ p: number; seq: number }>[] = [];
    for (let i = 0; i < 18_000; i++) {
      const p = (i * 7) % 3;
      acks.push(js.publish(`${prefix}.part.${p}.page_view.c${i % 97}`, new TextEncoder().encode(String(i))).then((a) => ({ p, seq: a.seq })));
      if (acks.length >= 1_000) {
        for (const { p: k, seq } of await Promise.all(acks)) expected.set(k, [...(expected.get(k) ?? []), seq]);
        acks = [];
      }
    }
    for (const { p: k, seq } of await Promise.all(acks)) expected.set(k, [...(expected.get(k) ?? []), seq]);
    for (const seqs of expected.values()) seqs.sort((a, b) => a - b);
    last = (await jsm.streams.info(stream)).state.last_seq;
  }, 120_000);

  afterAll(async () => {
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  const run = async (filter: string, from: number, to: number, fetchBatch: number, slow = false) => {
    const seen: number[] = [];
    const config = parseConfig({ nats: { stream, subjectPrefix: prefix, fetchBatch } }).nats;
    const n = await replay(
      {
        nc,
        config,
        log: silentLogger,
        handle: (m: InboundMessage) => {
          seen.push(m.streamSeq);
          if (slow && seen.length % 10 === 0) for (const t = Date.now(); Date.now() - t < 2; );
        },
        backpressure: () => false,
        now: () => Date.now(),
      },
      from,
      to,
      filter,
    );
    expect(n).toBe(seen.length);
    return seen;
  };

  it('reads every message of the partition across many fetches, in order', async () => {
    for (const p of [0, 1, 2]) expect(await run(`${prefix}.part.${p}.>`, 1, last, 1_000)).toEqual(expected.get(p));
  });

  it('with a slow handler too', async () => {
    expect(await run(`${prefix}.part.1.>`, 1, last, 250, true)).toEqual(expected.get(1));
  });

  it('starts after the checkpoint and stops at the bound', async () => {
    const all = expected.get(2)!;
    const from = all[100];
    const to = all[4_500];
    expect(await run(`${prefix}.part.2.>`, from, to, 300)).toEqual(all.slice(100, 4_501));
  });

  it('returns at once when the partition has nothing after the checkpoint', async () => {
    expect(await run(`${prefix}.part.7.>`, 1, last, 100)).toEqual([]);
  });
});
