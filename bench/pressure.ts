// The contact budget under load (issue 15's target), run by bench/run.ts: while a paced publisher feeds the processor
// at a fraction of its measured maximum, a sender asks `<budget.subject>.check` for single customers at a fixed rate
// (open loop: a slow answer does not slow the asking), a second sender asks the wall's HTTP route (forwarded to the
// budget's thread by the processor's event loop), a third the same route on the budget's own port (budget.httpPort,
// served by its thread), and a campaign's batch of ids goes to `<budget.subject>.batch` a few times. Latencies are
// measured from each request's send.
import { build as buildHistogram, type Histogram } from 'hdr-histogram-js';
import { connect } from 'nats';
import { customerId } from './workload.js';

export interface PressureLoad {
  servers: string;
  /** budget.subject of the processor under test. */
  subject: string;
  /** Where single checks go: `<subject>.check` unless given (the echo responder's subject, bench/echo.ts). */
  checkSubject?: string;
  wallPort: number;
  /** budget.httpPort as bound (null: the processor has none; no checks go there). */
  budgetHttpPort: number | null;
  /** Checks ask for ids c0000000..c<customers-1>, the workload's customers. */
  customers: number;
  durationMs: number;
  checksPerSec: number;
  httpChecksPerSec: number;
  /** HTTP checks a second to the budget's own port (as many as to the wall's in the bench). */
  ownHttpChecksPerSec: number;
  batchSize: number;
  batches: number;
}

export interface LatencySummary {
  count: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface PressureLoadResult {
  nats: LatencySummary & { sentPerSec: number };
  http: LatencySummary & { sentPerSec: number };
  /** The HTTP checks on the budget's own port; absent in results from before it had one. */
  httpOwn?: LatencySummary & { sentPerSec: number };
  batch: LatencySummary & { size: number; samplesMs: number[] };
}

const enc = new TextEncoder();
const round = (v: number) => Math.round(v * 100) / 100;

export function histogram(): Histogram {
  // Microseconds, up to 10 minutes.
  return buildHistogram({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

function summary(h: Histogram, errors: number): LatencySummary {
  const ms = (us: number) => round(us / 1000);
  return { count: h.totalCount, errors, p50Ms: ms(h.getValueAtPercentile(50)), p99Ms: ms(h.getValueAtPercentile(99)), maxMs: ms(h.maxValue) };
}

/** Sends the load for `durationMs` and waits for every answer (or its timeout). */
export async function pressureLoad(o: PressureLoad): Promise<PressureLoadResult> {
  // Its own connection: the bench's other traffic (stream info, clean-up) does not sit between requests and answers.
  const nc = await connect({ servers: o.servers, name: 'vigil-bench-budget-sender' });
  const natsH = histogram();
  const httpH = histogram();
  const ownH = histogram();
  const batchH = histogram();
  const samplesMs: number[] = [];
  let natsErrors = 0;
  let httpErrors = 0;
  let ownErrors = 0;
  let batchErrors = 0;
  let next = Math.floor(Math.random() * o.customers);
  const nextId = () => customerId(next++ % o.customers);
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const observe = (h: Histogram, t0: number) => h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));

  const natsCheck = () => {
    const body = enc.encode(JSON.stringify({ customerId: nextId(), channel: 'email', campaignId: 'bench', priority: 'marketing' }));
    const t0 = performance.now();
    track(
      nc.request(o.checkSubject ?? `${o.subject}.check`, body, { timeout: 10_000 }).then(
        (m) => (m.headers?.get('Nats-Service-Error-Code') ? natsErrors++ : observe(natsH, t0)),
        () => natsErrors++,
      ),
    );
  };
  const httpCheck = (port: number, h: Histogram, failed: () => void) => {
    const body = JSON.stringify({ customerIds: [nextId()], channel: 'email', campaignId: 'bench', priority: 'marketing' });
    const t0 = performance.now();
    track(
      fetch(`http://127.0.0.1:${port}/api/v1/pressure/check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) }).then(
        async (r) => {
          await r.arrayBuffer();
          if (r.ok) observe(h, t0);
          else failed();
        },
        failed,
      ),
    );
  };
  const ownPerSec = o.budgetHttpPort === null ? 0 : o.ownHttpChecksPerSec;
  const batch = () => {
    const ids = Array.from({ length: o.batchSize }, nextId);
    const body = enc.encode(JSON.stringify({ customerIds: ids, channel: 'push', campaignId: 'bench-batch', priority: 'marketing' }));
    const t0 = performance.now();
    track(
      nc.request(`${o.subject}.batch`, body, { timeout: 10_000 }).then(
        (m) => {
          if (m.headers?.get('Nats-Service-Error-Code')) return batchErrors++;
          observe(batchH, t0);
          samplesMs.push(round(performance.now() - t0));
        },
        () => batchErrors++,
      ),
    );
  };

  // Open loop on a 5 ms tick: the requests due by now go out whatever the earlier ones are doing.
  const t0 = performance.now();
  const endAt = t0 + o.durationMs;
  const batchEvery = o.durationMs / (o.batches + 1);
  let sentNats = 0;
  let sentHttp = 0;
  let sentOwn = 0;
  let sentBatches = 0;
  while (performance.now() < endAt) {
    const elapsed = performance.now() - t0;
    for (const due = Math.floor((elapsed / 1000) * o.checksPerSec); sentNats < due; sentNats++) natsCheck();
    for (const due = Math.floor((elapsed / 1000) * o.httpChecksPerSec); sentHttp < due; sentHttp++) httpCheck(o.wallPort, httpH, () => httpErrors++);
    for (const due = Math.floor((elapsed / 1000) * ownPerSec); sentOwn < due; sentOwn++) httpCheck(o.budgetHttpPort!, ownH, () => ownErrors++);
    if (sentBatches < o.batches && elapsed >= (sentBatches + 1) * batchEvery) {
      sentBatches++;
      batch();
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - t0) / 1000;
  await Promise.allSettled([...inFlight]);
  await nc.close();
  return {
    nats: { ...summary(natsH, natsErrors), sentPerSec: Math.round(sentNats / seconds) },
    http: { ...summary(httpH, httpErrors), sentPerSec: Math.round(sentHttp / seconds) },
    ...(ownPerSec > 0 ? { httpOwn: { ...summary(ownH, ownErrors), sentPerSec: Math.round(sentOwn / seconds) } } : {}),
    batch: { ...summary(batchH, batchErrors), size: o.batchSize, samplesMs },
  };
}
