// /readyz composed from plain readings: each dependency's check and, for `vigil status`, the checkpoint age and the
// purchase model. Pure, so the composition is unit-tested (readiness.test.ts); processor.ts takes the readings.
import type { WallSource } from '../contract/frames.js';

export interface Check {
  ok: boolean;
  detail: string;
}

export interface ReadinessReadings {
  natsConnected: boolean;
  /** The notifier's and the consent store's last Redis error, if any. */
  notifierError: string | null;
  consentError: string | null;
  /** Every alert store's state: the consumers', then the leader's. */
  alertStores: { state(): Check }[];
  clickhouse: Check;
  schema: { ready: boolean; detail: string };
  /** The mode's reading of its consumers (single.ts, cluster.ts). */
  consumer: Check;
  /** Checks only a mode has (the cluster's combiner). */
  extra: Record<string, Check>;
  /** Each consumer's last checkpoint time, 0 before its first. */
  checkpointsAt: number[];
  now: number;
  modelVersion: string;
}

export function readiness(r: ReadinessReadings): ReturnType<WallSource['readiness']> {
  const checks: Record<string, Check> = {
    nats: { ok: r.natsConnected, detail: r.natsConnected ? 'connected' : 'disconnected, reconnecting' },
    redis: r.notifierError ? { ok: false, detail: r.notifierError } : r.consentError ? { ok: false, detail: r.consentError } : redisState(r.alertStores),
    clickhouse: { ok: r.clickhouse.ok && r.schema.ready, detail: r.schema.ready ? r.clickhouse.detail : r.schema.detail },
    consumer: r.consumer,
    ...r.extra,
  };
  // For `vigil status`: the oldest slice's last checkpoint (null before the first), and the purchase model in use.
  const at = r.checkpointsAt;
  const checkpointAgeMs = at.length && at.every((t) => t > 0) ? r.now - Math.min(...at) : null;
  return { ready: Object.values(checks).every((c) => c.ok), checks, checkpointAgeMs, modelVersion: r.modelVersion };
}

/** The alert stores' Redis: the first one not in step with Redis, else the first's state. */
export function redisState(stores: { state(): Check }[]): Check {
  const states = stores.map((s) => s.state());
  return states.find((s) => !s.ok) ?? states[0] ?? { ok: true, detail: 'connected' };
}
