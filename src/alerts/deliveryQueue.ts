// One receiver's delivery: a bounded queue drained in order, each item retried with doubling backoff, off the hot
// path. What is given up on (last try, full queue, stop) goes to the owner's callback, never silently away.
import { sleep, systemClock, type SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export interface DeliveryOptions {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  queueSize: number;
}

export interface DeliveryStats {
  delivered: number;
  attempts: number;
  failures: number;
  deadLettered: number;
  queued: number;
}

/** Posts JSON; null on a 2xx answer, else why not. Never throws. */
export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text().catch(() => '');
    return res.ok ? null : `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
  } catch (err) {
    return errorMessage(err);
  }
}

export class DeliveryQueue<T> {
  readonly stats: DeliveryStats = { delivered: 0, attempts: 0, failures: 0, deadLettered: 0, queued: 0 };
  private readonly queue: { item: T; attempt: number; notBefore: number }[] = [];
  private running = false;
  private stopped = false;

  constructor(
    private readonly opts: DeliveryOptions,
    /** null on success, else why not; must not throw. */
    private readonly post: (item: T) => Promise<string | null>,
    private readonly giveUp: (item: T, reason: string) => void,
    private readonly log: Logger,
    /** Times the backoff between attempts; the system clock when absent. */
    private readonly clock: SchedulingClock = systemClock,
  ) {}

  /** Queues an item and returns at once: a slow or stuck receiver never slows the caller. */
  push(item: T): void {
    if (this.stopped) return this.drop(item, 'processor stopped before delivery');
    if (this.queue.length >= this.opts.queueSize) return this.drop(item, `queue full (${this.opts.queueSize})`);
    this.queue.push({ item, attempt: 0, notBefore: 0 });
    this.stats.queued = this.queue.length;
    if (!this.running) void this.drain();
  }

  private drop(item: T, reason: string): void {
    this.stats.deadLettered++;
    try {
      this.giveUp(item, reason);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'a delivery given up on could not be recorded');
    }
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const entry = this.queue[0];
        const wait = entry.notBefore - this.clock.now();
        if (wait > 0) await sleep(this.clock, wait);
        if (this.stopped) break;
        entry.attempt++;
        this.stats.attempts++;
        const error = await this.post(entry.item);
        if (error === null) {
          this.queue.shift();
          this.stats.delivered++;
        } else {
          this.stats.failures++;
          if (entry.attempt >= this.opts.maxAttempts) {
            this.queue.shift();
            this.drop(entry.item, `gave up after ${entry.attempt} attempts: ${error}`);
          } else {
            const backoff = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** (entry.attempt - 1));
            entry.notBefore = this.clock.now() + backoff;
            this.log.warn({ attempt: entry.attempt, backoffMs: backoff, err: error }, 'delivery failed; retrying');
          }
        }
        this.stats.queued = this.queue.length;
      }
    } finally {
      this.running = false;
    }
  }

  /** Stops retrying; what is still queued is given up on, so nothing is silently dropped. */
  stop(): void {
    this.stopped = true;
    for (const entry of this.queue.splice(0)) this.drop(entry.item, 'processor stopped before delivery');
    this.stats.queued = 0;
  }
}
