// The real server's JetStream errors are recognised by src/shared/natsErrors.ts, and the code paths that treat
// "not there" as an answer (stream creation, stream message deletes) take them as such.
import { randomBytes } from 'node:crypto';
import { StorageType, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreamMessages } from '../../src/privacy/erasure.js';
import { ensureStream } from '../../src/sources/jetstream.js';
import { isMessageGone, isNoMessageFound, isStreamNotFound, isWrongLastSequence } from '../../src/shared/natsErrors.js';
import { silentLogger } from '../../src/shared/logger.js';
import { natsConnection } from '../helpers/processor.js';

/** The error a call rejects with (the test fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the call to be refused');
    },
    (err: unknown) => err,
  );
}

describe('NATS errors from the real server, by code', () => {
  const tag = randomBytes(4).toString('hex').toUpperCase();
  const stream = `NATSERR_${tag}`;
  const subject = `natserr${tag}.a`;
  const created = `NATSERR_NEW_${tag}`;
  const racing = `NATSERR_RACE_${tag}`;
  const bucket = `natserr_${tag}`;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nc = await natsConnection();
    jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [`natserr${tag}.>`], storage: StorageType.File });
    for (let i = 0; i < 5; i++) await nc.jetstream().publish(subject, new Uint8Array([i]));
  });

  afterAll(async () => {
    for (const s of [stream, created, `KV_${bucket}`]) await jsm.streams.delete(s).catch(() => false);
    await nc.close();
  });

  it('a missing stream', async () => {
    const err = await rejection(jsm.streams.info(`NATSERR_NONE_${tag}`));
    expect(isStreamNotFound(err)).toBe(true);
    expect([isNoMessageFound(err), isWrongLastSequence(err)]).toEqual([false, false]);
    expect(isStreamNotFound(await rejection(jsm.consumers.info(stream, 'none')))).toBe(false);
  });

  it('ensureStream creates a stream the server says is missing', async () => {
    await ensureStream(jsm, { stream: created, subjectPrefix: `natserrnew${tag}`, maxAgeMs: 3_600_000, maxBytes: -1, duplicateWindowMs: 60_000 }, silentLogger);
    expect((await jsm.streams.info(created)).config.subjects).toEqual([`natserrnew${tag}.>`]);
  });

  it('ensureStream from processors starting together: every one finds the stream, created once', async () => {
    // Each on a connection of its own, as processors are: between one's look and its add another has created it.
    const conns = await Promise.all(Array.from({ length: 6 }, () => natsConnection()));
    try {
      for (let round = 0; round < 5; round++) {
        const name = `${racing}_${round}`;
        const settings = { stream: name, subjectPrefix: `natserrrace${tag}r${round}`, maxAgeMs: 3_600_000, maxBytes: -1, duplicateWindowMs: 60_000 };
        const managers = await Promise.all(conns.map((c) => c.jetstreamManager()));
        await Promise.all(managers.map((m) => ensureStream(m, settings, silentLogger)));
        expect((await jsm.streams.info(name)).config.subjects).toEqual([`${settings.subjectPrefix}.>`]);
      }
    } finally {
      for (let round = 0; round < 5; round++) await jsm.streams.delete(`${racing}_${round}`).catch(() => false);
      await Promise.all(conns.map((c) => c.close()));
    }
  });

  it('a get with nothing stored', async () => {
    const err = await rejection(jsm.streams.getMessage(stream, { seq: 99 }));
    expect(isNoMessageFound(err)).toBe(true);
    expect(isStreamNotFound(err)).toBe(false);
  });

  it('a refused KV create and update', async () => {
    const kv = await nc.jetstream().views.kv(bucket, { history: 1 });
    const rev = await kv.create('k', new Uint8Array([1]));
    expect(isWrongLastSequence(await rejection(kv.create('k', new Uint8Array([2]))))).toBe(true);
    expect(isWrongLastSequence(await rejection(kv.update('k', new Uint8Array([2]), rev + 7)))).toBe(true);
  });

  it('deletes of a deleted, a purged and a past-the-end sequence', async () => {
    await jsm.streams.deleteMessage(stream, 2, true);
    const deleted = await rejection(jsm.streams.deleteMessage(stream, 2, true));
    await jsm.streams.purge(stream, { seq: 2 });
    const purged = await rejection(jsm.streams.deleteMessage(stream, 1, true));
    const pastEnd = await rejection(jsm.streams.deleteMessage(stream, 99, true));
    expect([isMessageGone(deleted), isMessageGone(purged), isMessageGone(pastEnd)]).toEqual([true, true, false]);
    // The erasure's delete counts what it removed and takes the gone ones as nothing.
    expect(await deleteStreamMessages(jsm, stream, [1, 2, 3, 4])).toBe(2);
    await expect(deleteStreamMessages(jsm, stream, [99])).rejects.toThrow();
  });
});
