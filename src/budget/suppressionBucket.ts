// Mirrors the customers suppressed now into a NATS KV bucket, key `<channel or all>.<customer id>`, for bulk senders
// that would rather watch than ask. NATS 2.9 has no per-key TTL: the sweeper deletes expired keys, and the bucket's
// max_age removes whatever it missed.
import { DeliverPolicy, type JetStreamClient, type KV, type NatsConnection } from 'nats';
import type { BudgetConfig } from '../config/schema.js';
import { every, sleep, systemClock, type SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { kvDeleteHeaders, PipelinedPublisher } from '../shared/pipelinedPublisher.js';
import { inSlices, SlicedWork } from '../shared/slices.js';
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
  /** Resolves once the keys an earlier run left are decided again and the bucket is written to match (or that failed). */
  readonly rebuilt: Promise<void>;
  /** Resolves once the rebuild is done and every change made so far is in the bucket. */
  flush(): Promise<void>;
  /**
   * Ends the rebuild at its next slice, what it decided so far still written: a stop is coming, and the final
   * checkpoint should not share the loop with it (the next start rebuilds again).
   */
  cut(): void;
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
  let scheduled = false;
  // While the bucket is rebuilt after a start: what it holds, by key, with when it was written (read at open, then as
  // written). A write that would leave a key as it is is skipped, so a restart whose state is unchanged rewrites
  // little, unless the key is old enough that max_age could drop it before its next rewrite: open-ended keys are
  // rewritten every half max_age from the open (below). null once rebuilt, or when it could not be read (then every
  // write goes out). Writes wait for the read.
  let held: Map<string, Held> | null = null;
  const unchanged = (had: Held | undefined, s: Suppression, value: Uint8Array): boolean =>
    had !== undefined &&
    clock.now() - had.at < cfg.bucketMaxAgeMs / 2 &&
    (s.until === null || s.until <= had.at + cfg.bucketMaxAgeMs) &&
    Buffer.compare(had.value, value) === 0;
  let writing: Promise<void> = readBucket(nc.jetstream(), kv, subject('')).then(
    (entries) => void (held = entries),
    (err: unknown) => {
      log.warn({ err: errorMessage(err) }, 'cannot read the suppression bucket; its keys are written as customers change and the rest expire with max_age');
    },
  );
  const counts = { written: 0, deleted: 0, unchanged: 0 };

  const write = async () => {
    scheduled = false;
    const batch = [...pending];
    pending.clear();
    let failed = 0;
    let firstError = '';
    // Bounded concurrency: a burst of suppressions (a campaign's check) does not flood the connection at once.
    for (let i = 0; i < batch.length; i += 256) {
      await Promise.all(
        batch.slice(i, i + 256).map(([key, s]) => {
          const value = s ? utf8(JSON.stringify(suppressionValue(s))) : null;
          const had = held?.get(key);
          if (held !== null && (s === null ? had === undefined : unchanged(had, s, value!))) {
            counts.unchanged++;
            return undefined;
          }
          return (value ? publisher.publish(subject(key), value) : publisher.publish(subject(key), deleted, kvDeleteHeaders())).then(
            () => {
              if (value) counts.written++;
              else counts.deleted++;
              if (held === null) return;
              if (value) held.set(key, { value, at: clock.now() });
              else held.delete(key);
            },
            (err: unknown) => {
              if (!pending.has(key)) pending.set(key, s);
              if (failed++ === 0) firstError = errorMessage(err);
            },
          );
        }),
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
  const openedWith = budget.suppressedCustomerCount;
  const drain = async () => {
    // A write in flight has already taken its keys out of `pending` and cleared `scheduled`: wait for it first, or a
    // stop would close the connection under it (every key of its batch then fails as CONNECTION_DRAINING).
    for (let i = 0; i < 100; i++) {
      await writing;
      if (pending.size === 0 && !scheduled) return;
      schedule();
    }
  };

  // The bucket as an earlier run left it, brought up to date behind the caller's back: the start goes on (the
  // service answers from the windows, not from here) while each customer with a key is decided again, a customer a
  // slice at a time between events. A key whose customer is no longer suppressed on its scope leaves the bucket.
  let stopping = false;
  /** `fn` for each item, in slices between events, until the items end or a stop comes. */
  const eachInSlices = <T>(items: Iterator<T>, fn: (item: T) => void): Promise<void> =>
    inSlices(
      (more) => {
        for (;;) {
          const next = items.next();
          if (next.done) return true;
          fn(next.value);
          if (!more()) return false;
        }
      },
      undefined,
      () => stopping,
    );
  const rebuild = async (): Promise<void> => {
    const started = clock.now();
    await writing;
    if (held === null) return;
    // The bucket's customers (this partition's), each with the scopes it has keys on.
    const scopesOf = new Map<string, BudgetScope[]>();
    await eachInSlices(held.keys(), (key) => {
      const parsed = parseSuppressionKey(key);
      if (!parsed || (holds && !holds(parsed.customerId))) return;
      const scopes = scopesOf.get(parsed.customerId);
      if (scopes) scopes.push(parsed.scope);
      else scopesOf.set(parsed.customerId, [parsed.scope]);
    });
    await eachInSlices(scopesOf.entries(), ([customerId, scopes]) => {
      budget.recheck(customerId);
      for (const scope of scopes) {
        const key = suppressionKey(scope, customerId);
        if (!pending.has(key) && !budget.isSuppressed(customerId, scope)) pending.set(key, null);
      }
    });
    // Every entry the set held at open is written unless the bucket has it as it is: a recheck that leaves an entry as
    // the replayed events made it (before the bucket was open) announces no change. The set gives a customer's entries
    // together and its customers in the order they came, so the customers held at open come first; later ones came
    // through onChange, and the set grows while events flow (a backlog's first start chased it for 87 s), so the walk
    // stops after as many customers as it held.
    let customersLeft = openedWith;
    let customer: string | null = null;
    const entries = budget.suppressions();
    const walk = {
      next: (): IteratorResult<Suppression> => {
        const n = entries.next();
        if (n.done || n.value.customerId === customer) return n;
        customer = n.value.customerId;
        return customersLeft-- > 0 ? n : { done: true, value: undefined };
      },
    };
    await eachInSlices(walk, (s) => {
      const key = suppressionKey(s.scope, s.customerId);
      if (!pending.has(key)) pending.set(key, s);
    });
    // Done once the write that takes these keys is: not once the bucket is quiet, which while events flow (a backlog)
    // could be minutes, every key written meanwhile kept in `held`. A key whose write fails goes again with the next.
    schedule();
    await writing;
    log.info({ keys: held.size, customers: scopesOf.size, ...counts, ms: clock.now() - started, cut: stopping }, stopping ? 'suppression bucket rebuild cut short by the stop' : 'suppression bucket rebuilt');
  };
  const rebuilt = rebuild()
    .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'rebuilding the suppression bucket failed; keys are written as customers change'))
    .finally(() => void (held = null));

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
    await rebuilt;
    await drain();
  };
  return {
    kv,
    rebuilt,
    flush,
    cut: () => void (stopping = true),
    stop: async () => {
      stopping = true;
      stopSweeps();
      // A sweep under way ends first: its deletions are written by the flush.
      await sweeps.stop(true);
      unsubscribe();
      await flush().catch(() => undefined);
      publisher.close();
    },
  };
}

/** A key's value in the bucket and when the server stored it (ms). */
interface Held {
  value: Uint8Array;
  at: number;
}

/** Every key of the bucket with its value (deleted keys left out); `prefix`: its subjects' `$KV.<bucket>.`. */
async function readBucket(js: JetStreamClient, kv: KV, prefix: string): Promise<Map<string, Held>> {
  const out = new Map<string, Held>();
  const status = await kv.status();
  if (status.values === 0) return out;
  const consumer = await js.consumers.get(status.streamInfo.config.name, { filterSubjects: `${prefix}>`, deliver_policy: DeliverPolicy.LastPerSubject });
  // Batches until the last entry, or one that comes back empty: the bucket's entries may expire (max_age) between the
  // status and the first fetch, and a consume() would then wait for ever, with the processor's stop behind it.
  for (;;) {
    let got = 0;
    let last = false;
    for await (const m of await consumer.fetch({ max_messages: 1_000, expires: 2_000 })) {
      got++;
      const op = m.headers?.get('KV-Operation');
      // A copy: the message's bytes are a view into the connection's read buffer.
      if (op !== 'DEL' && op !== 'PURGE') out.set(m.subject.slice(prefix.length), { value: m.data.slice(), at: Math.floor(m.info.timestampNanos / 1e6) });
      if (m.info.pending === 0) {
        // The batch's pull would otherwise wait out its expiry for entries that are not coming.
        last = true;
        break;
      }
    }
    if (last || got === 0) return out;
  }
}
