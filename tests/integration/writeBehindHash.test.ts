// The write-behind hash on a real Redis when its JSON is written ahead in slices of the event loop: what changes
// between the slices is written as it is when the MULTI is built, never as the JSON written ahead of it, and a key
// taken out between the slices (an erasure) is deleted, not written back.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteBehindHash } from '../../src/alerts/writeBehindHash.js';
import { REDIS_URL } from '../helpers/processor.js';
import { turnsDuring } from '../../src/shared/slices.testing.js';

interface Rec {
  v: number;
}

/** Slices of 0 ms: a turn of the event loop after every key's JSON, whatever the machine's speed. */
const json = (r: Rec): string => JSON.stringify(r);
const EVERY_KEY = 0;

describe('WriteBehindHash, JSON written ahead in slices', () => {
  let redis: Redis;
  const key = `vigil_t${randomBytes(4).toString('hex')}:wbh`;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('writes each key as it is when the MULTI is built: set, replaced in place and set, or deleted between the slices', async () => {
    const hash = new WriteBehindHash<Rec>(redis, key, json, EVERY_KEY);
    for (let i = 0; i < 400; i++) hash.set(`k${i}`, { v: i });
    // The first keys' JSON is written in the first slices; then, between two slices, they change.
    const turns = await turnsDuring(
      () => hash.persist(),
      (turn) => {
        if (turn !== 2) return;
        hash.set('k0', { v: -1 });
        const inPlace = hash.get('k1')!;
        inPlace.v = -2;
        hash.set('k1', inPlace);
        hash.delete('k2');
        hash.set('late', { v: 7 });
      },
    );
    expect(hash.error).toBeNull();
    expect(turns).toBeGreaterThanOrEqual(399);
    const stored = await redis.hgetall(key);
    expect(JSON.parse(stored.k0)).toEqual({ v: -1 });
    expect(JSON.parse(stored.k1)).toEqual({ v: -2 });
    expect(stored.k2).toBeUndefined();
    expect(JSON.parse(stored.late)).toEqual({ v: 7 });
    expect(Object.keys(stored)).toHaveLength(400);
    expect(hash.pendingWrites).toBe(0);
  });

  it('two persists at once both finish, and Redis ends with the latest value of every key', async () => {
    await redis.del(key);
    const hash = new WriteBehindHash<Rec>(redis, key, json, EVERY_KEY);
    for (let i = 0; i < 300; i++) hash.set(`k${i}`, { v: i });
    const first = hash.persist();
    // While the first writes its JSON ahead: new values, and a second persist (the wall's, beside the commit's).
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 300; i += 3) hash.set(`k${i}`, { v: 1000 + i });
    hash.delete('k1');
    const second = hash.persist();
    await Promise.all([first, second]);
    expect(hash.error).toBeNull();
    expect(hash.pendingWrites).toBe(0);
    const stored = await redis.hgetall(key);
    for (let i = 0; i < 300; i++) {
      if (i === 1) expect(stored.k1).toBeUndefined();
      else expect(JSON.parse(stored[`k${i}`])).toEqual({ v: i % 3 === 0 ? 1000 + i : i });
    }
  });
});
