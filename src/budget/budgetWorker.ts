// The contact budget's own thread (budget.thread; budgetThread.ts starts it): the vigil-pressure service on a NATS
// connection of its own, its own HTTP port when budget.httpPort is set (budgetHttp.ts), and the wall's HTTP routes
// forwarded by the main thread, answered by a WorkerBudget that reads the windows through shared memory. An answer
// never waits behind the processor's events: only behind other answers.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { Service } from 'nats';
import { keyedHash } from '../privacy/pseudonym.js';
import { OffsetClock } from '../shared/clock.js';
import { errorMessage, VigilError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { connectNats, type NatsLink } from '../runtime/connections.js';
import { pressureRoutes } from '../runtime/pressure.js';
import type { WallTransport } from '../wall/transport/types.js';
import { WindowsReader } from '../windows/windowsReader.js';
import type { SharedWindows } from '../windows/customerWindows.js';
import { BUDGET_CHANNELS } from './allowance.js';
import { startBudgetHttp } from './budgetHttp.js';
import { holderCell, TOLD, untoldTouches, type BudgetThreadData, type ControlMessage, type FromBudgetThread, type ToBudgetThread } from './budgetThreadProtocol.js';
import { startPressureService } from './natsService.js';
import { answerBatch, answerCheck, customerPressure, type BudgetDecider, type IdMapper } from './requests.js';
import { SettledChecksBuilder } from './settledChecks.js';
import { WorkerBudget } from './workerBudget.js';

const data = workerData as BudgetThreadData;
const { config } = data;
const port = parentPort!;
const send = (m: FromBudgetThread) => port.postMessage(m);
const log = createLogger(config.log.level).child({ stage: 'budget', thread: 'budget' });

/** How many ids of a batch between two drains of the control port (a drain costs about what a tenth of a check does). */
const IDS_BETWEEN_DRAINS = 64;
/**
 * How often the thread applies the changes waiting, takes waiting hand-overs and looks at its connection while
 * nothing is asked: what waits between two looks is bounded by what the stream carries in this long.
 */
const IDLE_LOOK_MS = 100;

const checks = new SettledChecksBuilder();
/** ControlMessages applied so far (the main thread's ReportFence counts the ones it sent). */
let applied = 0;
const reader = new WindowsReader(data.windows, () => receiveMessageOnPort(data.windowsPort)?.message as SharedWindows | undefined);
const clock = new OffsetClock(0, data.clockOffset);
const { touchCounts, holders } = data;
const budget = new WorkerBudget({
  reader,
  config,
  clock,
  report: (r) => checks.add(r, applied),
  // Before the thread says it started (the restore below included): the main thread tells touches by these cells.
  onHolder: (id, delta) => void Atomics.add(holders, holderCell(id), delta),
  // Two loads when nothing is said and not told (nearly always): a drain only when something is.
  caughtUp: () => {
    if (untoldTouches(touchCounts) <= 0) return true;
    drain();
    return untoldTouches(touchCounts) <= 0;
  },
});
for (const id of data.withdrawn) budget.setWithdrawn(id, true);
budget.reservations.restore(data.reservations, clock.now());

const apply = (m: ControlMessage): void => {
  applied++;
  if (m.t === 'consume') {
    budget.consume(m.id, BUDGET_CHANNELS[m.channel], m.at);
    Atomics.add(touchCounts, TOLD, 1);
  } else if (m.t === 'consent') budget.setWithdrawn(m.id, m.withdrawn);
  else budget.forget(m.id);
};
// Before a decision every change sent so far is applied, and while nothing is asked, on a timer: not as each comes,
// which would wake the thread for every touch the stream carries (thousands a second) to compete for a core with the
// event loop that sent it.
const drain = (): void => {
  for (let m = receiveMessageOnPort(data.control); m !== undefined; m = receiveMessageOnPort(data.control)) apply(m.message as ControlMessage);
};
let sinceDrain = 0;
const decider: BudgetDecider = {
  check: (r) => (drain(), budget.check(r)),
  checkForBatch: (r) => {
    if (++sinceDrain >= IDS_BETWEEN_DRAINS) {
      sinceDrain = 0;
      drain();
    }
    return budget.checkForBatch(r);
  },
  peek: (r) => (drain(), budget.peek(r)),
};
const mapId: IdMapper = config.privacy.pseudonymize ? (id) => keyedHash(config.privacy.pseudonymKey, id) : (id) => id;
const batch: typeof answerBatch = (b, req, map) => {
  drain();
  sinceDrain = 0;
  return answerBatch(b, req, map);
};

/**
 * How long settled checks may wait to go to the main thread together: one message per single check would wake its
 * event loop a thousand times a second; a batch's go at once.
 */
const SETTLED_EVERY_MS = 10;
const answered = { check: [] as number[], batch: [] as number[], http: [] as number[] };
let flushTimer: ReturnType<typeof setTimeout> | null = null;
/** `applied` as last told: the main thread keeps an erased id or an unmatched touch (ReportFence) until told it was applied. */
let appliedSent = 0;

/** The checks settled so far go to the main thread (its tally, reservation copy, suppressed set, counts, histograms). */
const flush = (): void => {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = null;
  if (checks.size === 0 && answered.check.length === 0 && answered.batch.length === 0 && answered.http.length === 0 && applied === appliedSent) return;
  appliedSent = applied;
  send({ t: 'settled', checks: checks.take(), applied, counts: { ...budget.counts }, checkMs: answered.check.splice(0), batchMs: answered.batch.splice(0), httpMs: answered.http.splice(0) });
};

/** An answer was sent: the checks it settled go to the main thread within SETTLED_EVERY_MS. */
const settleSoon = (): void => {
  if (checks.size >= 1_000) flush();
  else flushTimer ??= setTimeout(flush, SETTLED_EVERY_MS);
};

/** An answer was sent: a NATS service's, or a check on budget.httpPort. */
const settled = (endpoint: keyof typeof answered, ms: number): void => {
  answered[endpoint].push(ms);
  settleSoon();
};

/** The two HTTP routes on budget.httpPort: the NATS service's answers, the same JSON as on the wall's port. */
const httpAnswers = pressureRoutes(
  config.budget.maxBatch,
  // A lookup peeks: it settles nothing.
  (id) => customerPressure(decider, id, mapId),
  (req) => batch(decider, req, mapId).finally(settleSoon),
);

async function answerAsk(m: Extract<ToBudgetThread, { t: 'ask' }>): Promise<void> {
  try {
    const value = m.op === 'pressure' ? customerPressure(decider, m.customerId, mapId) : await batch(decider, m.req, mapId);
    // The main thread has the checks before the answer it waits on.
    flush();
    send({ t: 'answer', n: m.n, ok: true, value });
  } catch (err) {
    flush();
    send({ t: 'answer', n: m.n, ok: false, message: errorMessage(err) });
  }
}

let waitsOutLogged = 0;
let link: NatsLink | null = null;
let service: Service | null = null;
let http: WallTransport | null = null;
let timers: ReturnType<typeof setInterval>[] = [];
let stopping = false;

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const t of timers) clearInterval(t);
  await http?.close().catch(() => undefined);
  await service?.stop().catch(() => undefined);
  await link?.conn.drain().catch(() => undefined);
  flush();
  send({ t: 'stopped' });
  process.exit(0);
}

// Listening before the start: a stop may come while the connection is still being made.
port.on('message', (m: ToBudgetThread) => {
  if (m.t === 'stop') void stop();
  else void answerAsk(m);
});

try {
  link = await connectNats(config, log, 'vigil-budget');
  if (!stopping) {
    service = await startPressureService(link.conn, config.budget, { check: (r) => answerCheck(decider, r, mapId), batch: (r) => batch(decider, r, mapId) }, log, settled);
    let connected = true;
    timers = [
      setInterval(() => budget.sweep(), config.budget.sweepIntervalMs),
      setInterval(() => {
        drain();
        // With no check to carry it, the count applied still goes: the main thread lets erased ids go on it.
        flush();
        reader.takeWaiting();
        if (budget.catchUps.waitsOut > waitsOutLogged) {
          log.warn({ waitsOut: budget.catchUps.waitsOut - waitsOutLogged, again: budget.catchUps.again }, "checks settled while a touch the main thread had said was not told within 50 ms: one of them may have allowed past an allowance");
          waitsOutLogged = budget.catchUps.waitsOut;
        }
        const now = link!.connected();
        if (now !== connected) send({ t: 'nats', connected: (connected = now) });
      }, IDLE_LOOK_MS),
    ];
    // Last: a sender that reaches the port is answered from a running service's state.
    let httpPort: number | null = null;
    if (config.budget.httpPort !== undefined && !stopping) ({ transport: http, port: httpPort } = await startBudgetHttp(config, httpAnswers, log, (ms) => settled('http', ms)));
    send({ t: 'started', httpPort });
  }
} catch (err) {
  send({ t: 'failed', code: err instanceof VigilError ? err.code : 'BUDGET_THREAD_FAILED', message: errorMessage(err) });
  process.exit(1);
}
