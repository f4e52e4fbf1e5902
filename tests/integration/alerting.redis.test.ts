// The alert engine and notifier on a real Redis: state machine, grouping, repeat interval and silences all
// survive a restart (new instances loading what the old ones persisted), with a controlled clock.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { AlertView } from '../../src/contract/frames.js';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Notification } from '../../src/alerts/grouping.js';
import { RedisGroupStore } from '../../src/alerts/groupStore.js';
import { Notifier } from '../../src/alerts/notifier.js';
import { RedisAlertStore } from '../../src/alerts/redisAlertStore.js';
import type { Silence } from '../../src/alerts/silences.js';
import { WriteBehindHash } from '../../src/alerts/writeBehindHash.js';
import { REDIS_URL } from '../helpers/processor.js';

const rules = parseConfig({
  alerts: { rules: [{ name: 'fatigue', signal: 'fatigue', subject: 'customer', op: '>=', threshold: 1.5, resolveThreshold: 1, forMs: 60_000 }] },
}).alerts.rules;
const policy = { groupBy: ['alertname', 'campaign'], groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 3_600_000 };
const sample = (value: number, campaign = 'spring') => ({ value, reasons: [`fatigue ${value}`], trigger: null, labels: { campaign } });

describe('alerting across restarts on Redis', () => {
  let redis: Redis;
  const prefix = `vigil_t${randomBytes(4).toString('hex')}:`;

  /** One "process": an engine and a notifier over Redis, as the processor builds them. */
  async function boot() {
    const store = new RedisAlertStore(redis, `${prefix}alerts`);
    await store.load();
    const sent: Notification[] = [];
    const changes: AlertView[] = [];
    const notifier = new Notifier(policy, new WriteBehindHash<Silence>(redis, `${prefix}silences`), new RedisGroupStore(redis, `${prefix}groups`), [{ send: (n) => sent.push(n) }]);
    await notifier.load();
    const engine = new AlertEngine(rules, store, (v) => {
      changes.push(v);
      notifier.onAlert(v, v.updatedAt);
    });
    const persist = () => Promise.all([store.persist(), notifier.persist()]);
    return { engine, notifier, sent, changes, persist };
  }

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('goes pending, fires after the for-duration, and a restart neither re-fires nor re-sends', async () => {
    const a = await boot();
    const c1 = { kind: 'customer' as const, key: 'c1' };
    a.engine.observe(rules[0], c1, sample(3), 0);
    a.engine.tick(60_000, () => sample(3));
    a.notifier.tick(90_000);
    expect(a.changes.map((c) => c.state)).toEqual(['pending', 'firing']);
    expect(a.sent).toHaveLength(1);
    await a.persist();

    const b = await boot();
    b.engine.tick(120_000, () => sample(3));
    b.notifier.tick(120_000);
    expect(b.changes).toEqual([]);
    expect(b.sent).toEqual([]);
    // the repeat interval is counted from the send before the restart
    b.notifier.tick(90_000 + 3_600_000);
    expect(b.sent).toHaveLength(1);
    // hysteresis: 1.2 is under the threshold but above the resolve threshold, so it keeps firing
    b.engine.tick(90_000 + 3_600_001, () => sample(1.2));
    expect(b.engine.activeCount).toBe(1);
    b.engine.tick(90_000 + 3_600_002, () => sample(0.5));
    expect(b.changes.map((c) => c.state)).toEqual(['resolved']);
    await b.persist();

    const c = await boot();
    expect(c.engine.activeCount).toBe(0);
  });

  it('keeps silences and acknowledgements through a restart', async () => {
    const a = await boot();
    const r = a.notifier.addSilence({ matchers: [{ name: 'campaign', value: 'summer', op: '=' }], startsAt: 0, endsAt: 10_000_000, createdBy: 'ana', comment: 'planned' }, 0);
    expect(r.ok).toBe(true);
    a.engine.observe({ ...rules[0], forMs: 0 }, { kind: 'customer', key: 'c2' }, sample(3, 'summer'), 1_000);
    const id = a.changes[0].id;
    a.engine.setRules([{ ...rules[0], forMs: 0 }]);
    expect(a.engine.acknowledge(id, 'ben', 2_000)).toBe(true);
    await a.persist();

    const b = await boot();
    b.engine.setRules([{ ...rules[0], forMs: 0 }]);
    expect(b.notifier.listSilences(5_000).map((s) => s.createdBy)).toEqual(['ana']);
    expect(b.notifier.silencedBy({ campaign: 'summer' }, 5_000)).toHaveLength(1);
    expect(b.engine.views().find((v) => v.id === id)?.acknowledged).toEqual({ by: 'ben', at: 2_000 });
    b.notifier.tick(1_000_000);
    expect(b.sent).toEqual([]);
  });

  it('lets one processor take the silences another wrote, keeping its own unwritten ones', async () => {
    const key = `${prefix}shared-silences`;
    const mine = new WriteBehindHash<string>(redis, key);
    const theirs = new WriteBehindHash<string>(redis, key);
    theirs.set('s1', 'from them');
    await theirs.persist();
    mine.set('s2', 'mine, not written yet');
    await mine.refresh();
    expect(Object.fromEntries(mine.entries())).toEqual({ s1: 'from them', s2: 'mine, not written yet' });
    theirs.delete('s1');
    await theirs.persist();
    await mine.refresh();
    expect(Object.fromEntries(mine.entries())).toEqual({ s2: 'mine, not written yet' });
    await mine.persist();
    expect(await redis.hgetall(key)).toEqual({ s2: JSON.stringify('mine, not written yet') });
  });
});
