// The contact budget as a NATS service (the micro framework: $SRV.PING/INFO/STATS discovery and stats): one
// customer on `<subject>.check`, a campaign's ids on `<subject>.batch`.
import type { NatsConnection, Service, ServiceMsg } from 'nats';
import type { BudgetConfig } from '../config/schema.js';
import { errorMessage } from '../shared/errors.js';
import { Histogram } from '../shared/histogram.js';
import type { Logger } from '../shared/logger.js';
import type { ContactBudget } from './contactBudget.js';
import type { BudgetRequest } from './decision.js';
import { answerBatch, answerCheck, parseBatch, parseBody, parseCheck, type BatchRequest, type IdMapper, type Parsed } from './requests.js';
import { utf8 } from '../shared/wtf8.js';

export const PRESSURE_SERVICE = 'vigil-pressure';

/**
 * How long each answer took, from the request's arrival to the reply, per endpoint (vigil_budget_check_duration_seconds):
 * the NATS service's `check` and `batch`, and `http`, a check on the budget's own port (budget.httpPort).
 * Process-wide: a process answers on one service per connection, and /metrics is per process.
 */
export const pressureDurations = { check: new Histogram(), batch: new Histogram(), http: new Histogram() };

/** Who answers: one processor's budget, or in a cluster the router that asks the partition holding the customer. */
export interface PressureAnswers {
  check(req: BudgetRequest): unknown | Promise<unknown>;
  batch(req: BatchRequest): unknown | Promise<unknown>;
}

/** The answers of one processor's own budget. */
export function localAnswers(budget: ContactBudget, mapId: IdMapper): PressureAnswers {
  return { check: (r) => answerCheck(budget, r, mapId), batch: (r) => answerBatch(budget, r, mapId) };
}

/** Told how long each answer took (the budget's thread sends it to the main thread's histograms). */
export type AnswerObserver = (endpoint: 'check' | 'batch', ms: number) => void;

const observeHere: AnswerObserver = (endpoint, ms) => pressureDurations[endpoint].observeMs(ms);

export async function startPressureService(nc: NatsConnection, cfg: BudgetConfig, answers: PressureAnswers, log: Logger, observe: AnswerObserver = observeHere): Promise<Service> {
  const srv = await nc.services.add({
    name: PRESSURE_SERVICE,
    version: '1.0.0',
    description: 'Vigil contact budget: may a sender touch this customer now?',
    queue: PRESSURE_SERVICE,
  });
  // Total: every request gets an answer or an error answer, and nothing it holds is echoed back.
  const serve = <T>(parse: (body: unknown) => Parsed<T>, answer: (req: T) => unknown, endpoint: 'check' | 'batch') => async (err: Error | null, msg: ServiceMsg) => {
    const started = performance.now();
    try {
      await answerOne(parse, answer, err, msg);
    } finally {
      observe(endpoint, performance.now() - started);
    }
  };
  const answerOne = async <T>(parse: (body: unknown) => Parsed<T>, answer: (req: T) => unknown, err: Error | null, msg: ServiceMsg): Promise<void> => {
    if (err) {
      log.warn({ err: errorMessage(err) }, 'pressure service endpoint failed');
      return;
    }
    try {
      const body = parseBody(msg.data);
      const parsed = body.ok ? parse(body.value) : body;
      if (!parsed.ok) return void fail(msg, 400, 'BAD_REQUEST', parsed.reason);
      let result: Uint8Array;
      try {
        result = enc(JSON.stringify(await answer(parsed.value)));
      } catch (e) {
        // A cluster's partition without a holder for a moment (a hand-over): the sender retries.
        return void fail(msg, 503, 'UNAVAILABLE', errorMessage(e));
      }
      const max = nc.info?.max_payload ?? Infinity;
      if (result.byteLength > max) {
        return void fail(msg, 413, 'ANSWER_TOO_LARGE', `the answer would be ${result.byteLength} bytes, over the NATS max_payload of ${max}: send fewer or shorter ids per batch`);
      }
      msg.respond(result);
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'pressure service could not answer a request');
      fail(msg, 500, 'INTERNAL', 'the request could not be answered');
    }
  };
  srv.addEndpoint('check', { subject: `${cfg.subject}.check`, handler: serve(parseCheck, (r) => answers.check(r), 'check'), metadata: { request: '{customerId, channel, campaignId?, priority?}' } });
  srv.addEndpoint('batch', {
    subject: `${cfg.subject}.batch`,
    handler: serve((b) => parseBatch(b, cfg.maxBatch), (r) => answers.batch(r), 'batch'),
    metadata: { request: '{customerIds, channel, campaignId?, priority?}', maxBatch: String(cfg.maxBatch) },
  });
  // Resolved once the server has the endpoints' subscriptions (a round trip after them): a sender that hears the
  // service is up, or a test just after the start, would otherwise meet "no responders" on another connection.
  await nc.flush();
  return srv;
}

const enc = utf8;

/** An error answer (the micro framework's headers, and a JSON body with a stable code); never throws. */
function fail(msg: ServiceMsg, status: number, code: string, message: string): void {
  try {
    msg.respondError(status, message, enc(JSON.stringify({ error: { code, message } })));
  } catch {
    // The connection is closing: the sender's request times out and it retries.
  }
}
