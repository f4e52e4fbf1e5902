// Mirrors the customers suppressed now into a NATS KV bucket, key `<channel or all>.<customer id>`, for bulk senders
// that would rather watch than ask. NATS 2.9 has no per-key TTL: the sweeper deletes expired keys, and the bucket's
// max_age removes whatever it missed.
import type { KV, NatsConnection } from 'nats';
import type { BudgetConfig } from '../config/schema.js';
import { every, sleep, systemClock, type SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { kvDeleteHeaders, PipelinedPublisher } from '../shared/pipelinedPublisher.js';
import { SlicedWork } from '../shared/slices.js';
import type { ContactBudget, Suppression, SuppressionChange } from './contactBudget.js';
import type { BudgetScope } from './allowance.js';
import { utf8 } from '../shared/wtf8.js';

const SAFE = /^[A-Za-z0-9_=-]+$/;
const SCOPES = new Set<string>(['email', 'push', 'sms', 'all']);

/** A KV key token for any customer id: itself when it only holds key-safe characters, else `b64_` + base64url. */
export function suppressionKey(scope: BudgetScope, customerId: string): string {
  const token = SAFE.test(customerId) && !customerId.startsWith('b64_') ? customerId : `b64_${Buffer.from(customerId).toString('base64url')}`;
  return `${scope}.${token}`;
}

export function parseSuppressionKey(key: string): { scope: BudgetScope; customerId: string } | null {
  const dot = key.indexOf('.');
  const scope = key.slice(0, dot);
  if (dot < 0 || !SCOPES.has(scope)) return null;
  const token = key.slice(dot + 1);
  return { scope: scope as BudgetScope, customerId: token.startsWith('b64_') ? Buffer.from(token.slice(4), 'base64url').toString() : token };
}

export function suppressionValue(s: Suppression): Record<string, unknown> {
  return { customerId: s.customerId, channel: s.scope, until: s.until === null ? null : new Date(s.until).toISOString(), untilMs: s.until, reasons: s.reasons };
}

export interface SuppressionBucket {
  readonly kv: KV;
  /** Resolves once every change made so far is in the bucket. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `holds`: in a cluster, whether a customer is this budget's (its partition's); keys of other customers are left to
 * their own partition's mirror.
 */
export async function openSuppressionBucket(
  nc: NatsConnection,
  cfg: BudgetConfig,
  budget: ContactBudget,
  log: Logger,
  replicas = 1,
  holds?: (customerId: string) => boolean,
  clock: SchedulingClock = systemClock,
): Promise<SuppressionBucket> {
  const kv = await nc.jetstream().views.kv(cfg.bucket, { history: 1, ttl: cfg.bucketMaxAgeMs, replicas });
  // Written as kv.put and kv.delete would (the bucket is Vigil's own: no mirror, no domain), without a request each.
  const publisher = new PipelinedPublisher(nc, 5_000, clock);
  const subject = (key: string) => `$KV.${cfg.bucket}.${key}`;
  const deleted = new Uint8Array(0);
  const pending = new Map<string, Suppression | null>();
  let writing: Promise<void> = Promise.resolve();
  let scheduled = false;

  const write = async () => {
    scheduled = false;
    const batch = [...pending];
    pending.clear();
    let failed = 0;
    let firstError = '';
    // Bounded concurrency: a burst of suppressions (a campaign's check) does not flood the connection at once.
    for (let i = 0; i < batch.length; i += 256) {
      await Promise.all(
        batch.slice(i, i + 256).map(([key, s]) =>
          (s ? publisher.publish(subject(key), utf8(JSON.stringify(suppressionValue(s)))) : publisher.publish(subject(key), deleted, kvDeleteHeaders())).catch((err: unknown) => {
            if (!pending.has(key)) pending.set(key, s);
            if (failed++ === 0) firstError = errorMessage(err);
          }),
        ),
      );
    }
    // One line per batch, not per key: a NATS outage fails every key of a batch alike.
    if (failed > 0) log.warn({ failed, of: batch.length, err: firstError }, 'suppression bucket writes failed; retrying');
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    writing = writing.then(() => sleep(clock, 20)).then(write);
  };
  const onChange = (c: SuppressionChange) => {
    if (c.op === 'put') pending.set(suppressionKey(c.suppression.scope, c.suppression.customerId), c.suppression);
    else pending.set(suppressionKey(c.scope, c.customerId), null);
    schedule();
  };
  const unsubscribe = budget.onChange(onChange);

  // Keys left by an earlier run: each customer is decided again; what is not suppressed now leaves the bucket.
  for await (const key of await kv.keys()) {
    const parsed = parseSuppressionKey(key);
    if (!parsed || (holds && !holds(parsed.customerId))) continue;
    budget.recheck(parsed.customerId);
    if (!budget.isSuppressed(parsed.customerId, parsed.scope)) pending.set(key, null);
  }
  // Entries held by the set now (replayed events, rechecks) are written whatever the bucket had.
  for (const s of budget.suppressions()) pending.set(suppressionKey(s.scope, s.customerId), s);
  schedule();

  // Entries without an end (consent withdrawn) are rewritten before the bucket's max_age would drop them.
  let refreshedAt = clock.now();
  const sweeps = new SlicedWork((err) => log.warn({ err: errorMessage(err) }, 'suppression sweep failed'));
  const stopSweeps = every(clock, cfg.sweepIntervalMs, () => {
    sweeps.run(() => {
      const steps = budget.sweepSteps();
      return (more) => {
        for (;;) {
          if (steps.next().done) return true;
          if (!more()) return false;
        }
      };
    });
    if (clock.now() - refreshedAt > cfg.bucketMaxAgeMs / 2) {
      refreshedAt = clock.now();
      for (const s of budget.suppressions()) if (s.until === null) onChange({ op: 'put', suppression: s });
    }
  });

  const flush = async () => {
    // A write in flight has already taken its keys out of `pending` and cleared `scheduled`: wait for it first, or a
    // stop would close the connection under it (every key of its batch then fails as CONNECTION_DRAINING).
    for (let i = 0; i < 100; i++) {
      await writing;
      if (pending.size === 0 && !scheduled) return;
      schedule();
    }
  };
  return {
    kv,
    flush,
    stop: async () => {
      stopSweeps();
      // A sweep under way ends first: its deletions are written by the flush.
      await sweeps.stop(true);
      unsubscribe();
      await flush().catch(() => undefined);
      publisher.close();
    },
  };
}
