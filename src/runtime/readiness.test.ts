// /readyz as the operator reads it: every dependency's check, the first failure's reason, the checkpoint age.
import { describe, expect, it } from 'vitest';
import { readiness, redisState, type ReadinessReadings } from './readiness.js';

const ok = (detail: string) => ({ ok: true, detail });
const store = (state: { ok: boolean; detail: string }) => ({ state: () => state });

function readings(over: Partial<ReadinessReadings> = {}): ReadinessReadings {
  return {
    natsConnected: true,
    notifierError: null,
    consentError: null,
    alertStores: [store(ok('3 active alerts persisted'))],
    clickhouse: ok('inserting'),
    schema: { ready: true, detail: 'schema ready' },
    consumer: ok('consuming EVENTS/vigil'),
    extra: {},
    checkpointsAt: [1_000],
    now: 31_000,
    modelVersion: 'bgnbd-gg:config',
    ...over,
  };
}

describe('readiness', () => {
  it('is ready when every check is, in the order nats, redis, clickhouse, consumer, then the mode’s own', () => {
    const r = readiness(readings({ extra: { combiner: ok('12 buckets combined') } }));
    expect(r.ready).toBe(true);
    expect(Object.keys(r.checks)).toEqual(['nats', 'redis', 'clickhouse', 'consumer', 'combiner']);
    expect(r.checks.redis).toEqual(ok('3 active alerts persisted'));
    expect(r.checkpointAgeMs).toBe(30_000);
    expect(r.modelVersion).toBe('bgnbd-gg:config');
  });

  it('is not ready when any one check fails, and says why', () => {
    expect(readiness(readings({ natsConnected: false })).checks.nats).toEqual({ ok: false, detail: 'disconnected, reconnecting' });
    expect(readiness(readings({ natsConnected: false })).ready).toBe(false);
    expect(readiness(readings({ consumer: { ok: false, detail: 'not consuming' } })).ready).toBe(false);
    expect(readiness(readings({ extra: { combiner: { ok: false, detail: 'reading the partials stream' } } })).ready).toBe(false);
  });

  it('reports Redis by the notifier’s error first, then consent’s, then the alert stores’', () => {
    const stores = [store({ ok: false, detail: 'alerts not persisted' })];
    expect(readiness(readings({ notifierError: 'silences not persisted', consentError: 'consent not persisted', alertStores: stores })).checks.redis).toEqual({ ok: false, detail: 'silences not persisted' });
    expect(readiness(readings({ consentError: 'consent not persisted', alertStores: stores })).checks.redis).toEqual({ ok: false, detail: 'consent not persisted' });
    expect(readiness(readings({ alertStores: stores })).checks.redis).toEqual({ ok: false, detail: 'alerts not persisted' });
  });

  it('shows the migration state until the schema is ready, then the sink’s', () => {
    const migrating = readiness(readings({ schema: { ready: false, detail: 'migrations not applied yet: refused' } }));
    expect(migrating.checks.clickhouse).toEqual({ ok: false, detail: 'migrations not applied yet: refused' });
    expect(readiness(readings({ clickhouse: { ok: false, detail: 'ClickHouse away: spilling' } })).checks.clickhouse).toEqual({ ok: false, detail: 'ClickHouse away: spilling' });
  });

  it('has no checkpoint age before every consumer’s first checkpoint, nor holding none; else the oldest’s', () => {
    expect(readiness(readings({ checkpointsAt: [1_000, 0] })).checkpointAgeMs).toBeNull();
    expect(readiness(readings({ checkpointsAt: [] })).checkpointAgeMs).toBeNull();
    expect(readiness(readings({ checkpointsAt: [21_000, 1_000, 11_000] })).checkpointAgeMs).toBe(30_000);
  });
});

describe('redisState', () => {
  it('is the first store out of step with Redis, else the first store’s state, else connected', () => {
    expect(redisState([store(ok('a')), store({ ok: false, detail: 'b' }), store({ ok: false, detail: 'c' })])).toEqual({ ok: false, detail: 'b' });
    expect(redisState([store(ok('a')), store(ok('b'))])).toEqual(ok('a'));
    expect(redisState([])).toEqual(ok('connected'));
  });
});
