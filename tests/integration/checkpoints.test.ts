import { createHash, randomBytes } from 'node:crypto';
import { StorageType } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { natsCheckpointStore } from '../../src/state/checkpointStore.js';
import { packSnapshot, unpackSnapshot } from '../../src/shared/snapshotCodec.js';
import { natsConnection } from '../helpers/processor.js';

const nc = await natsConnection();
const bucket = `vigil_cp_test_${randomBytes(4).toString('hex')}`;
afterAll(async () => {
  await (await nc.jetstreamManager()).streams.delete(`OBJ_${bucket}`).catch(() => undefined);
  await nc.close();
});

function blobOf(bytes: number, seed: number): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('checkpoint store', () => {
  it('gives back the latest checkpoint byte for byte, over several chunks, and none before the first', async () => {
    const store = await natsCheckpointStore(nc, bucket, 'proc-a');
    expect(await store.load()).toBeNull();
    await store.save(blobOf(2_500_000, 1));
    const second = blobOf(3_200_001, 2);
    await store.save(second);
    expect(Buffer.compare(Buffer.from((await store.load())!), Buffer.from(second))).toBe(0);
    // the first checkpoint's chunks are gone: the stream holds the second's chunks and one info message
    const info = await (await nc.jetstreamManager()).streams.info(`OBJ_${bucket}`);
    expect(info.state.messages).toBe(4 + 1);
  });

  it('writes the object store format: nats.js reads what it saves, and it reads what nats.js put', async () => {
    const store = await natsCheckpointStore(nc, bucket, 'proc-b');
    const os = await nc.jetstream().views.os(bucket, { storage: StorageType.File });
    const ours = blobOf(1_300_000, 3);
    await store.save(ours);
    expect(Buffer.compare(Buffer.from((await os.getBlob('proc-b'))!), Buffer.from(ours))).toBe(0);
    const theirs = blobOf(700_000, 4);
    await os.putBlob({ name: 'proc-b', options: { max_chunk_size: 128 * 1024 } }, theirs);
    expect(Buffer.compare(Buffer.from((await store.load())!), Buffer.from(theirs))).toBe(0);
  });

  it('stores a packed checkpoint with the digest its packing hashed, which nats.js and its own load verify', async () => {
    const store = await natsCheckpointStore(nc, bucket, 'proc-e');
    const plain = blobOf(3_000_000, 7);
    const packed = await packSnapshot(plain);
    expect(Buffer.from(packed.sha256).toString('hex')).toBe(createHash('sha256').update(packed.bytes).digest('hex'));
    await store.save(packed.bytes, packed.sha256);
    const loaded = (await store.load())!;
    expect(Buffer.compare(Buffer.from(unpackSnapshot(loaded)), Buffer.from(plain))).toBe(0);
    const os = await nc.jetstream().views.os(bucket, { storage: StorageType.File });
    expect(Buffer.compare(Buffer.from((await os.getBlob('proc-e'))!), Buffer.from(packed.bytes))).toBe(0);
  });

  it('refuses a checkpoint whose bytes do not match its digest', async () => {
    const store = await natsCheckpointStore(nc, bucket, 'proc-c');
    await store.save(blobOf(10_000, 5));
    const os = await nc.jetstream().views.os(bucket, { storage: StorageType.File });
    const info = (await os.info('proc-c'))!;
    // replace the one chunk with other bytes of the same size
    await (await nc.jetstreamManager()).streams.purge(`OBJ_${bucket}`, { filter: `$O.${bucket}.C.${info.nuid}` });
    await nc.jetstream().publish(`$O.${bucket}.C.${info.nuid}`, blobOf(10_000, 6));
    await expect(store.load()).rejects.toThrow(/digest/);
  });

  it('stores an empty state and forgets on delete', async () => {
    const store = await natsCheckpointStore(nc, bucket, 'proc-d');
    await store.save(new Uint8Array(0));
    expect((await store.load())!.byteLength).toBe(0);
    await store.delete();
    expect(await store.load()).toBeNull();
  });
});
