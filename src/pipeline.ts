// One event's path through the processor, top to bottom: admit (admission/admit.ts) → apply (windows/apply.ts) → the
// event's row, and the customer and its entities marked dirty. The derive tick (derive()) then scores each dirty customer
// once (signals/score.ts), evaluates its rules and its entities' (alerts/customerRules.ts, alerts/entityRules.ts),
// updates the wall's LiveView (wall/liveView.ts) and writes snapshot rows when due. Privacy events: privacy/livePrivacy.ts.
import { EVENT_LAG_BUCKETS, Histogram } from './shared/histogram.js';
import type { VigilConfig } from './config/schema.js';
import type { VigilEvent } from './contract/event.js';
import type { AlertView, AtRiskEntry } from './contract/frames.js';
import type { ErasureRequest, PipelineOutputs } from './contract/outputs.js';
import type { CustomerSignals, InboundMessage, Outcome, PipelineRejectReason } from './contract/pipeline.js';
import { MINUTE_MS, type Clock } from './shared/clock.js';
import { DirtySet, takenSince } from './shared/dirtySet.js';
import { SnapshotReader, SnapshotWriter, type BlobBuffer } from './shared/snapshotCodec.js';
import { Admission, type Admitted } from './admission/admit.js';
import { ApplyStep } from './windows/apply.js';
import type { CustomerWindows } from './windows/customerWindows.js';
import { Scorer } from './signals/score.js';
import type { PurchaseModelSet } from './signals/purchaseModel.js';
import type { Trend } from './signals/engagement.js';
import type { EntityStats } from './signals/entityStats.js';
import { AlertDesk } from './alerts/alertDesk.js';
import type { AlertStore } from './alerts/alertStore.js';
import { evaluateCustomer } from './alerts/customerRules.js';
import { budgetSuppressions, evaluateEntities, evaluateEntity, evaluateProcessor, evaluateProduct, evaluateSuppressions, type SuppressionSource } from './alerts/entityRules.js';
import { ExperienceOutput } from './signals/experienceOutput.js';
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
  /** While a restart replays the stream after the checkpoint: state and rows are rebuilt (idempotently), alerts are
   * not evaluated (their state in Redis already reflects those events). */
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
  /** The version that scored what followed the restored checkpoint (its `nextModel`; else its `model`). */
  private restoredNextModel: string | null = null;
  /** A newer version waiting for the next checkpoint boundary (stageModel). */
  private stagedModel: PurchaseModelSet | null = null;
  /** Event time to signals computed, per derived customer: its latest event to the derive (vigil_event_to_signal_seconds). */
  readonly eventToSignal = new Histogram(EVENT_LAG_BUCKETS);
  /** Customers (by slot) with events since the last derive, each with its latest event and when it was received. */
  private readonly dirtyCustomers = new DirtySet<VigilEvent>();
  /** Channels, segments and campaigns (by slot) touched since the last derive, with the latest event (single only). */
  private readonly dirtyEntities = new DirtySet<VigilEvent>();
  /** The event being applied, for the entity marks (set around apply: the callback allocates nothing per event). */
  private applying: VigilEvent | null = null;
  private applyingAt = 0;
  private readonly markEntity = (entitySlot: number): void => this.dirtyEntities.add(entitySlot, this.applying!, this.applyingAt);
  /** Products (by their experience table slot) with evidence since the last derive, with the latest event (single only). */
  private readonly dirtyProducts = new DirtySet<VigilEvent>();
  /** Brand experience snapshot rows and wall cells (signals/experienceOutput.ts). */
  private readonly experience: ExperienceOutput;

  constructor(private readonly deps: PipelineDeps) {
    super();
    const { config, clock } = deps;
    this.consent = deps.consent ?? new MemoryConsentStore();
    this.admission = new Admission({ config, consent: this.consent, pseudonymizer: deps.pseudonymizer, partition: deps.partition });
    this.state = new ApplyStep({ config, clock, consent: this.consent });
    this.scorer = new Scorer({ config, model: deps.model, trend: deps.trend, experience: this.state });
    this.experience = new ExperienceOutput({ config, outputs: deps.outputs, products: this.state.products, segments: this.state.segments, windows: this.state.windows, aggregateRows: deps.partition === undefined });
    this.desk = new AlertDesk({ config, clock, alertStore: deps.alertStore, outputs: deps.outputs, onAlert: deps.onAlert, notifier: deps.notifier });
    this.suppressions = budgetSuppressions(this.budget);
    this.live = new LiveView({
      config, clock, desk: this.desk, counts: this.counts, pending: deps.pending, bufferedRows: deps.bufferedRows,
      activeCustomers: () => this.windows.size,
      overload: (nowMin, now) => overloadWithSuppressions(this.entities.overloadCells(nowMin), this.budget.campaignCounts(now)),
      watermark: (now) => this.watermark(now),
      experience: (atMs) => this.experience.cells(atMs),
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
  /** The version that scored the events after the restored checkpoint: the replay scores them with it again. */
  get replayModel(): string | null { return this.restoredNextModel; }
  /** The version staged for the next checkpoint boundary (null: none waiting). */
  get pendingModel(): PurchaseModelSet | null { return this.stagedModel; }

  /** Swaps the purchase model version at once (the replay after a restore; tests); live swaps go through stageModel. */
  setModel(model: PurchaseModelSet): void {
    this.scorer.model = model;
    this.stagedModel = null;
  }

  /**
   * Stages a version (fitted parameters stored or refreshed) to take over at the next checkpoint, right after its
   * snapshot: every event a checkpoint covers since the one before was scored with the version it records.
   */
  stageModel(model: PurchaseModelSet): void {
    this.stagedModel = model === this.scorer.model ? null : model;
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

  /**
   * An accepted event: stored and applied to the live state (windows, minute activity, budget, entity counts); its
   * customer and entities are marked for the next derive, which scores, evaluates and shows them.
   */
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
    const nowMin = Math.floor(watermark / MINUTE_MS);
    // Entity rules are the leader's in a cluster: a partition marks no entity.
    const single = this.deps.partition === undefined;
    if (single) {
      this.applying = ev;
      this.applyingAt = now;
    }
    const slot = this.state.apply(ev, msg.streamSeq, nowMin, this.replaying, single ? this.markEntity : undefined);
    this.applying = null;
    if (single && this.state.lastProductSlot !== -1) this.dirtyProducts.add(this.state.lastProductSlot, ev, now);
    this.dirtyCustomers.add(slot, ev, now);
    this.deps.outputs.event(ev, meta);
    this.live.lag(now - ev.ts);
    this.counts.processed++;
    return 'processed';
  }

  /**
   * The derive step, on its own short tick (signals.deriveIntervalMs) and before every commit and checkpoint: each
   * customer with events since the last derive is scored once as of its latest event, its rules evaluated (not while
   * replaying, as before), the at-risk list updated and its snapshot row written when due; each touched entity's
   * rules evaluated. An evicted or erased customer is not derived. Returns the customers derived. With `more` (a
   * slice's budget) it stops when that runs out, and what is left stays marked for the next call (deriveBacklog).
   */
  derive(now = this.deps.clock.now(), more?: () => boolean): number {
    const engine = this.desk.engine;
    const rules = this.desk.customerRules;
    const evaluate = !this.replaying;
    const derived = this.dirtyCustomers.drain((slot, ev, receivedAt) => {
      // Evicted or erased since it was marked (a slot reused since was marked by its new customer's own event).
      if (!this.windows.holds(slot, ev.customerId)) return;
      const signals = this.scorer.score(this.state.view(slot, this.windows.headMin(slot)));
      if (evaluate) evaluateCustomer(engine, rules, ev, signals, now, receivedAt);
      const due = this.scorer.snapshotDecision(this.windows, slot, signals);
      // While replaying, a customer_signals row written goes with an experience row, moved or not (see endReplay).
      this.experience.customer(slot, signals, this.replaying && due === 'write');
      if (due === 'write') this.deps.outputs.signals(this.scorer.snapshotRow(this.windows, slot, signals));
      // Owed rows are found at the checkpoint by a scan of the flags: no per-customer list to keep. While replaying,
      // every derived customer owes its row (see endReplay).
      else this.windows.setSnapshotOwed(slot, due === 'owe' || this.replaying);
      this.live.trackAtRisk(ev.customerId, signals, now);
      this.eventToSignal.observeMs(now - ev.ts);
    }, more);
    if (this.dirtyEntities.size > 0) {
      if (!evaluate) this.dirtyEntities.clear();
      else {
        const nowMin = Math.floor(this.watermark(now) / MINUTE_MS);
        this.dirtyEntities.drain((slot, ev, receivedAt) => {
          const s = this.entities.signalAt(slot, nowMin);
          if (s) evaluateEntity(engine, s, ev, receivedAt, now);
        }, more);
      }
    }
    if (this.dirtyProducts.size > 0) {
      if (!evaluate) this.dirtyProducts.clear();
      else {
        const at = this.watermark(now);
        this.dirtyProducts.drain((slot, ev, receivedAt) => {
          const s = this.state.products.signalAt(slot, at);
          if (s) evaluateProduct(engine, s, ev, receivedAt, now);
        }, more);
      }
    }
    return derived;
  }

  /** How many customers, entities and products touched since the last derive wait for one. */
  get deriveBacklog(): number { return this.dirtyCustomers.size + this.dirtyEntities.size + this.dirtyProducts.size; }
  /** A test that holds once everything marked until this call has been derived (runtime/deriveCatchUp.ts). */
  markedUntilNow(): () => boolean { return takenSince([this.dirtyCustomers, this.dirtyEntities, this.dirtyProducts]); }

  /**
   * The end of the replay after a restore: what it handled is derived and every customer it touched gets a snapshot
   * row (customer_signals and experience_snapshots) as of its latest event, moved past the step or not. A process
   * killed after its checkpoint may have written rows for these customers at other derive ticks, from events this
   * replay handled again; without this row, such a row could stay the customer's latest while the scores moved back.
   */
  endReplay(): void {
    this.derive();
    this.windows.visitSnapshotOwed(0, (slot) => this.payOwedSnapshot(slot, true));
    this.replaying = false;
  }

  /** One owed snapshot row as of the latest event; at a replay's end with its experience row. */
  private payOwedSnapshot(slot: number, endOfReplay: boolean): void {
    const signals = this.scorer.score(this.state.view(slot, this.windows.headMin(slot)));
    if (endOfReplay) this.experience.customer(slot, signals, true);
    this.deps.outputs.signals(this.scorer.snapshotRow(this.windows, slot, signals));
  }

  /** Owed rows ahead of a checkpoint, from slot `from` while `more()`; where to go on, -1 when done (or replaying). */
  payOwedSnapshotsFrom(from: number, more: () => boolean): number {
    return this.replaying ? -1 : this.windows.visitSnapshotOwed(from, (slot) => this.payOwedSnapshot(slot, false), more);
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

  /** Periodic work: for-durations, resolutions, entity and processor rules, eviction, wall frames, after a derive of what
   * was handled, unless the caller derived what was marked when the tick fell due (deriveCatchUp.ts). */
  tick(now = this.deps.clock.now(), deriveFirst = true): void {
    if (deriveFirst) this.derive(now);
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
    const at = this.watermark(now);
    const product = (id: string) => this.state.products.signal(id, at);
    engine.tick(now, ruleSampler({ customer, stats: () => this.live.stats, suppressions: this.suppressions, entities: this.entities, product }, nowMin));
    this.experience.tick(now);
    this.deps.notifier?.tick(now);
    this.windows.evictIdle(nowMin, 50_000, (id) => this.live.forget(id));
    this.live.tickFrames(stats, nowMin, now);
  }

  /**
   * The whole live state as one blob, covering every message handled so far (the caller records which stream
   * sequence that is). Synchronous, so no message is half in it. Derives first and writes the snapshot rows owed,
   * so the rows of the commit that goes with it and the checkpoint hold the same derived state.
   */
  checkpoint(streamSeq: number, into?: BlobBuffer): Uint8Array {
    this.derive();
    this.windows.visitSnapshotOwed(0, (slot) => this.payOwedSnapshot(slot, false));
    const w = new SnapshotWriter();
    // The checkpoint is the model's boundary: `model` scored what it covers, `nextModel` (a staged version, taking
    // over once the blob is written) scores what follows, so the replay after a restore scores with it again.
    const next = this.stagedModel ?? this.scorer.model;
    const meta = { streamSeq, maxEventTs: 0, counts: this.counts, rejectReasons: [...this.rejectReasons], atRisk: this.live.savedAtRisk(), model: this.scorer.model.name, nextModel: next.name };
    w.json.pipeline = meta;
    this.state.save(w);
    meta.maxEventTs = this.admission.save(w).maxEventTs;
    this.state.saveActivity(w);
    const blob = w.finish(into);
    this.scorer.model = next;
    this.stagedModel = null;
    return blob;
  }

  /** Replaces the live state with a checkpoint's; returns the stream sequence it covers. */
  restore(blob: Uint8Array): number {
    const r = new SnapshotReader(blob);
    const meta = r.json.pipeline as { streamSeq: number; maxEventTs: number; counts: Record<Outcome, number>; rejectReasons: [PipelineRejectReason, number][]; atRisk: AtRiskEntry[]; model?: string; nextModel?: string };
    this.restoredModel = typeof meta.model === 'string' ? meta.model : null;
    this.restoredNextModel = typeof meta.nextModel === 'string' ? meta.nextModel : this.restoredModel;
    Object.assign(this.counts, meta.counts);
    this.rejectReasons.clear();
    for (const [k, v] of meta.rejectReasons) this.rejectReasons.set(k, v);
    this.state.load(r);
    this.admission.load(r, meta.maxEventTs);
    this.state.loadActivity(r);
    this.live.restore(meta.atRisk, this.deps.clock.now());
    // Marks of slots before the restore name customers of another state.
    this.dirtyCustomers.clear();
    this.dirtyEntities.clear();
    this.dirtyProducts.clear();
    return meta.streamSeq;
  }

  /** Hands the activity rows due now to the outputs: every dirty minute, then forgets minutes behind the lateness (with
   * `more`, ahead of a commit in slices: dirty minutes only, while it answers true; -1 while some are left). */
  drainActivity(now = this.deps.clock.now(), more?: () => boolean): number {
    const closeBefore = this.watermark(now) - this.deps.config.ingest.allowedLatenessMs;
    const rows = this.state.drain(closeBefore, this.deps.outputs, more);
    if (more === undefined) this.admission.expire(closeBefore);
    return rows;
  }
}
