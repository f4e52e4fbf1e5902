// Publishes simulated traffic to NATS: optional days of history first, then a live stream at a chosen rate.
import type { NatsConnection } from 'nats';
import { DAY_MS, sleep, systemClock, type SchedulingClock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { Population, type SimEvent } from './population.js';
import type { DefectWave } from './experience.js';
import { customerToken } from '../cluster/partitioning.js';

export interface SimulateOptions {
  customers: number;
  /** Live events per second (0 = history only). */
  rate: number;
  /** Days of history published first, in time order, with their real past timestamps. */
  historyDays: number;
  /** Stop after this many live seconds (0 = run until stopped). */
  durationS: number;
  seed: number;
  subjectPrefix: string;
  /** Share of events with a jittered timestamp (up to 3 s early), to exercise out-of-order handling. */
  outOfOrder: number;
  /**
   * A defect wave on one product (day index: the history's first day is 0, live days follow), or null for none. The
   * experience model (products, tickets, ratings, reviews, NPS) runs either way.
   */
  defectWave?: DefectWave | null;
}

const enc = new TextEncoder();

/** Told after each day of history: days published of all, and events so far. */
export type HistoryProgress = (days: number, totalDays: number, published: number) => void;

/** `clock` stamps the events and paces the live stream (the system clock by default). */
export async function simulate(
  nc: NatsConnection,
  opts: SimulateOptions,
  log: Logger,
  signal?: AbortSignal,
  onHistory?: HistoryProgress,
  clock: SchedulingClock = systemClock,
): Promise<{ published: number }> {
  const pop = new Population({ customers: opts.customers, seed: opts.seed, faderShare: 0.2, experience: { wave: opts.defectWave ?? null } });
  const wave = pop.wave;
  if (wave) log.info({ product: wave.productId, startDay: wave.startDay, days: wave.days }, 'defect wave');
  let published = 0;
  const publish = (e: SimEvent) => {
    // With the customer token, so the same simulation feeds one processor or a partitioned cluster.
    nc.publish(`${opts.subjectPrefix}.${e.type}.${customerToken(e.customerId)}`, enc.encode(JSON.stringify(e)));
    published++;
  };

  if (opts.historyDays > 0) {
    const start = clock.now() - opts.historyDays * DAY_MS;
    const today = Math.floor(start / DAY_MS) * DAY_MS;
    for (let d = 0; d < opts.historyDays && !signal?.aborted; d++) {
      const events = pop.day(today + d * DAY_MS).filter((e) => e.ts < clock.now() - 10 * 60_000);
      for (let i = 0; i < events.length; i++) {
        publish(events[i]);
        if (i % 5_000 === 0) await nc.flush();
      }
      await nc.flush();
      onHistory?.(d + 1, opts.historyDays, published);
    }
    log.info({ published, days: opts.historyDays }, 'history published');
  }

  if (opts.rate <= 0) return { published };
  const started = clock.now();
  let queue: SimEvent[] = [];
  let sent = 0;
  while (!signal?.aborted && (opts.durationS === 0 || clock.now() - started < opts.durationS * 1000)) {
    const due = Math.floor(((clock.now() - started) / 1000) * opts.rate) - sent;
    for (let i = 0; i < due; i++) {
      if (queue.length === 0) queue = pop.day(clock.now()).reverse();
      const e = queue.pop()!;
      // Live traffic is re-stamped to now: a simulated day plays out in minutes, with a little disorder.
      const jitter = Math.random() < opts.outOfOrder ? Math.floor(Math.random() * 3_000) : 0;
      publish({ ...e, ts: clock.now() - jitter });
      sent++;
    }
    await nc.flush();
    await sleep(clock, 50);
  }
  log.info({ published }, 'simulation stopped');
  return { published };
}
