// Notification groups on a real Redis, each alert a field of its group's hash: a group reads back as it was written;
// a persist writes the alerts replaced since the last one and deletes those that left, and leaves the others as they
// are; a group written whole by an earlier version loads and is rewritten in this form; a write whose reply was lost
// makes the next one write the group's alerts afresh, so no alert that left stays behind.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/contract/frames.js';
import type { GroupState } from '../../src/alerts/grouping.js';
import { RedisGroupStore } from '../../src/alerts/groupStore.js';
import { REDIS_URL } from '../helpers/processor.js';
import { turnsDuring } from '../../src/shared/slices.testing.js';

function view(customer: string, value = 3): AlertView {
  return {
    id: `id-${customer}`, fingerprint: `fp-${customer}`, rule: 'customer_contact_fatigue', severity: 'warning', state: 'firing', subject: { kind: 'customer', key: customer }, value, threshold: 1.5,
    reasons: [`${value} emails in 24 h`, 'ünï\ncode "quoted"'], labels: { alertname: 'customer_contact_fatigue', campaign: 'spring' },
    summary: `fatigue ${value} >= 1.5`, startsAt: 1, updatedAt: 2, endsAt: null, acknowledged: null, trigger: null,
  };
}

function group(key: string, customers: string[]): GroupState {
  return { key, labels: { alertname: 'customer_contact_fatigue', campaign: key }, alerts: Object.fromEntries(customers.map((c) => [`fp-${c}`, view(c)])), createdAt: 10, changedAt: 20, lastSentAt: 30, lastSentDigest: '2:ab:cd' };
}

const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('RedisGroupStore', () => {
  let redis: Redis;
  let prefix = '';
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(() => redis.disconnect());
  const fresh = () => {
    prefix = `vigil_t${randomBytes(4).toString('hex')}:groups`;
    return new RedisGroupStore(redis, prefix);
  };
  const cleanUp = async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  };

  it('reads back what it wrote, and writes only what changed since', async () => {
    const store = fresh();
    try {
      const g = group('spring', ['a', 'b', 'c']);
      store.set(g.key, g);
      store.set('autumn', group('autumn', ['d']));
      await store.persist();
      expect(store.error).toBeNull();
      // The head holds no alert; the alerts hash one field per fingerprint.
      expect(JSON.parse((await redis.hget(prefix, 'spring'))!)).not.toHaveProperty('alerts');
      expect((await redis.hkeys(store.alertsKey('spring'))).sort()).toEqual(['fp-a', 'fp-b', 'fp-c']);
      const loaded = new RedisGroupStore(redis, prefix);
      expect(await loaded.load()).toBe(2);
      expect(plain(loaded.get('spring'))).toEqual(plain(g));

      // A mark on b's field: a persist that rewrote b would remove it.
      await redis.hset(store.alertsKey('spring'), 'fp-b', JSON.stringify({ ...view('b'), summary: 'untouched' }));
      g.alerts['fp-a'] = view('a', 9);
      delete g.alerts['fp-c'];
      g.alerts['fp-e'] = view('e');
      g.changedAt = 40;
      store.set(g.key, g);
      await store.persist();
      expect((await redis.hkeys(store.alertsKey('spring'))).sort()).toEqual(['fp-a', 'fp-b', 'fp-e']);
      expect((JSON.parse((await redis.hget(store.alertsKey('spring'), 'fp-b'))!) as AlertView).summary).toBe('untouched');
      expect((JSON.parse((await redis.hget(store.alertsKey('spring'), 'fp-a'))!) as AlertView).value).toBe(9);
      expect((JSON.parse((await redis.hget(prefix, 'spring'))!) as GroupState).changedAt).toBe(40);
      // An untouched group is not written at all, and a group deleted leaves both its head and its alerts.
      store.delete('autumn');
      await store.persist();
      expect(await redis.hkeys(prefix)).toEqual(['spring']);
      expect(await redis.exists(store.alertsKey('autumn'))).toBe(0);
    } finally {
      await cleanUp();
    }
  });

  it('loads a group written whole by an earlier version and rewrites it in this form', async () => {
    const store = fresh();
    try {
      const old = group('legacy', ['a', 'b']);
      await redis.hset(prefix, 'legacy', JSON.stringify(old));
      expect(await store.load()).toBe(1);
      expect(plain(store.get('legacy'))).toEqual(plain(old));
      await store.persist();
      expect(JSON.parse((await redis.hget(prefix, 'legacy'))!)).not.toHaveProperty('alerts');
      expect((await redis.hkeys(store.alertsKey('legacy'))).sort()).toEqual(['fp-a', 'fp-b']);
      const again = new RedisGroupStore(redis, prefix);
      await again.load();
      expect(plain(again.get('legacy'))).toEqual(plain(old));
    } finally {
      await cleanUp();
    }
  });

  it('after a write whose reply was lost, writes the group afresh: an alert that left meanwhile does not stay', async () => {
    // A Redis whose next EXEC runs but answers with an error, as a connection lost after the server applied it.
    let loseReply = false;
    const flaky = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop !== 'multi') return Reflect.get(target, prop, receiver) as unknown;
        return () => {
          const tx = target.multi();
          const exec = tx.exec.bind(tx);
          tx.exec = (async () => {
            const r = await exec();
            if (loseReply) {
              loseReply = false;
              throw new Error('Connection is closed.');
            }
            return r;
          }) as typeof tx.exec;
          return tx;
        };
      },
    });
    const store = fresh();
    const flakyStore = new RedisGroupStore(flaky, prefix);
    try {
      const g = group('spring', ['a']);
      flakyStore.set(g.key, g);
      await flakyStore.persist();
      g.alerts['fp-b'] = view('b');
      flakyStore.set(g.key, g);
      loseReply = true;
      await flakyStore.persist();
      expect(flakyStore.error).toMatch(/^Redis write failed, 1 groups waiting: Connection is closed/);
      // b leaves before the next write; Redis holds b from the write that landed.
      delete g.alerts['fp-b'];
      flakyStore.set(g.key, g);
      await flakyStore.persist();
      expect(flakyStore.error).toBeNull();
      expect(await redis.hkeys(store.alertsKey('spring'))).toEqual(['fp-a']);
      await store.load();
      expect(Object.keys(store.get('spring')!.alerts)).toEqual(['fp-a']);
    } finally {
      await cleanUp();
    }
  });

  it('writes a storm group ahead in slices of the event loop, and what changed between the slices as it is at the write', async () => {
    fresh();
    // Slices of 0 ms: a turn every 64 alerts, whatever the machine's speed.
    const store = new RedisGroupStore(redis, prefix, 0);
    try {
      const customers = Array.from({ length: 20_000 }, (_, i) => `c${i}`);
      const g = group('storm', customers);
      store.set(g.key, g);
      // Between two slices of the JSON written ahead: one alert replaced, one gone, one new; the group marked again.
      const turns = await turnsDuring(
        () => store.persist(),
        (turn) => {
          if (turn !== 2) return;
          g.alerts['fp-c0'] = view('c0', 42);
          delete g.alerts['fp-c1'];
          g.alerts['fp-new'] = view('new');
          store.set(g.key, g);
        },
      );
      expect(store.error).toBeNull();
      // 20,000 alerts, 64 a slice: the loop turned while their JSON was written.
      expect(turns).toBeGreaterThanOrEqual(300);
      const loaded = new RedisGroupStore(redis, prefix);
      await loaded.load();
      expect(plain(loaded.get('storm'))).toEqual(plain(g));
      expect(JSON.parse((await redis.hget(store.alertsKey('storm'), 'fp-c0'))!).value).toBe(42);
      expect(await redis.hexists(store.alertsKey('storm'), 'fp-c1')).toBe(0);
    } finally {
      await cleanUp();
    }
  });

  it('holds Redis to memory through a seeded run of changes, two writes at a time now and then, and groups that go and come back', async () => {
    const store = fresh();
    try {
      let seed = 7;
      const rand = (k: number) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % k;
      };
      const groups = new Map<string, GroupState>();
      for (let round = 0; round < 60; round++) {
        for (let k = 0; k < 8; k++) {
          const key = `g${rand(4)}`;
          const op = rand(10);
          if (op === 0) {
            groups.delete(key);
            store.delete(key);
            continue;
          }
          const g = groups.get(key) ?? group(key, []);
          groups.set(key, g);
          const c = `c${rand(30)}`;
          if (op < 4) delete g.alerts[`fp-${c}`];
          else g.alerts[`fp-${c}`] = view(c, rand(100));
          store.set(key, g);
        }
        // Now and then a second write starts before the first has landed (the wall's beside the commit's).
        if (rand(4) === 0) await Promise.all([store.persist(), store.persist()]);
        else await store.persist();
      }
      await store.persist();
      const loaded = new RedisGroupStore(redis, prefix);
      expect(await loaded.load()).toBe(groups.size);
      for (const [key, g] of groups) expect(plain(loaded.get(key))).toEqual(plain(g));
    } finally {
      await cleanUp();
    }
  });
});
