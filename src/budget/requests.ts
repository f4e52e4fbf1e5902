// What senders send and receive, the same over NATS and HTTP: request parsing (a reason, never a throw) and the
// answers for one customer and for a batch.
import { idProblem } from '../contract/ids.js';
import { BUDGET_CHANNELS, type BudgetChannel } from './allowance.js';
import { decisionJson, type BudgetRequest, type Decision, type Priority } from './decision.js';
import { answersFirst, nextTurn, SLICE_MS, type Precedence } from '../shared/slices.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface BatchRequest {
  customerIds: string[];
  channel: BudgetChannel;
  campaignId: string | null;
  priority: Priority;
}

/**
 * What decides for a sender: the processor's ContactBudget on its event loop, or a WorkerBudget on a thread of its
 * own reading the windows through shared memory (workerBudget.ts); the same decisions either way.
 */
export interface BudgetDecider {
  /** A decision, with a reservation when it allows. */
  check(request: BudgetRequest): Decision;
  /** check() for one id of a batch: the same allow, reasons and until; the allowance and used figures may be left out. */
  checkForBatch(request: BudgetRequest): Decision;
  /** The decision without reserving or counting. */
  peek(request: BudgetRequest): Decision;
}

/** Maps a sender's customer id to the id live state is keyed by (the pseudonym under privacy.pseudonymize). */
export type IdMapper = (customerId: string) => string;

// The events' rule (src/contract/ids.ts): a lone surrogate or a control character would make two ids one pseudonym.
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 128 && idProblem(v) === null;
const ID_RULE = 'a string of 1..128 characters, well-formed Unicode without control characters';
/** Budget requests nest two levels ({customerIds: [...]}); the room above is for nothing. */
const MAX_BODY_DEPTH = 8;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request's bytes to JSON, refusing what JSON.parse would take badly: invalid UTF-8 (decoded loosely, two
 * different ids would both hold U+FFFD) and nesting deeper than any request needs (JSON.parse spends about 0.6 s of
 * the event loop on 1 MiB of `[`), found by one scan of the bytes before parsing.
 */
export function parseBody(data: Uint8Array): Parsed<unknown> {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { ok: false, reason: 'the request is not valid UTF-8' };
  }
  if (nestsDeeperThan(data, MAX_BODY_DEPTH)) return { ok: false, reason: `the request nests deeper than ${MAX_BODY_DEPTH} levels` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'the request must be JSON' };
  }
}

function nestsDeeperThan(data: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (inString) {
      if (b === 0x5c) i++; // a backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

function common(o: Record<string, unknown>): Parsed<{ channel: BudgetChannel; campaignId: string | null; priority: Priority }> {
  if (!(BUDGET_CHANNELS as readonly unknown[]).includes(o.channel)) return { ok: false, reason: `channel must be one of ${BUDGET_CHANNELS.join(', ')}` };
  if (o.campaignId !== undefined && o.campaignId !== null && !(typeof o.campaignId === 'string' && o.campaignId.length <= 256 && idProblem(o.campaignId) === null)) {
    return { ok: false, reason: 'campaignId must be a string of at most 256 characters, well-formed Unicode without control characters' };
  }
  const priority = o.priority ?? 'marketing';
  if (priority !== 'marketing' && priority !== 'transactional') return { ok: false, reason: "priority must be 'marketing' or 'transactional'" };
  return { ok: true, value: { channel: o.channel as BudgetChannel, campaignId: (o.campaignId as string | undefined) ?? null, priority } };
}

const asObject = (v: unknown): Record<string, unknown> | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

export function parseCheck(body: unknown): Parsed<BudgetRequest> {
  const o = asObject(body);
  if (!o) return { ok: false, reason: 'the body must be JSON {customerId, channel, campaignId?, priority?}' };
  if (!isId(o.customerId)) return { ok: false, reason: `customerId must be ${ID_RULE}` };
  const c = common(o);
  return c.ok ? { ok: true, value: { customerId: o.customerId, ...c.value } } : c;
}

export function parseBatch(body: unknown, maxBatch: number): Parsed<BatchRequest> {
  const o = asObject(body);
  if (!o) return { ok: false, reason: 'the body must be JSON {customerIds, channel, campaignId?, priority?}' };
  if (!Array.isArray(o.customerIds) || o.customerIds.length === 0) return { ok: false, reason: 'customerIds must be a non-empty array' };
  if (o.customerIds.length > maxBatch) return { ok: false, reason: `at most ${maxBatch} customerIds per request (budget.maxBatch)` };
  if (!o.customerIds.every(isId)) return { ok: false, reason: `every customerId must be ${ID_RULE}` };
  const c = common(o);
  return c.ok ? { ok: true, value: { customerIds: o.customerIds as string[], ...c.value } } : c;
}

/** One check: the decision, with a reservation when it allows. */
export function answerCheck(budget: BudgetDecider, req: BudgetRequest, mapId: IdMapper): Record<string, unknown> {
  const d = budget.check({ ...req, customerId: mapId(req.customerId) });
  return { ...decisionJson(d), customerId: req.customerId };
}

/** How many ids between two looks at the time (performance.now() costs about what a tenth of a check does). */
const IDS_BETWEEN_LOOKS = 32;

/**
 * A campaign's ids in one request: every allowed id reserves its slot. Reason texts are listed once and referred to
 * by index, so 10,000 suppressed customers stay far under NATS's 1 MiB message limit. A 10,000-id batch is tens of
 * milliseconds of decisions: it is decided in slices of SLICE_MS with a turn of the event loop between them
 * (setImmediate: sockets and timers run), so a batch delays a single check by one slice at most, as a slice of events
 * does; each id's check and reservation is still one synchronous step, so two requests interleaved this way never
 * both take the last slot. While it is decided, the stream's consumer and the background work in slices wait
 * (`precedence`, for at most PRECEDENCE_MS): the sender waits on the answer, and the events and the derive tick can
 * wait their turn.
 */
export async function answerBatch(budget: BudgetDecider, req: BatchRequest, mapId: IdMapper, sliceMs = SLICE_MS, precedence: Precedence = answersFirst): Promise<Record<string, unknown>> {
  const release = precedence.hold();
  try {
    return await decideBatch(budget, req, mapId, sliceMs);
  } finally {
    release();
  }
}

async function decideBatch(budget: BudgetDecider, req: BatchRequest, mapId: IdMapper, sliceMs: number): Promise<Record<string, unknown>> {
  const reasons: string[] = [];
  const index = new Map<string, number>();
  const allowed: string[] = [];
  const suppressed: { customerId: string; until: number | null; reasons: number[] }[] = [];
  const request: BudgetRequest = { customerId: '', channel: req.channel, campaignId: req.campaignId, priority: req.priority };
  let sliceStart = performance.now();
  for (let i = 0; i < req.customerIds.length; i++) {
    if (i % IDS_BETWEEN_LOOKS === IDS_BETWEEN_LOOKS - 1 && performance.now() - sliceStart > sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
    const id = req.customerIds[i];
    // One request object for the whole batch: check() reads it and keeps nothing of it but in the decision,
    // of which only allow, until and the reasons are kept here.
    request.customerId = mapId(id);
    const d = budget.checkForBatch(request);
    if (d.allow) {
      allowed.push(id);
      continue;
    }
    const refs = d.reasons.map((r) => {
      let i = index.get(r.text);
      if (i === undefined) index.set(r.text, (i = reasons.push(r.text) - 1));
      return i;
    });
    suppressed.push({ customerId: id, until: d.until, reasons: refs });
  }
  return { channel: req.channel, campaignId: req.campaignId, priority: req.priority, checked: req.customerIds.length, allowed, suppressed, reasons };
}

/** What `GET /customers/{id}/pressure` shows: the decision per channel now, without reserving anything. */
export function customerPressure(budget: BudgetDecider, customerId: string, mapId: IdMapper): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  for (const channel of BUDGET_CHANNELS) {
    const d = budget.peek({ customerId: mapId(customerId), channel, campaignId: null, priority: 'marketing' });
    const { customerId: _, campaignId: __, priority: ___, ...rest } = decisionJson(d);
    channels[channel] = rest;
  }
  return { customerId, channels };
}
