// The main thread's side of the contact budget's thread (budget.thread): starts budgetWorker.ts with the windows'
// shared arrays, the withdrawn set and the clock, tells it what the events change (a touch that uses a reservation, a
// consent flip, an erasure) in order as they are applied, forwards the wall's HTTP routes to it (a sender on
// budget.httpPort reaches the thread directly), and applies what it settled to the main thread's ContactBudget (the
// campaign tally, a copy of the reservations, the suppressed set and its bucket), so that everything but the answer
// itself stays where it was. A thread that dies is started again, from that copy of the reservations.
import { MessageChannel, type Transferable, type Worker } from 'node:worker_threads';
import type { VigilConfig } from '../config/schema.js';
import type { MemoryConsentStore } from '../privacy/consent.js';
import type { Logger } from '../shared/logger.js';
import { spawnModuleWorker } from '../shared/worker.js';
import type { CustomerWindows, SharedWindows } from '../windows/customerWindows.js';
import { ANNOUNCED, HOLDER_CELLS, holderCell, untoldTouches, type BudgetThreadData, type ControlMessage, type FromBudgetThread, type ToBudgetThread } from './budgetThreadProtocol.js';
import type { ContactBudget } from './contactBudget.js';
import { pressureDurations } from './natsService.js';
import { BUDGET_CHANNELS } from './allowance.js';
import { ReportFence } from './reportFence.js';
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
  /** This run's touches said and told (BudgetThreadData.touchCounts). */
  private touchCounts: Int32Array | null = null;
  /** Times the thread was started again after it died: for /readyz's detail and the tests. */
  restarts = 0;
  /**
   * The port the thread's own HTTP listener bound (budget.httpPort; 0 there picks one); null without one, or while
   * the thread is down.
   */
  httpPort: number | null = null;

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

  /** Touches said to this run of the thread (only those of customers it or this copy may hold a slot of). */
  get touchesSaid(): number {
    return this.touchCounts ? Atomics.load(this.touchCounts, ANNOUNCED) : 0;
  }

  /** Touches said before the windows took them that the thread has not applied yet (0 once it has them all). */
  get touchesUntold(): number {
    return this.touchCounts ? untoldTouches(this.touchCounts) : 0;
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
    // A touch is told at once, in the same synchronous step as the event that the windows just took: the thread takes
    // a touch as using the oldest slot on its channel, so a touch the windows already hold but the thread has not
    // been told of could use the slot of a check decided after it (that check counted the touch in the windows) and
    // let one more check through past the allowance. Sent together at the end of a turn of this loop, that window was
    // a whole turn: a fresh-clone CI run allowed two of 50 concurrent checks for one last slot
    // (tests/integration/budget.test.ts). The microseconds between the windows' record and this post are covered by
    // `announce`: said before the record, a touch not yet told makes an allowing check on the thread decide again
    // (WorkerBudget.caughtUp).
    //
    // Only touches of customers the thread may hold a slot of are said and told (`holders`, written by the thread as a
    // customer's first slot is taken and its last one goes; or this thread's copy holds one): any other touch would
    // use nothing there. A message per touch of the stream cost the main thread ~8 % of its backlog time
    // (`postMessage` 6.5 %). A cell read 0 before the record can only miss a slot reserved after that read, by a check
    // that either counted this touch in the windows (its slot is for a later send, which the touch must not use) or
    // settled before the touch was said; in both cases the slot stays for the send it was taken for.
    const touchCounts = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
    const holders = new Int32Array(new SharedArrayBuffer(HOLDER_CELLS * Int32Array.BYTES_PER_ELEMENT));
    this.touchCounts = touchCounts;
    // Until the thread says it started, its `holders` may not yet count the slots it restored: every touch is told.
    let holdersKept = false;
    const post = (m: Exclude<ControlMessage, { t: 'consume' }>) => {
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
      touchCounts,
      holders,
      reservations: budget.reservations.copy(),
    };
    budget.mirror = {
      announce: (id, mayHold) => {
        if (holdersKept && !mayHold && Atomics.load(holders, holderCell(id)) === 0) return false;
        Atomics.add(touchCounts, ANNOUNCED, 1);
        return true;
      },
      consume: (id, channel, at, found) => {
        this.fence.touch(id, channel, found);
        control.postMessage({ t: 'consume', id, channel: BUDGET_CHANNELS.indexOf(channel), at } satisfies ControlMessage);
      },
      forget: (id) => post({ t: 'forget', id }),
    };
    const stopConsent = consent.onChange((id, withdrawn) => post({ t: 'consent', id, withdrawn }));
    const worker = (this.deps.spawn ?? spawnBudgetWorker)(data, [windowsChannel.port2, controlChannel.port2]);
    let failure: string | null = null;
    const unhook = () => {
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
          started = holdersKept = true;
          this.up = this.natsUp = true;
          this.httpPort = m.httpPort;
          startedAt = Date.now();
          this.deps.log.info({ subject: config.budget.subject, httpPort: m.httpPort, restarts: this.restarts }, 'the contact budget answers on a thread of its own');
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
          this.httpPort = null;
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
      for (const ms of m.httpMs) pressureDurations.http.observeMs(ms);
    } else if (m.t === 'answer') {
      const a = this.asks.get(m.n);
      this.asks.delete(m.n);
      if (m.ok) a?.resolve(m.value);
      else a?.reject(new Error(m.message));
    } else if (m.t === 'nats') this.natsUp = m.connected;
  }
}
