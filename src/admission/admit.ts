// The admit step: which events enter the pipeline. Subject routing (and the partition check), parsing, the identity
// (pseudonym), lateness against the watermark, deduplication and consent, each answered as a result value.
import type { VigilConfig } from '../config/schema.js';
import type { VigilEvent } from '../contract/event.js';
import type { InboundMessage, PipelineRejectReason } from '../contract/pipeline.js';
import type { ConsentStore } from '../privacy/consent.js';
import type { Pseudonymizer } from '../privacy/pseudonym.js';
import { customerToken, parseEventSubject, partitionOf } from '../cluster/partitioning.js';
import type { SnapshotReader, SnapshotWriter } from '../shared/snapshotCodec.js';
import { EventDedup } from './eventDedup.js';
import { parseEvent, type ParseLimits } from './parse.js';

/** Privacy events: honoured whatever their event time and however often they come (each is idempotent). */
export const PRIVACY_TYPES: ReadonlySet<string> = new Set(['erase_request', 'consent_withdrawn', 'consent_granted']);

/**
 * What admission decided. `ok`: a new, on-time event of a consenting customer, with the watermark it was judged
 * against. `dead-letter`: rejected (or late) with its reason. `drop`: a duplicate, or a customer who withdrew consent
 * (not stored, indexed for erasure). `privacy`: an erasure, withdrawal or grant, late or repeated (`first` false) or not.
 */
export type Admitted =
  | { kind: 'ok'; event: VigilEvent; watermark: number }
  | { kind: 'dead-letter'; reason: PipelineRejectReason; detail: string; outcome: 'rejected' | 'late' }
  | { kind: 'drop'; event: VigilEvent; why: 'duplicate' | 'consent_withdrawn' }
  | { kind: 'privacy'; event: VigilEvent; late: boolean; first: boolean };

export interface AdmissionDeps {
  config: VigilConfig;
  consent: ConsentStore;
  pseudonymizer?: Pseudonymizer | null;
  /** The partition this pipeline holds (docs/scale-out.md); absent: one processor holds every subject. */
  partition?: number;
}

export class Admission {
  private readonly dedup = new EventDedup();
  private readonly limits: ParseLimits;
  private readonly prefix: string;
  private maxEventTs = 0;

  constructor(private readonly deps: AdmissionDeps) {
    this.limits = deps.config.ingest;
    this.prefix = `${deps.config.nats.subjectPrefix}.`;
  }

  /** Event time the processor has reached: the latest event time seen, never ahead of the clock. */
  watermark(now: number): number {
    return this.maxEventTs === 0 ? now : Math.min(this.maxEventTs, now);
  }

  /** One message's admission. Never throws on bad input: it becomes a dead letter with its reason. */
  admit(msg: InboundMessage): Admitted {
    const now = msg.receivedAt;
    const route = this.route(msg.subject);
    if ('reason' in route) return route;
    const { expectedType, token } = route;
    let parsed = parseEvent(msg.data, expectedType, now, this.limits);
    // A privacy request is honoured however old (ingest.maxPastMs bounds analytics, not a person's rights); the
    // future bound stays, so a grant stamped ahead cannot shield itself from later withdrawals.
    if (!parsed.ok && parsed.reason === 'TIMESTAMP_OUT_OF_RANGE') {
      const old = parseEvent(msg.data, expectedType, now, { ...this.limits, maxPastMs: Number.POSITIVE_INFINITY });
      if (old.ok && PRIVACY_TYPES.has(old.event.type)) parsed = old;
    }
    if (!parsed.ok) return deadLetter(parsed.reason, parsed.detail, 'rejected');
    const ev = parsed.event;
    // A customer lives in one partition only: an event whose subject names another customer would split it in two.
    if (token !== null && customerToken(ev.customerId) !== token) {
      return deadLetter('SUBJECT_MISMATCH', `customer token "${token.slice(0, 64)}" in the subject is not the token of customerId`, 'rejected');
    }
    // Before anything else sees the id: dedup, consent, windows, outputs and alerts only ever hold the pseudonym.
    if (this.deps.pseudonymizer) ev.customerId = this.deps.pseudonymizer.pseudonym(ev.customerId);

    if (ev.ts > this.maxEventTs) this.maxEventTs = ev.ts;
    const watermark = this.watermark(now);
    const allowed = this.deps.config.ingest.allowedLatenessMs;
    const late = ev.ts < watermark - allowed;
    // Privacy events skip both checks: a late or repeated request is carried out all the same (each is idempotent).
    if (PRIVACY_TYPES.has(ev.type)) {
      const first = ev.type !== 'erase_request' && !late && this.dedup.firstSeen(ev.id, ev.ts);
      return { kind: 'privacy', event: ev, late, first };
    }
    if (late) {
      const behind = Math.round((watermark - ev.ts) / 1000);
      return deadLetter('LATE_EVENT', `event time is ${behind} s behind the watermark, allowed lateness ${allowed / 1000} s`, 'late');
    }
    if (!this.dedup.firstSeen(ev.id, ev.ts)) return { kind: 'drop', event: ev, why: 'duplicate' };
    // After a withdrawal nothing is stored or scored until a grant.
    if (this.deps.consent.isWithdrawn(ev.customerId)) return { kind: 'drop', event: ev, why: 'consent_withdrawn' };
    return { kind: 'ok', event: ev, watermark };
  }

  /** The event type the subject names, and the customer token when it carries one; or why it is not ours. */
  private route(subject: string): { expectedType: string | null; token: string | null } | Extract<Admitted, { kind: 'dead-letter' }> {
    const { config, partition } = this.deps;
    if (partition === undefined) {
      let expectedType = subject.startsWith(this.prefix) ? subject.slice(this.prefix.length) : null;
      let token: string | null = null;
      // `<prefix>.<type>.<customerToken>` (the cluster's form, mapped or not): producers may move to it first.
      if (expectedType !== null && expectedType.includes('.')) {
        const at = parseEventSubject(subject, config.nats.subjectPrefix);
        if (at.kind === 'unmapped' || at.kind === 'partitioned') {
          expectedType = at.type;
          token = at.token;
        }
      }
      return { expectedType, token };
    }
    const at = parseEventSubject(subject, config.nats.subjectPrefix);
    if (at.kind !== 'partitioned' || at.partition !== partition) {
      return deadLetter('UNPARTITIONED', `subject ${subject.slice(0, 200)} is not in partition ${partition}`, 'rejected');
    }
    // The server's mapping puts a token in one partition only; a producer publishing on `.part.<k>.` itself could
    // put one customer in two partitions (two processors, two windows, two budgets).
    const partitions = config.cluster.partitions;
    if (partitions > 0 && partitionOf(at.token, partitions) !== at.partition) {
      return deadLetter('WRONG_PARTITION', `subject partition ${at.partition} is not the customer token's partition (${partitions} partitions): published past the server's mapping`, 'rejected');
    }
    return { expectedType: at.type, token: at.token };
  }

  /** Event ids older than `before` can no longer be told apart from late events: forgotten. */
  expire(before: number): void {
    this.dedup.expire(before);
  }

  save(w: SnapshotWriter): { maxEventTs: number } {
    this.dedup.save(w);
    return { maxEventTs: this.maxEventTs };
  }

  load(r: SnapshotReader, maxEventTs: number): void {
    this.maxEventTs = maxEventTs;
    this.dedup.load(r);
  }
}

function deadLetter(reason: PipelineRejectReason, detail: string, outcome: 'rejected' | 'late'): Extract<Admitted, { kind: 'dead-letter' }> {
  return { kind: 'dead-letter', reason, detail, outcome };
}
