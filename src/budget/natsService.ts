// The contact budget as a NATS service (the micro framework: $SRV.PING/INFO/STATS discovery and stats): one
// customer on `<subject>.check`, a campaign's ids on `<subject>.batch`.
import type { NatsConnection, Service, ServiceMsg } from 'nats';
import type { BudgetConfig } from '../config/schema.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { ContactBudget } from './contactBudget.js';
import type { BudgetRequest } from './decision.js';
import { answerBatch, answerCheck, parseBatch, parseCheck, type BatchRequest, type IdMapper, type Parsed } from './requests.js';

export const PRESSURE_SERVICE = 'vigil-pressure';

/** Who answers: one processor's budget, or in a cluster the router that asks the partition holding the customer. */
export interface PressureAnswers {
  check(req: BudgetRequest): unknown | Promise<unknown>;
  batch(req: BatchRequest): unknown | Promise<unknown>;
}

/** The answers of one processor's own budget. */
export function localAnswers(budget: ContactBudget, mapId: IdMapper): PressureAnswers {
  return { check: (r) => answerCheck(budget, r, mapId), batch: (r) => answerBatch(budget, r, mapId) };
}

export async function startPressureService(nc: NatsConnection, cfg: BudgetConfig, answers: PressureAnswers, log: Logger): Promise<Service> {
  const srv = await nc.services.add({
    name: PRESSURE_SERVICE,
    version: '1.0.0',
    description: 'Vigil contact budget: may a sender touch this customer now?',
    queue: PRESSURE_SERVICE,
  });
  const serve = <T>(parse: (body: unknown) => Parsed<T>, answer: (req: T) => unknown) => async (err: Error | null, msg: ServiceMsg) => {
    if (err) {
      log.warn({ err: errorMessage(err) }, 'pressure service endpoint failed');
      return;
    }
    let body: unknown;
    try {
      body = msg.json();
    } catch {
      msg.respondError(400, 'the request must be JSON', enc(JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'the request must be JSON' } })));
      return;
    }
    const parsed = parse(body);
    if (!parsed.ok) {
      msg.respondError(400, parsed.reason, enc(JSON.stringify({ error: { code: 'BAD_REQUEST', message: parsed.reason } })));
      return;
    }
    try {
      msg.respond(enc(JSON.stringify(await answer(parsed.value))));
    } catch (e) {
      // A cluster's partition without a holder for a moment (a hand-over): the sender retries.
      msg.respondError(503, errorMessage(e), enc(JSON.stringify({ error: { code: 'UNAVAILABLE', message: errorMessage(e) } })));
    }
  };
  srv.addEndpoint('check', { subject: `${cfg.subject}.check`, handler: serve(parseCheck, (r) => answers.check(r)), metadata: { request: '{customerId, channel, campaignId?, priority?}' } });
  srv.addEndpoint('batch', {
    subject: `${cfg.subject}.batch`,
    handler: serve((b) => parseBatch(b, cfg.maxBatch), (r) => answers.batch(r)),
    metadata: { request: '{customerIds, channel, campaignId?, priority?}', maxBatch: String(cfg.maxBatch) },
  });
  return srv;
}

const encoder = new TextEncoder();
const enc = (s: string) => encoder.encode(s);
