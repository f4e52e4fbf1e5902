// One event's path through the processor, top to bottom: admit (admission/admit.ts) → apply (windows/apply.ts) →
// score (signals/score.ts) → evaluate (alerts/customerRules.ts, alerts/entityRules.ts) → the outputs and the wall's
// LiveView (wall/liveView.ts). Privacy events take their own turn (privacy/livePrivacy.ts).
import { EVENT_LAG_BUCKETS, Histogram } from './shared/histogram.js';
import type { VigilConfig } from './config/schema.js';
import type { VigilEvent } from './contract/event.js';
import type { AlertView } from './contract/frames.js';
import type { ErasureRequest, PipelineOutputs } from './contract/outputs.js';
import type { CustomerSignals, InboundMessage, Outcome, PipelineRejectReason } from './contract/pipeline.js';
import { MINUTE_MS, type Clock } from './shared/clock.js';
import { SnapshotReader, SnapshotWriter } from './shared/snapshotCodec.js';
import { Admission, type Admitted } from './admission/admit.js';
import { ApplyStep } from './windows/apply.js';
import type { CustomerWindows } from './windows/customerWindows.js';
import { Scorer } from './signals/score.js';
import type { PurchaseModelSet } from './signals/purchaseModel.js';
import type { Trend } from './signals/engagement.js';
import type { EntityStats } from './signals/entityStats.js';
import type { AtRiskEntry } from './contract/frames.js';
import { AlertDesk } from './alerts/alertDesk.js';
import type { AlertStore } from './alerts/alertStore.js';
import { evaluateCustomer } from './alerts/customerRules.js';
import { budgetSuppressions, evaluateEntities, evaluateEntitiesOf, evaluateProcessor, evaluateSuppressions, type SuppressionSource } from './alerts/entityRules.js';
import type { AlertNotifier } from './alerts/notifier.js';
import { ruleSampler } from './alerts/sampler.js';
import type { ContactBudget } from './budget/contactBudget.js';
import { MemoryConsentStore, type ConsentStore } from './privacy/consent.js';
import { LivePrivacy } from './privacy/livePrivacy.js';
import { deadLetterPayload, type Pseudonymizer } from './privacy/pseudonym.js';
import { modelState, type RefitStatus } from './sources/modelRefit.js';
import { LiveView, overloadWithSuppressions } from './wall/liveView.js';
import { WallFacing } from './wall/wallFacing.js';

export interface PipelineDeps {
  config: VigilConfig;
  clock: Clock;
  outputs: PipelineOutputs;
  /** The purchase model version at start (a model per segment); replaced by setModel when a newer one is stored. */
  model: PurchaseModelSet;
  trend: (dailySeries: number[]) => Trend | null;
  alertStore: AlertStore;
  /** Messages still in the stream for this processor (from the consumer); for stats and the lag rule. */
  pending?: () => number;
  /** Rows waiting for ClickHouse; for stats. */
  bufferedRows?: () => number;
  /** Called for every alert state change after it is recorded (NATS fan-out). */
  onAlert?: (alert: AlertView) => void;
  /** Silences, grouping and paced delivery of notifications; absent in tests that only look at alert states. */
  notifier?: AlertNotifier;
  /** Who withdrew consent (Redis-backed in the processor); in memory by default. */
  consent?: ConsentStore;
  /** Set when privacy.pseudonymize is on: customer ids become keyed pseudonyms right after parsing. */
  pseudonymizer?: Pseudonymizer | null;
  /**
   * Scale-out (docs/scale-out.md): the partition this pipeline holds. Its events arrive on
   * `<prefix>.part.<k>.<type>.<customerToken>`, and the token must be the customer's; its lag rule's subject is
   * `partition-<k>`, and the channel, segment and campaign rules are the leader's (EntityRuleEvaluator), on every
   * partition's counts. Absent: one processor holds all, evaluates every rule, and its lag rule's subject is `vigil`.
   */
  partition?: number;
  /** The scheduled refit's status on the processor that refits (signals.model.refit); absent elsewhere. */
  refit?: () => RefitStatus | null;
}

export class Pipeline extends WallFacing {
  readonly counts: Record<Outcome, number> = { processed: 0, duplicate: 0, late: 0, rejected: 0, dropped_consent: 0 };
  readonly rejectReasons = new Map<PipelineRejectReason | 'CONSENT_WITHDRAWN', number>();
  /**
   * True while a restart replays the stream after the checkpoint: state and ClickHouse rows are rebuilt
   * (idempotently), but alerts are not evaluated, since their state in Redis already reflects those events.
   */
  replaying = false;

  private readonly consent: ConsentStore;
  private readonly admission: Admission;
  private readonly state: ApplyStep;
  private readonly scorer: Scorer;
  protected override readonly desk: AlertDesk;
  protected override readonly live: LiveView;
  private readonly privacyStep: LivePrivacy;
  private readonly suppressions: SuppressionSource;
  private restoredModel: string | null = null;
  /** Event time to signals computed, per accepted event (vigil_event_to_signal_seconds). */
  readonly eventToSignal = new Histogram(EVENT_LAG_BUCKETS);

  constructor(private readonly deps: PipelineDeps) {
    super();
    const { config, clock } = deps;
    this.consent = deps.consent ?? new MemoryConsentStore();
    this.admission = new Admission({ config, consent: this.consent, pseudonymizer: deps.pseudonymizer, partition: deps.partition });
    this.state = new ApplyStep({ config, clock, consent: this.consent });
    this.scorer = new Scorer({ config, model: deps.model, trend: deps.trend });
    this.desk = new AlertDesk({ config, clock, alertStore: deps.alertStore, outputs: deps.outputs, onAlert: deps.onAlert, notifier: deps.notifier });
    this.suppressions = budgetSuppressions(this.budget);
    this.live = new LiveView({
      config, clock, desk: this.desk, counts: this.counts, pending: deps.pending, bufferedRows: deps.bufferedRows,
      activeCustomers: () => this.windows.size,
      overload: (nowMin, now) => overloadWithSuppressions(this.entities.overloadCells(nowMin), this.budget.campaignCounts(now)),
      watermark: (now) => this.watermark(now),
      model: () => modelState(this.scorer.model.name, deps.refit?.() ?? null),
    });
    this.privacyStep = new LivePrivacy({ consent: this.consent, pseudonymizer: deps.pseudonymizer, outputs: deps.outputs, state: this.state, desk: this.desk, live: this.live });
  }

  get windows(): CustomerWindows { return this.state.windows; }
  get entities(): EntityStats { return this.state.entities; }
  /** The contact budget senders ask before they touch a customer; it reads these windows. */
  get budget(): ContactBudget { return this.state.budget; }
  /** The purchase model version signals are computed with now; its segment's model's name goes with every snapshot. */
  get model(): PurchaseModelSet { return this.scorer.model; }

  /** The model version that scored the state of the last restored checkpoint (null: none restored, or not recorded). */
  get checkpointModel(): string | null { return this.restoredModel; }

  /** Swaps the purchase model version (fitted parameters stored or refreshed); the next signals use it. */
  setModel(model: PurchaseModelSet): void {
    this.scorer.model = model;
  }

  /** Event time the processor has reached: the latest event time seen, never ahead of the clock. */
  watermark(now = this.deps.clock.now()): number {
    return this.admission.watermark(now);
  }

  /** One message through every step. Never throws on bad input: it becomes a rejected record with its reason. */
  handle(msg: InboundMessage): Outcome {
    const admitted = this.admission.admit(msg);
    switch (admitted.kind) {
      case 'ok':
        return this.record(admitted.event, msg, admitted.watermark);
      case 'dead-letter':
        return this.deadLetter(msg, admitted);
      case 'drop':
        return this.drop(admitted.event, msg, admitted.why);
      case 'privacy':
        return this.privacy(admitted.event, msg, admitted.first);
    }
  }

  /** An accepted event: stored, applied to the live state, scored, evaluated, shown. */
  private record(ev: VigilEvent, msg: InboundMessage, watermark: number): Outcome {
    const now = msg.receivedAt;
    const meta = { streamSeq: msg.streamSeq, receivedAt: now };
    this.state.activity(ev, msg.streamSeq);
    // The withdrawal itself is on record (events, customer_activity); the customer leaves live scoring.
    if (ev.type === 'consent_withdrawn') {
      this.privacyStep.withdrawn(ev, this.replaying);
      this.deps.outputs.event(ev, meta);
      this.counts.processed++;
      return 'processed';
    }
    // apply → score → evaluate
    const nowMin = Math.floor(watermark / MINUTE_MS);
    const { slot, view } = this.state.apply(ev, msg.streamSeq, nowMin, this.replaying);
    const signals = this.scorer.score(view);
    if (!this.replaying) {
      evaluateCustomer(this.desk.engine, this.desk.customerRules, ev, signals, now);
      if (this.deps.partition === undefined) evaluateEntitiesOf(this.desk.engine, this.entities, ev, nowMin, now);
    }
    // → the sinks: the event's row and, when due, its signals' snapshot row
    this.deps.outputs.event(ev, meta);
    const row = this.scorer.snapshotDue(this.windows, slot, signals, ev.ts);
    if (row) this.deps.outputs.signals(row);
    // → the wall's view
    this.live.trackAtRisk(ev.customerId, signals, now);
    this.live.lag(now - ev.ts);
    this.counts.processed++;
    this.eventToSignal.observeMs(now - ev.ts);
    return 'processed';
  }

  private deadLetter(msg: InboundMessage, d: Extract<Admitted, { kind: 'dead-letter' }>): Outcome {
    this.counts[d.outcome]++;
    this.rejectReasons.set(d.reason, (this.rejectReasons.get(d.reason) ?? 0) + 1);
    const p = this.deps.pseudonymizer;
    // A dead letter names its customer (for erasure); under pseudonymization by the pseudonym, in the payload too.
    const letter = deadLetterPayload(msg.data, p ? (id) => p.hash(id) : null);
    this.deps.outputs.rejected({
      receivedAt: msg.receivedAt, reason: d.reason, detail: d.detail, subject: msg.subject, streamSeq: msg.streamSeq,
      payload: letter.payload, customerId: letter.customerId, payloadBytes: msg.data.byteLength,
    });
    return d.outcome;
  }

  /** A duplicate, or an event of a customer who withdrew consent: not stored, but its message indexed for erasure. */
  private drop(ev: VigilEvent, msg: InboundMessage, why: 'duplicate' | 'consent_withdrawn'): Outcome {
    if (why === 'duplicate') this.counts.duplicate++;
    this.deps.outputs.unstored?.({ customerId: ev.customerId, streamSeq: msg.streamSeq, receivedAt: msg.receivedAt, reason: why });
    if (why === 'duplicate') return 'duplicate';
    this.counts.dropped_consent++;
    this.rejectReasons.set('CONSENT_WITHDRAWN', (this.rejectReasons.get('CONSENT_WITHDRAWN') ?? 0) + 1);
    return 'dropped_consent';
  }

  /** erase_request, consent_withdrawn, consent_granted: the privacy step's, or recorded as any event. */
  private privacy(ev: VigilEvent, msg: InboundMessage, first: boolean): Outcome {
    if (this.privacyStep.handle(ev, msg, first, this.replaying) === 'record') return this.record(ev, msg, this.watermark(msg.receivedAt));
    this.counts.processed++;
    return 'processed';
  }

  /** The erasure requests handled since the last call, for the processor to carry out. */
  takeErasures(): ErasureRequest[] {
    return this.privacyStep.takeErasures();
  }

  /** Signals of one customer as of an event-time minute. */
  customerSignals(slot: number, nowMin: number): CustomerSignals {
    return this.scorer.score(this.state.view(slot, nowMin));
  }

  /** Periodic work: alert for-durations and resolutions, entity and processor rules, eviction, wall frames. */
  tick(now = this.deps.clock.now()): void {
    const nowMin = Math.floor(this.watermark(now) / MINUTE_MS);
    const single = this.deps.partition === undefined;
    const engine = this.desk.engine;
    if (single) evaluateEntities(engine, this.entities, nowMin, now);
    const stats = this.live.measure(now);
    // The lag rule's subject is the partition, not the processor: its alert moves with it, in its alert hash. In a
    // cluster the model's drift is the leader's to raise, once (alerts/entityRuleEvaluator.ts).
    evaluateProcessor(engine, single ? 'vigil' : `partition-${this.deps.partition}`, stats, now, { slice: true, model: single });
    if (single) evaluateSuppressions(engine, this.suppressions, now);
    const customer = (id: string) => {
      const slot = this.windows.find(id);
      return slot === -1 ? null : this.customerSignals(slot, nowMin);
    };
    engine.tick(now, ruleSampler({ customer, stats: () => this.live.stats, suppressions: this.suppressions, entities: this.entities }, nowMin));
    this.deps.notifier?.tick(now);
    this.windows.evictIdle(nowMin, 50_000, (id) => this.live.forget(id));
    this.live.tickFrames(stats, nowMin, now);
  }

  /**
   * The whole live state as one blob, covering every message handled so far (the caller records which stream
   * sequence that is). Synchronous, so no message is half in it.
   */
  checkpoint(streamSeq: number): Uint8Array {
    const w = new SnapshotWriter();
    // `model`: the version that scored what the checkpoint covers, for the replay after a restore.
    const meta = { streamSeq, maxEventTs: 0, counts: this.counts, rejectReasons: [...this.rejectReasons], atRisk: this.live.savedAtRisk(), model: this.scorer.model.name };
    w.json.pipeline = meta;
    this.state.save(w);
    meta.maxEventTs = this.admission.save(w).maxEventTs;
    this.state.saveActivity(w);
    return w.finish();
  }

  /** Replaces the live state with a checkpoint's; returns the stream sequence it covers. */
  restore(blob: Uint8Array): number {
    const r = new SnapshotReader(blob);
    const meta = r.json.pipeline as { streamSeq: number; maxEventTs: number; counts: Record<Outcome, number>; rejectReasons: [PipelineRejectReason, number][]; atRisk: AtRiskEntry[]; model?: string };
    this.restoredModel = typeof meta.model === 'string' ? meta.model : null;
    Object.assign(this.counts, meta.counts);
    this.rejectReasons.clear();
    for (const [k, v] of meta.rejectReasons) this.rejectReasons.set(k, v);
    this.state.load(r);
    this.admission.load(r, meta.maxEventTs);
    this.state.loadActivity(r);
    this.live.restore(meta.atRisk, this.deps.clock.now());
    return meta.streamSeq;
  }

  /** Hands the activity rows due now to the outputs: every dirty minute, then forgets minutes behind the lateness. */
  drainActivity(now = this.deps.clock.now()): number {
    const closeBefore = this.watermark(now) - this.deps.config.ingest.allowedLatenessMs;
    const rows = this.state.drain(closeBefore, this.deps.outputs);
    this.admission.expire(closeBefore);
    return rows;
  }
}
