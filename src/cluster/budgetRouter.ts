// The contact budget in a cluster (docs/scale-out.md, section 6): a customer's budget lives with the partition that
// holds the customer, so a check that reaches any processor (the NATS service's queue group, or any wall's HTTP API)
// goes to that partition. The partition of an id is the one the NATS server's mapping gives its events
// (partitionOf(customerToken(id))); checks for partitions held here are answered here, the rest are NATS requests
// to `<cluster.subjectPrefix>.pressure.<k>`, which only the holder of partition k subscribes to.
import type { Msg, NatsConnection, Subscription } from 'nats';
import type { BudgetChannel } from '../budget/allowance.js';
import type { ContactBudget } from '../budget/contactBudget.js';
import type { BudgetRequest } from '../budget/decision.js';
import { answerBatch, answerCheck, customerPressure, parseBatch, parseBody, parseCheck, type BatchRequest, type IdMapper, type Parsed } from '../budget/requests.js';
import { errorMessage, VigilError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { customerToken, partitionOf } from './partitioning.js';
import { utf8 } from '../shared/wtf8.js';

export interface BudgetRouterOptions {
  nc: NatsConnection;
  /** cluster.subjectPrefix */
  subjectPrefix: string;
  partitions: number;
  /** The budget of a partition this processor holds now, else null. */
  local(partition: number): ContactBudget | null;
  /** A sender's id to the id live state holds (the pseudonym under privacy.pseudonymize). */
  mapId: IdMapper;
  log: Logger;
  /** How long a forwarded check waits for the partition's holder. */
  timeoutMs?: number;
}

export type Op = { op: 'check'; req: BudgetRequest } | { op: 'batch'; req: BatchRequest } | { op: 'peek'; customerId: string };

/** What a batch answer holds (answerBatch), merged across partitions. */
interface BatchAnswer {
  channel: BudgetChannel;
  campaignId: string | null;
  priority: string;
  checked: number;
  allowed: string[];
  suppressed: { customerId: string; until: number | null; reasons: number[] }[];
  reasons: string[];
}

const dec = new TextDecoder();

/** A forwarded operation, validated by the same rules as a sender's request (ids, channel, priority). */
export function parseOp(data: Uint8Array): Parsed<Op> {
  const body = parseBody(data);
  if (!body.ok) return body;
  const o = body.value as { op?: unknown; req?: unknown; customerId?: unknown } | null;
  if (o?.op === 'check') {
    const r = parseCheck(o.req);
    return r.ok ? { ok: true, value: { op: 'check', req: r.value } } : r;
  }
  if (o?.op === 'batch') {
    // A forwarded batch is one partition's share of a request already held to budget.maxBatch.
    const r = parseBatch(o.req, Number.MAX_SAFE_INTEGER);
    return r.ok ? { ok: true, value: { op: 'batch', req: r.value } } : r;
  }
  if (o?.op === 'peek') {
    // Reserves nothing: any id the wall's route took is looked up as it is, as on the holder itself.
    return typeof o.customerId === 'string' ? { ok: true, value: { op: 'peek', customerId: o.customerId } } : { ok: false, reason: 'customerId must be a string' };
  }
  return { ok: false, reason: "op must be 'check', 'batch' or 'peek'" };
}

export class BudgetRouter {
  /** Checks answered for another processor, and forwarded to one. */
  readonly counters = { served: 0, forwarded: 0, unavailable: 0 };
  private readonly subs = new Map<number, Subscription>();

  constructor(private readonly o: BudgetRouterOptions) {}

  partitionOf(customerId: string): number {
    return partitionOf(customerToken(customerId), this.o.partitions);
  }

  /** One customer: the decision, with a reservation when it allows. */
  check(req: BudgetRequest): Promise<Record<string, unknown>> {
    return this.at(this.partitionOf(req.customerId), { op: 'check', req });
  }

  /** `GET /customers/{id}/pressure`: the decision per channel now, reserving nothing. */
  pressure(customerId: string): Promise<Record<string, unknown>> {
    return this.at(this.partitionOf(customerId), { op: 'peek', customerId });
  }

  /** A campaign's ids: split by partition, asked in parallel, merged into one answer. */
  async batch(req: BatchRequest): Promise<Record<string, unknown>> {
    const byPartition = new Map<number, string[]>();
    for (const id of req.customerIds) {
      const p = this.partitionOf(id);
      const ids = byPartition.get(p);
      if (ids) ids.push(id);
      else byPartition.set(p, [id]);
    }
    const parts = await Promise.all([...byPartition].map(([p, customerIds]) => this.at(p, { op: 'batch', req: { ...req, customerIds } }) as Promise<unknown> as Promise<BatchAnswer>));
    const merged: BatchAnswer = { channel: req.channel, campaignId: req.campaignId, priority: req.priority, checked: 0, allowed: [], suppressed: [], reasons: [] };
    const index = new Map<string, number>();
    for (const part of parts) {
      merged.checked += part.checked;
      merged.allowed.push(...part.allowed);
      // Reason texts are listed once per answer: renumber each part's into the merged list.
      const renumber = part.reasons.map((text) => {
        let i = index.get(text);
        if (i === undefined) index.set(text, (i = merged.reasons.push(text) - 1));
        return i;
      });
      for (const s of part.suppressed) merged.suppressed.push({ ...s, reasons: s.reasons.map((r) => renumber[r]) });
    }
    return merged as unknown as Record<string, unknown>;
  }

  /** Answers the requests forwarded for partition `p` while this processor holds it. */
  serve(p: number): void {
    if (this.subs.has(p)) return;
    const sub = this.o.nc.subscribe(this.subject(p), {
      callback: (err, msg) => {
        if (err) return;
        const budget = this.o.local(p);
        // Not held any more (handed over a moment ago): no answer, the asker times out and retries.
        if (!budget) return;
        void this.reply(p, budget, msg);
      },
    });
    this.subs.set(p, sub);
  }

  unserve(p: number): void {
    this.subs.get(p)?.unsubscribe();
    this.subs.delete(p);
  }

  stop(): void {
    for (const p of [...this.subs.keys()]) this.unserve(p);
  }

  private subject(p: number): string {
    return `${this.o.subjectPrefix}.pressure.${p}`;
  }

  /** Total: a malformed forward is an error answer, and a failure is logged (the asker times out and retries). */
  private async reply(p: number, budget: ContactBudget, msg: Msg): Promise<void> {
    try {
      // Checked as the service checks a sender's request: anyone who can publish here is answered the same way.
      const op = parseOp(msg.data);
      msg.respond(utf8(JSON.stringify(op.ok ? await this.answer(budget, op.value) : { error: { code: 'BAD_REQUEST', message: op.reason } })));
      if (op.ok) this.counters.served++;
    } catch (e) {
      this.o.log.warn({ partition: p, err: errorMessage(e) }, 'a forwarded budget check failed');
    }
  }

  private answer(budget: ContactBudget, op: Op): Record<string, unknown> | Promise<Record<string, unknown>> {
    if (op.op === 'check') return answerCheck(budget, op.req, this.o.mapId);
    if (op.op === 'batch') return answerBatch(budget, op.req, this.o.mapId);
    return customerPressure(budget, op.customerId, this.o.mapId);
  }

  private async at(p: number, op: Op): Promise<Record<string, unknown>> {
    const budget = this.o.local(p);
    if (budget) return this.answer(budget, op);
    this.counters.forwarded++;
    try {
      const reply = await this.o.nc.request(this.subject(p), utf8(JSON.stringify(op)), { timeout: this.o.timeoutMs ?? 2_000 });
      const answer = JSON.parse(dec.decode(reply.data)) as Record<string, unknown>;
      if (answer.error) throw new Error('the holder refused the forwarded request');
      return answer;
    } catch (err) {
      this.counters.unavailable++;
      throw new VigilError('PARTITION_UNAVAILABLE', `the processor holding partition ${p} did not answer (${errorMessage(err)}); it may be moving: retry`, { cause: err });
    }
  }
}
