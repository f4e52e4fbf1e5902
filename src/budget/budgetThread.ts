// The main thread's side of the contact budget's thread (budget.thread): starts budgetWorker.ts with the windows'
// shared arrays, the withdrawn set and the clock, tells it what the events change (a touch that uses a reservation, a
// consent flip, an erasure) in order as they are applied, forwards the wall's HTTP routes to it, and applies what it
// settled to the main thread's ContactBudget (the campaign tally, a copy of the reservations, the suppressed set and
// its bucket), so that everything but the answer itself stays where it was. A thread that dies is started again,
// from that copy of the reservations.
import { MessageChannel, type Transferable, type Worker } from 'node:worker_threads';
import type { VigilConfig } from '../config/schema.js';
import type { MemoryConsentStore } from '../privacy/consent.js';
import type { Logger } from '../shared/logger.js';
import { spawnModuleWorker } from '../shared/worker.js';
import type { CustomerWindows, SharedWindows } from '../windows/customerWindows.js';
import { BUDGET_CHANNELS, type BudgetChannel } from './allowance.js';
import type { BudgetThreadData, ControlMessage, FromBudgetThread, ToBudgetThread } from './budgetThreadProtocol.js';
import type { ContactBudget } from './contactBudget.js';
import { pressureDurations } from './natsService.js';
import type { BatchRequest } from './requests.js';
import { emptyReport, reportAt } from './settledChecks.js';

export interface BudgetThreadDeps {
  config: VigilConfig;
  windows: CustomerWindows;
  /** The main thread's budget: what the thread settles is applied to it (applyReport), and it mirrors to the thread. */
  budget: ContactBudget;
  consent: MemoryConsentStore;
  /** The processor's clock as a shared offset (sharedOffsetOf). */
  clockOffset: BigInt64Array;
  log: Logger;
  /** Starts the thread's worker (tests wrap it to reach the worker); default: budgetWorker.ts next to this file. */
  spawn?: (data: BudgetThreadData, transfer: Transferable[]) => Worker;
}

const spawnBudgetWorker = (data: BudgetThreadData, transfer: Transferable[]): Worker => spawnModuleWorker(import.meta.url, 'budgetWorker', data, transfer);

/** The first wait before a dead thread is started again, doubled on each failure up to RESTART_MAX_MS. */
const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A thread that ran this long before it died was not in a crash loop: the wait starts again from the first. */
const STEADY_MS = 60_000;

/** Touches in columns: the customer, the channel's index in BUDGET_CHANNELS, and a number (when, or which message). */
class TouchColumns {
  protected ids: (string | null)[] = [];
  protected channels = new Uint8Array(256);
  protected values = new Float64Array(256);

  protected push(customerId: string, channel: BudgetChannel, value: number): void {
    const n = this.ids.length;
    if (n === this.values.length) {
      const channels = new Uint8Array(2 * n);
      const values = new Float64Array(2 * n);
      channels.set(this.channels);
      values.set(this.values);
      this.channels = channels;
      this.values = values;
    }
    this.ids.push(customerId);
    this.channels[n] = BUDGET_CHANNELS.indexOf(channel);
    this.values[n] = value;
  }
}

/** Touches waiting to go to the thread together (ControlMessage `consume`): the customer, channel and when. */
export class TouchBuffer extends TouchColumns {
  get size(): number {
    return this.ids.length;
  }

  add(customerId: string, channel: BudgetChannel, at: number): void {
    this.push(customerId, channel, at);
  }

  /** The message, its columns copied at their length; the buffer starts again empty. */
  take(): Extract<ControlMessage, { t: 'consume' }> {
    const n = this.ids.length;
    const m = { t: 'consume' as const, ids: this.ids as string[], channels: this.channels.slice(0, n), at: this.values.slice(0, n) };
    this.ids = [];
    return m;
  }
}

/**
 * Keeps the main thread's copy of the reservations what the thread's are, although the thread's reports of what it
 * settled cross, on their way, the messages the main thread sends it. ControlMessages are counted as sent; the thread
 * says, per report, how many it had applied when it settled that check; two kinds of message matter:
 * - An erasure: a report for that customer settled before the thread applied it would bring the erased customer back
 *   here (its slot, its suppressed-set refresh), after the erasure was applied here. It is left out (`stale`); the
 *   thread drops the slot itself when it applies the erasure.
 * - A touch whose consume found no slot here: the thread may have held one (reserved by a check whose report was still
 *   on its way) and used it. The first report of a slot on that customer and channel settled before the touch was
 *   applied is that slot, already used: it is not taken here (`usedSince`). Without it the late report would add a
 *   slot here that nothing uses until its time-to-live, counted in the suppressed set and taken over by a thread
 *   started again.
 * Entries go once the thread has applied them: every report settled before that has arrived (reports come in order).
 */
export class ReportFence {
  private sent = 0;
  private readonly erasedAt = new Map<string, number>();
  /** Touches that found no slot here, in the order sent (most touches: one may be matched by a report). */
  private readonly unmatched = new TouchLog();

  /** A ControlMessage other than the two below was sent. */
  send(): void {
    this.sent++;
  }

  /** An erasure of the customer was sent. */
  erasure(customerId: string): void {
    this.erasedAt.set(customerId, ++this.sent);
  }

  /** A touch was sent; `found`: it used a slot of this thread's copy. */
  touch(customerId: string, channel: BudgetChannel, found: boolean): void {
    this.sent++;
    if (!found) this.unmatched.add(customerId, channel, this.sent);
  }

  /** Whether a report settled after `seen` messages were applied is of a customer erased since. */
  stale(customerId: string, seen: number): boolean {
    const at = this.erasedAt.get(customerId);
    return at !== undefined && at > seen;
  }

  /**
   * Whether a slot reserved on `channel` by a check settled after `seen` messages were applied was used by a touch
   * sent since that found none here; that touch is then matched and matches no other report.
   */
  usedSince(customerId: string, channel: BudgetChannel, seen: number): boolean {
    return this.unmatched.match(customerId, channel, seen);
  }

  /** The thread has applied `applied` messages: no report settled before them is still to come. */
  applied(applied: number): void {
    if (this.erasedAt.size > 0) for (const [id, at] of this.erasedAt) if (at <= applied) this.erasedAt.delete(id);
    this.unmatched.dropThrough(applied);
  }

  /** A new thread starts from nothing: no report of the old one is to come. */
  reset(): void {
    this.sent = 0;
    this.erasedAt.clear();
    this.unmatched.dropThrough(Number.POSITIVE_INFINITY);
  }

  /** Erasures sent that the thread has not said it applied. */
  get erasures(): number {
    return this.erasedAt.size;
  }

  /** Touches that found no slot here and that the thread has not said it applied. */
  get touches(): number {
    return this.unmatched.size;
  }
}

/**
 * ReportFence's touches that found no slot here, in columns and in the order sent: a push per touch, where a map by
 * customer cost every touch of the stream a lookup, an insert and two objects (0.3–0.65 µs). A report of a slot looks
 * through the touches sent since its check was settled, what the stream carried in those few milliseconds.
 */
class TouchLog extends TouchColumns {
  // ids[i] is null once a report matched it; values[i] is the touch's number among the messages sent (rising).
  private start = 0;
  private matched = 0;

  get size(): number {
    return this.ids.length - this.start - this.matched;
  }

  add(customerId: string, channel: BudgetChannel, seq: number): void {
    this.push(customerId, channel, seq);
  }

  /** Matches the first touch of the customer on the channel sent after `seen` messages, if any. */
  match(customerId: string, channel: BudgetChannel, seen: number): boolean {
    const ch = BUDGET_CHANNELS.indexOf(channel);
    // The first touch sent after `seen`: the numbers rise, so a binary search.
    let lo = this.start;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.values[mid] <= seen) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.ids.length; i++) {
      if (this.ids[i] === customerId && this.channels[i] === ch) {
        this.ids[i] = null;
        this.matched++;
        return true;
      }
    }
    return false;
  }

  /** The thread has applied every message up to `applied`: touches among them can no longer be matched. */
  dropThrough(applied: number): void {
    const n = this.ids.length;
    while (this.start < n && this.values[this.start] <= applied) {
      if (this.ids[this.start] === null) this.matched--;
      this.start++;
    }
    if (this.start === n) {
      this.ids = [];
      this.start = this.matched = 0;
    } else if (this.start >= 4096 && this.start * 2 >= n) {
      // Most of the columns are behind us: move the rest to the front.
      this.ids = this.ids.slice(this.start);
      this.channels.copyWithin(0, this.start, n);
      this.values.copyWithin(0, this.start, n);
      this.start = 0;
    }
  }
}

/** One run of the thread: its worker, and when it has exited. */
interface Run {
  worker: Worker;
  exited: Promise<void>;
}

export class BudgetThread {
  private run: Run | null = null;
  private up = false;
  private natsUp = false;
  private stopping = false;
  private restartMs = RESTART_FIRST_MS;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly asks = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextAsk = 0;
  private readonly fence = new ReportFence();
  private readonly scratch = emptyReport();
  /** Times the thread was started again after it died: for /readyz's detail and the tests. */
  restarts = 0;

  private constructor(private readonly deps: BudgetThreadDeps) {}

  /** Starts the thread; resolves once its service answers, rejects when it could not start (NATS refused it). */
  static async start(deps: BudgetThreadDeps): Promise<BudgetThread> {
    const t = new BudgetThread(deps);
    await t.spawn();
    return t;
  }

  /** `GET /customers/{id}/pressure`, answered by the thread. */
  pressure(customerId: string): Promise<unknown> {
    return this.ask({ op: 'pressure', customerId });
  }

  /** `POST /pressure/check`, answered by the thread: its reservations are the ones that count. */
  batch(req: BatchRequest): Promise<unknown> {
    return this.ask({ op: 'batch', req });
  }

  /** Erasures sent that the thread has not said it applied: their ids are held here until it has (ReportFence). */
  get erasuresInFlight(): number {
    return this.fence.erasures;
  }

  /** Touches sent that found no slot here and that the thread has not said it applied (ReportFence). */
  get touchesInFlight(): number {
    return this.fence.touches;
  }

  /** /readyz: the thread answers and its NATS connection is up. */
  check(): { ok: boolean; detail: string } {
    if (this.up && this.natsUp) return { ok: true, detail: `answering on its own thread${this.restarts ? ` (started again ${this.restarts} times)` : ''}` };
    return { ok: false, detail: this.up ? "the budget thread's NATS connection is down" : 'the budget thread is not running; starting it again' };
  }

  /** Stops the service and the thread: its last settled checks are applied before it resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const run = this.run;
    if (!run) return;
    run.worker.postMessage({ t: 'stop' } satisfies ToBudgetThread);
    const deadline = setTimeout(() => void run.worker.terminate(), this.deps.config.processor.shutdownTimeoutMs);
    await run.exited;
    clearTimeout(deadline);
  }

  private ask(q: { op: 'pressure'; customerId: string } | { op: 'batch'; req: BatchRequest }): Promise<unknown> {
    const run = this.run;
    if (!run || !this.up) return Promise.reject(new Error('the budget thread is not running'));
    const n = ++this.nextAsk;
    return new Promise((resolve, reject) => {
      this.asks.set(n, { resolve, reject });
      run.worker.postMessage({ t: 'ask', n, ...q } as ToBudgetThread);
    });
  }

  private spawn(): Promise<void> {
    const { windows, budget, consent, config, clockOffset } = this.deps;
    const windowsChannel = new MessageChannel();
    const controlChannel = new MessageChannel();
    const control = controlChannel.port1;
    this.fence.reset();
    // Touches are most of what the thread is told (every email, push and SMS the stream carries): the ones of a turn
    // of this loop go in one message at its end, and before any other message, so the order holds. A message to
    // another thread's port wakes it: ~2 µs of this thread a touch (bench/touchPosts.ts; the posts were 4 % of the
    // main thread's work in the live profiles), ~0.2 µs sent together. Until then the thread counts such a touch
    // twice (in the windows, and as the slot it will use): for that moment it may suppress, never allow, past an
    // allowance.
    const touches = new TouchBuffer();
    let touchesDue: ReturnType<typeof setImmediate> | null = null;
    const sendTouches = () => {
      if (touchesDue) clearImmediate(touchesDue);
      touchesDue = null;
      if (touches.size > 0) control.postMessage(touches.take());
    };
    const post = (m: Exclude<ControlMessage, { t: 'consume' }>) => {
      sendTouches();
      if (m.t === 'forget') this.fence.erasure(m.id);
      else this.fence.send();
      control.postMessage(m);
    };
    const onWindows = (s: SharedWindows) => windowsChannel.port1.postMessage(s);
    // One synchronous step: no event is applied between the first hand-over, the withdrawn set and the hooks.
    const first = windows.share(onWindows);
    const data: BudgetThreadData = {
      config,
      windows: first,
      windowsPort: windowsChannel.port2,
      control: controlChannel.port2,
      withdrawn: consent.withdrawnIds(),
      clockOffset,
      reservations: budget.reservations.copy(),
    };
    budget.mirror = {
      consume: (id, channel, at, found) => {
        this.fence.touch(id, channel, found);
        touches.add(id, channel, at);
        touchesDue ??= setImmediate(sendTouches);
      },
      forget: (id) => post({ t: 'forget', id }),
    };
    const stopConsent = consent.onChange((id, withdrawn) => post({ t: 'consent', id, withdrawn }));
    const worker = (this.deps.spawn ?? spawnBudgetWorker)(data, [windowsChannel.port2, controlChannel.port2]);
    let failure: string | null = null;
    const unhook = () => {
      if (touchesDue) clearImmediate(touchesDue);
      windows.unshare(onWindows);
      budget.mirror = null;
      stopConsent();
      control.close();
      windowsChannel.port1.close();
    };
    return new Promise((resolve, reject) => {
      let started = false;
      let startedAt = 0;
      const run: Run = { worker, exited: Promise.resolve() };
      this.run = run;
      worker.on('message', (m: FromBudgetThread) => {
        if (m.t === 'started') {
          started = true;
          this.up = this.natsUp = true;
          startedAt = Date.now();
          this.deps.log.info({ subject: config.budget.subject, restarts: this.restarts }, 'the contact budget answers on a thread of its own');
          resolve();
        } else if (m.t === 'failed') failure = `${m.code}: ${m.message}`;
        else this.receive(m);
      });
      worker.on('error', (err) => {
        failure ??= err.stack ?? String(err);
      });
      run.exited = new Promise((exited) =>
        worker.on('exit', (code) => {
          this.up = false;
          unhook();
          if (this.run === run) this.run = null;
          for (const [, a] of this.asks) a.reject(new Error('the budget thread stopped'));
          this.asks.clear();
          exited();
          if (!started) return reject(new Error(`the contact budget's thread could not start: ${failure ?? `it exited with code ${code}`}`));
          if (this.stopping) return;
          // A thread that ran a while starts again soon; one that keeps dying at once, ever more slowly.
          if (Date.now() - startedAt > STEADY_MS) this.restartMs = RESTART_FIRST_MS;
          this.deps.log.error({ code, why: failure ?? 'exited without an error', restartInMs: this.restartMs }, "the contact budget's thread died: starting it again from this thread's copy of its reservations");
          this.restartLater();
        }),
      );
    });
  }

  private restartLater(): void {
    const wait = this.restartMs;
    this.restartMs = Math.min(RESTART_MAX_MS, this.restartMs * 2);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.restarts++;
      this.spawn().catch((err: Error) => {
        this.deps.log.error({ err: err.message }, "the contact budget's thread did not start again");
        if (!this.stopping && this.run === null) this.restartLater();
      });
    }, wait);
  }

  private receive(m: Exclude<FromBudgetThread, { t: 'started' } | { t: 'failed' }>): void {
    if (m.t === 'settled') {
      const budget = this.deps.budget;
      const r = this.scratch;
      for (let i = 0; i < m.checks.ids.length; i++) {
        reportAt(m.checks, i, r);
        const seen = m.checks.seen[i];
        if (this.fence.stale(r.customerId, seen)) r.reserved = r.refresh = false;
        else if (r.reserved && this.fence.usedSince(r.customerId, r.channel, seen)) r.reserved = false;
        budget.applyReport(r);
      }
      this.fence.applied(m.applied);
      Object.assign(this.deps.budget.counts, m.counts);
      for (const ms of m.checkMs) pressureDurations.check.observeMs(ms);
      for (const ms of m.batchMs) pressureDurations.batch.observeMs(ms);
    } else if (m.t === 'answer') {
      const a = this.asks.get(m.n);
      this.asks.delete(m.n);
      if (m.ok) a?.resolve(m.value);
      else a?.reject(new Error(m.message));
    } else if (m.t === 'nats') this.natsUp = m.connected;
  }
}
