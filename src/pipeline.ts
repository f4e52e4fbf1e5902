// The event's path through the processor, in order: parse, deduplicate, privacy, windows, signals, alerts, outputs.
import { EVENT_LAG_BUCKETS, Histogram } from './shared/histogram.js';
import type { AlertRule, VigilConfig } from './config/schema.js';
import { categoryOf, touchChannel, type VigilEvent } from './contract/event.js';
import type { AlertGroupCount, AlertTotals, AlertView, AtRiskEntry, OverloadCell, ProcessorStats, Silence, SilenceInput, SnapshotFrame, WallFrame } from './contract/frames.js';
import type { ErasureRequest, PipelineOutputs } from './contract/outputs.js';
import { MINUTE_MS, type Clock } from './shared/clock.js';
import { SnapshotReader, SnapshotWriter } from './shared/snapshotCodec.js';
import { parseEvent, type ParseLimits, type RejectReason } from './sources/parse.js';
import { CustomerWindows, emptyView, type CustomerView, type TouchChannel } from './windows/customerWindows.js';
import { EventDedup } from './windows/eventDedup.js';
import { MinuteActivity } from './windows/minuteActivity.js';
import { churnSignal, type ChurnSignal, type PurchaseModel } from './signals/churn.js';
import { engagementSignal, trendInput, type EngagementSignal, type Trend } from './signals/engagement.js';
import { EntityStats, type EntityKind, type EntitySignal } from './signals/entityStats.js';
import { fatigueSignal, type FatigueSignal } from './signals/fatigue.js';
import type { Sample } from './alerts/alertStateMachine.js';
import type { AlertStore } from './alerts/alertStore.js';
import { AlertEngine, alertLabels, type Subject } from './alerts/engine.js';
import type { AlertNotifier } from './alerts/notifier.js';
import { MemoryConsentStore, type ConsentStore } from './privacy/consent.js';
import { deadLetterPayload, type Pseudonymizer } from './privacy/pseudonym.js';
import { ContactBudget } from './budget/contactBudget.js';
import { customerToken, parseEventSubject, partitionOf } from './cluster/partitioning.js';

export interface InboundMessage {
  subject: string;
  data: Uint8Array;
  streamSeq: number;
  receivedAt: number;
}

export interface CustomerSignals {
  view: CustomerView;
  engagement: EngagementSignal;
  churn: ChurnSignal;
  fatigue: FatigueSignal;
}

/**
 * Reasons the pipeline itself gives, beside the parser's: WRONG_PARTITION is an event whose subject puts it in a
 * partition that is not its customer token's (published straight to `<prefix>.part.<k>…`, past the server's mapping).
 */
export type PipelineRejectReason = RejectReason | 'WRONG_PARTITION';

/** Privacy events: honoured whatever their event time and however often they come (each is idempotent). */
const PRIVACY_TYPES: ReadonlySet<string> = new Set(['erase_request', 'consent_withdrawn', 'consent_granted']);

/** Why an event was processed or not; the counters behind /metrics. */
export type Outcome = 'processed' | 'duplicate' | 'late' | 'rejected' | 'dropped_consent';

export interface PipelineDeps {
  config: VigilConfig;
  clock: Clock;
  outputs: PipelineOutputs;
  /** The purchase model at start; replaced by setModel when fitted parameters are stored or refreshed. */
  model: PurchaseModel;
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
   * `<prefix>.part.<k>.<type>.<customerToken>`, and the token must be the customer's. Absent: one processor holds all.
   */
  partition?: number;
  /**
   * Whether this pipeline evaluates the channel, segment and campaign rules (default true). Off for a partition's
   * pipeline in a cluster, where they need every partition's counts: the leader evaluates them on the combined ones.
   */
  entityRules?: boolean;
  /** The subject key of the processor rules (lag, pending), or null to evaluate none here. Default 'vigil'. */
  processorKey?: string | null;
  /** Entity statistics to read instead of the pipeline's own (the leader's combined ones in a cluster). */
  entities?: EntityStats;
  /**
   * The `suppressed_customers` samples per campaign, when they come from elsewhere than this pipeline's budget (the
   * leader's: every processor's counts, summed; a customer's checks are counted by its own partition only).
   */
  campaignSuppressions?: (now: number) => { campaignId: string; value: number; reasons: string[] }[];
}

const STATS_HISTORY = 300;

export class Pipeline {
  readonly windows: CustomerWindows;
  readonly entities: EntityStats;
  readonly alerts: AlertEngine;
  /** The contact budget senders ask before they touch a customer; it reads these windows. */
  readonly budget: ContactBudget;
  readonly counts: Record<Outcome, number> = { processed: 0, duplicate: 0, late: 0, rejected: 0, dropped_consent: 0 };
  readonly rejectReasons = new Map<PipelineRejectReason | 'CONSENT_WITHDRAWN', number>();

  private readonly limits: ParseLimits;
  private readonly subjectPrefix: string;
  private readonly entityRules: boolean;
  private readonly processorKey: string | null;
  private readonly dedup = new EventDedup();
  /** The one view customerSignals fills for every event (valid until its next call): reading allocates nothing. */
  private readonly scratchView = emptyView();
  private readonly customerActivity = new MinuteActivity();
  private readonly entityActivity = new MinuteActivity();
  private customerRules: readonly AlertRule[];
  private readonly atRisk = new Map<string, AtRiskEntry>();
  private readonly consent: ConsentStore;
  private erasures: ErasureRequest[] = [];
  private readonly listeners = new Set<(f: WallFrame) => void>();
  private readonly statsHistory: ProcessorStats[] = [];
  private readonly weights: Map<string, number>;
  private readonly startedAt: number;
  private maxEventTs = 0;
  /**
   * True while a restart replays the stream after the checkpoint: state and ClickHouse rows are rebuilt
   * (idempotently), but alerts are not evaluated, since their state in Redis already reflects those events.
   */
  replaying = false;
  private lagSamples: number[] = [];
  readonly eventToSignal = new Histogram(EVENT_LAG_BUCKETS);
  private lastTick: { at: number; processed: number };
  private lastStats: ProcessorStats;

  constructor(private readonly deps: PipelineDeps) {
    const { config, clock } = deps;
    this.consent = deps.consent ?? new MemoryConsentStore();
    this.limits = config.ingest;
    this.subjectPrefix = `${config.nats.subjectPrefix}.`;
    this.windows = new CustomerWindows({ maxCustomers: config.windows.maxCustomers, idleEvictMin: Math.ceil(config.windows.idleEvictMs / MINUTE_MS) });
    this.entities = deps.entities ?? new EntityStats(config.signals.surge, config.windows.maxEntities);
    this.entityRules = deps.entityRules ?? true;
    this.processorKey = deps.processorKey === undefined ? 'vigil' : deps.processorKey;
    this.alerts = new AlertEngine(config.alerts.rules, deps.alertStore, (view) => this.alertChanged(view), config.windows.idleEvictMs);
    this.customerRules = this.alerts.rulesFor('customer');
    this.budget = new ContactBudget({ windows: this.windows, config, clock, consentWithdrawn: (id) => this.consent.isWithdrawn(id) });
    this.weights = new Map(Object.entries(defaultWeights()).concat(Object.entries(config.signals.eventWeights)));
    this.startedAt = clock.now();
    this.lastTick = { at: this.startedAt, processed: 0 };
    this.lastStats = this.computeStats(this.startedAt);
  }

  /** Event time the processor has reached: the latest event time seen, never ahead of the clock. */
  watermark(now = this.deps.clock.now()): number {
    return this.maxEventTs === 0 ? now : Math.min(this.maxEventTs, now);
  }

  /** One message through every stage. Never throws on bad input: it becomes a rejected record with its reason. */
  handle(msg: InboundMessage): Outcome {
    const now = msg.receivedAt;
    let expectedType: string | null;
    let token: string | null = null;
    if (this.deps.partition === undefined) {
      expectedType = msg.subject.startsWith(this.subjectPrefix) ? msg.subject.slice(this.subjectPrefix.length) : null;
      // `<prefix>.<type>.<customerToken>` (the cluster's form, mapped or not): producers may move to it first.
      if (expectedType !== null && expectedType.includes('.')) {
        const at = parseEventSubject(msg.subject, this.deps.config.nats.subjectPrefix);
        if (at.kind === 'unmapped' || at.kind === 'partitioned') {
          expectedType = at.type;
          token = at.token;
        }
      }
    } else {
      const at = parseEventSubject(msg.subject, this.deps.config.nats.subjectPrefix);
      if (at.kind !== 'partitioned' || at.partition !== this.deps.partition) {
        return this.reject(msg, 'UNPARTITIONED', `subject ${msg.subject.slice(0, 200)} is not in partition ${this.deps.partition}`, 'rejected');
      }
      // The server's mapping puts a token in one partition only; a producer publishing on `.part.<k>.` itself could
      // put one customer in two partitions (two processors, two windows, two budgets).
      const partitions = this.deps.config.cluster.partitions;
      if (partitions > 0 && partitionOf(at.token, partitions) !== at.partition) {
        return this.reject(msg, 'WRONG_PARTITION', `subject partition ${at.partition} is not the customer token's partition (${partitions} partitions): published past the server's mapping`, 'rejected');
      }
      expectedType = at.type;
      token = at.token;
    }
    let parsed = parseEvent(msg.data, expectedType, now, this.limits);
    // A privacy request is honoured however old (ingest.maxPastMs bounds analytics, not a person's rights); the
    // future bound stays, so a grant stamped ahead cannot shield itself from later withdrawals.
    if (!parsed.ok && parsed.reason === 'TIMESTAMP_OUT_OF_RANGE') {
      const old = parseEvent(msg.data, expectedType, now, { ...this.limits, maxPastMs: Number.POSITIVE_INFINITY });
      if (old.ok && PRIVACY_TYPES.has(old.event.type)) parsed = old;
    }
    if (!parsed.ok) return this.reject(msg, parsed.reason, parsed.detail, 'rejected');
    const ev = parsed.event;
    // A customer lives in one partition only: an event whose subject names another customer would split it in two.
    if (token !== null && customerToken(ev.customerId) !== token) {
      return this.reject(msg, 'SUBJECT_MISMATCH', `customer token "${token.slice(0, 64)}" in the subject is not the token of customerId`, 'rejected');
    }
    // Before anything else sees the id: dedup, consent, windows, outputs and alerts only ever hold the pseudonym.
    if (this.deps.pseudonymizer) ev.customerId = this.deps.pseudonymizer.pseudonym(ev.customerId);

    if (ev.ts > this.maxEventTs) this.maxEventTs = ev.ts;
    const watermark = this.watermark(now);
    const late = ev.ts < watermark - this.deps.config.ingest.allowedLatenessMs;
    // Privacy events skip both checks: a late or repeated request is carried out all the same (each is idempotent).
    if (PRIVACY_TYPES.has(ev.type)) return this.privacyEvent(ev, msg, late);
    if (late) {
      const behind = Math.round((watermark - ev.ts) / 1000);
      return this.reject(msg, 'LATE_EVENT', `event time is ${behind} s behind the watermark, allowed lateness ${this.deps.config.ingest.allowedLatenessMs / 1000} s`, 'late');
    }
    if (!this.dedup.firstSeen(ev.id, ev.ts)) {
      this.counts.duplicate++;
      // Its stream message is the customer's too: indexed, so erasure deletes it along with the first delivery's.
      this.deps.outputs.unstored?.({ customerId: ev.customerId, streamSeq: msg.streamSeq, receivedAt: now, reason: 'duplicate' });
      return 'duplicate';
    }

    // After a withdrawal nothing is stored or scored until a grant.
    if (this.consent.isWithdrawn(ev.customerId)) {
      this.deps.outputs.unstored?.({ customerId: ev.customerId, streamSeq: msg.streamSeq, receivedAt: now, reason: 'consent_withdrawn' });
      this.counts.dropped_consent++;
      this.rejectReasons.set('CONSENT_WITHDRAWN', (this.rejectReasons.get('CONSENT_WITHDRAWN') ?? 0) + 1);
      return 'dropped_consent';
    }

    return this.record(ev, msg, now, watermark);
  }

  /**
   * erase_request, consent_withdrawn, consent_granted, whatever their event time and however often they come. An
   * erasure is never stored; a withdrawal or grant is recorded like any event (events, customer_activity) when it is
   * on time and seen first, and only in `events` (one row per id) when late or repeated. A grant older than the
   * withdrawal in force is ignored (kept on record, without effect).
   */
  private privacyEvent(ev: VigilEvent, msg: InboundMessage, late: boolean): Outcome {
    if (ev.type === 'erase_request') return this.erase(ev, msg.streamSeq);
    const first = !late && this.dedup.firstSeen(ev.id, ev.ts);
    // A repeat's `events` row replaces the first one's (same id), stream sequence included: the new one is indexed.
    if (!first) this.deps.outputs.unstored?.({ customerId: ev.customerId, streamSeq: msg.streamSeq, receivedAt: msg.receivedAt, reason: 'privacy_repeat' });
    if (ev.type === 'consent_withdrawn') {
      this.consent.withdraw(ev.customerId, ev.ts);
      if (!first) {
        this.deps.outputs.event(ev, { streamSeq: msg.streamSeq, receivedAt: msg.receivedAt });
        this.withdrawnLive(ev);
        return 'processed';
      }
    } else {
      const granted = this.consent.grant(ev.customerId, ev.ts);
      if (!first || !granted) {
        this.deps.outputs.event(ev, { streamSeq: msg.streamSeq, receivedAt: msg.receivedAt });
        // The contact budget reads consent from the store: told, it lifts (or keeps) the customer's suppression.
        this.budget.onEvent(ev, -1, this.replaying);
        this.counts.processed++;
        return 'processed';
      }
    }
    return this.record(ev, msg, msg.receivedAt, this.watermark(msg.receivedAt));
  }

  /** The customer leaves live scoring after a withdrawal; senders are told at once (every channel suppressed). */
  private withdrawnLive(ev: VigilEvent): void {
    if (this.forgetLive(ev.customerId).held) this.emit(this.snapshot());
    this.budget.onEvent(ev, -1, this.replaying);
    this.counts.processed++;
  }

  /** An accepted event into the outputs, windows, signals and alerts. */
  private record(ev: VigilEvent, msg: InboundMessage, now: number, watermark: number): Outcome {
    this.deps.outputs.event(ev, { streamSeq: msg.streamSeq, receivedAt: now });
    const revenue = ev.type === 'purchase' ? (ev.value ?? 0) : 0;
    this.customerActivity.add(`${ev.customerId}\u0000${ev.type}`, ev.ts, revenue, msg.streamSeq);
    if (ev.type === 'consent_withdrawn') {
      // The withdrawal itself is on record (events, customer_activity); the customer leaves live scoring.
      this.withdrawnLive(ev);
      return 'processed';
    }
    const slot = this.windows.slotFor(ev.customerId);
    this.windows.record(slot, ev, this.weightOf(ev.type));
    this.budget.onEvent(ev, slot, this.replaying);

    const category = categoryOf(ev.type);
    const nowMin = Math.floor(watermark / MINUTE_MS);
    const signals = this.customerSignals(slot, nowMin);
    this.recordEntities(ev, category, signals.view, msg.streamSeq);

    if (!this.replaying) {
      const subject = { kind: 'customer' as const, key: ev.customerId };
      let trigger: Sample['trigger'] = null;
      let context: Record<string, string> | null = null;
      for (const rule of this.customerRules) {
        const value = customerRuleValue(rule, signals);
        // Below threshold with no alert open for the customer (nearly every event): no sample to build.
        if (value === null || !this.alerts.matters(rule, subject, value)) continue;
        trigger ??= { eventId: ev.id, eventTs: ev.ts, receivedAt: now };
        context ??= eventLabels(ev);
        // Reasons are read only when the sample breaches or an alert is open: the customer value behind them is not
        // worked out for every event.
        this.alerts.observe(rule, subject, { value, get reasons() { return customerReasons(rule, signals); }, trigger, labels: context }, now);
      }
      if (this.entityRules) this.observeEntities(ev, nowMin, now);
    }
    this.trackAtRisk(ev.customerId, signals, now);
    this.maybeSnapshot(slot, signals, ev.ts);

    this.counts.processed++;
    this.lagSamples.push(now - ev.ts);
    this.eventToSignal.observeMs(now - ev.ts);
    return 'processed';
  }

  /** Signals of one customer as of an event-time minute. */
  customerSignals(slot: number, nowMin: number): CustomerSignals {
    const cfg = this.deps.config.signals;
    const view = this.windows.view(slot, nowMin, this.scratchView);
    const series = trendInput(view, cfg.trendDays);
    const engagement = engagementSignal(view, cfg.engagementScale, series ? this.deps.trend(series) : null);
    return { view, engagement, churn: churnSignal(view, engagement, this.model, cfg.trendDays), fatigue: fatigueSignal(view, cfg.caps) };
  }

  /** The purchase model signals are computed with now; its name goes with every snapshot. */
  get model(): PurchaseModel {
    return this.deps.model;
  }

  /** Swaps the purchase model (fitted parameters stored or refreshed); the next signals use it. */
  setModel(model: PurchaseModel): void {
    this.deps.model = model;
  }

  /**
   * The whole live state as one blob, covering every message handled so far (the caller records which stream
   * sequence that is). Synchronous, so no message is half in it.
   */
  checkpoint(streamSeq: number): Uint8Array {
    const w = new SnapshotWriter();
    w.json.pipeline = {
      streamSeq,
      maxEventTs: this.maxEventTs,
      counts: this.counts,
      rejectReasons: [...this.rejectReasons],
      atRisk: [...this.atRisk.values()],
    };
    this.windows.save(w);
    this.entities.save(w);
    this.dedup.save(w);
    this.customerActivity.save(w, 'customerActivity');
    this.entityActivity.save(w, 'entityActivity');
    return w.finish();
  }

  /** Replaces the live state with a checkpoint's; returns the stream sequence it covers. */
  restore(blob: Uint8Array): number {
    const r = new SnapshotReader(blob);
    const meta = r.json.pipeline as { streamSeq: number; maxEventTs: number; counts: Record<Outcome, number>; rejectReasons: [RejectReason, number][]; atRisk: AtRiskEntry[] };
    this.maxEventTs = meta.maxEventTs;
    Object.assign(this.counts, meta.counts);
    this.rejectReasons.clear();
    for (const [k, v] of meta.rejectReasons) this.rejectReasons.set(k, v);
    this.atRisk.clear();
    for (const e of meta.atRisk) this.atRisk.set(e.customerId, e);
    this.windows.load(r);
    this.entities.load(r);
    this.dedup.load(r);
    this.customerActivity.load(r, 'customerActivity');
    this.entityActivity.load(r, 'entityActivity');
    this.lastTick = { at: this.deps.clock.now(), processed: this.counts.processed };
    return meta.streamSeq;
  }

  /** Hands the activity rows due now to the outputs: every dirty minute, then forgets minutes behind the lateness. */
  drainActivity(now = this.deps.clock.now()): number {
    const closeBefore = this.watermark(now) - this.deps.config.ingest.allowedLatenessMs;
    let rows = 0;
    const outputs = this.deps.outputs;
    // Keys are `customer\0type` and `kind\0key\0type`, cut at their separators (split would make an array per row);
    // the type is cut at the last one, as it is the only part that never holds a \0 (parse.ts checks its pattern).
    this.customerActivity.drainEach(closeBefore, (k, minuteMs, events, revenue, _overloaded, writer, version) => {
      const at = k.lastIndexOf('\u0000');
      outputs.customerActivity({ customerId: k.slice(0, at), eventType: k.slice(at + 1), minuteMs, events, revenue, writer, version });
      rows++;
    });
    this.entityActivity.drainEach(closeBefore, (k, minuteMs, events, revenue, overloaded, writer, version) => {
      const a = k.indexOf('\u0000');
      const b = k.lastIndexOf('\u0000');
      outputs.entityActivity({ kind: k.slice(0, a) as EntityKind, key: k.slice(a + 1, b), eventType: k.slice(b + 1), minuteMs, events, revenue, overloaded, writer, version });
      rows++;
    });
    this.dedup.expire(closeBefore);
    return rows;
  }

  /** Periodic work: alert for-durations and resolutions, entity and processor rules, eviction, wall frames. */
  tick(now = this.deps.clock.now()): void {
    const nowMin = Math.floor(this.watermark(now) / MINUTE_MS);
    if (this.entityRules) for (const e of this.entities.all(nowMin)) this.observeEntity(e, null, now);
    const stats = this.computeStats(now);
    const processorKey = this.processorKey;
    if (processorKey !== null) {
      for (const rule of this.alerts.rulesFor('processor')) {
        const value = rule.signal === 'lag_ms' ? stats.lagMs : rule.signal === 'pending_events' ? stats.pending : null;
        if (value !== null) this.alerts.observe(rule, { kind: 'processor', key: processorKey }, { value, reasons: [`${rule.signal} ${Math.round(value)}`], trigger: null }, now);
      }
    }
    if (this.entityRules) this.observeSuppressions(now);
    this.alerts.tick(now, (rule, subject) => this.sample(rule, subject, nowMin));
    this.deps.notifier?.tick(now);
    this.windows.evictIdle(nowMin, 50_000, (id) => this.atRisk.delete(id));
    // Totals over every active alert ride on the current stats only, not on the history.
    this.lastStats = { ...stats, alerts: this.alertTotals(now) };
    this.emit({ type: 'stats', stats: this.lastStats });
    this.emit({ type: 'at_risk', atRisk: this.atRiskList() });
    this.emit({ type: 'overload', overload: this.overloadCells(nowMin, now) });
  }

  /** Campaigns the contact budget suppressed checks for, through the `suppressed_customers` rules. */
  private observeSuppressions(now: number): void {
    const rules = this.alerts.rulesFor('campaign').filter((r) => r.signal === 'suppressed_customers');
    if (rules.length === 0) return;
    if (this.deps.campaignSuppressions) {
      for (const s of this.deps.campaignSuppressions(now)) {
        for (const rule of rules) this.alerts.observe(rule, { kind: 'campaign', key: s.campaignId }, { value: s.value, reasons: s.reasons, trigger: null }, now);
      }
      return;
    }
    const campaigns = new Set(this.budget.campaignCounts(now).map((c) => c.campaignId));
    for (const campaign of campaigns) {
      if (campaign === null) continue;
      const sample = this.budget.campaignSample(campaign, now);
      if (sample) for (const rule of rules) this.alerts.observe(rule, { kind: 'campaign', key: campaign }, { ...sample, trigger: null }, now);
    }
  }

  /** Overload per channel, segment and campaign, with the contact budget's suppressions per campaign and channel. */
  private overloadCells(nowMin: number, now: number): OverloadCell[] {
    const cells = this.entities.overloadCells(nowMin);
    const counts = this.budget.campaignCounts(now);
    if (counts.length === 0) return cells;
    const byKey = new Map(cells.map((c) => [`${c.kind}\u0000${c.key}`, c]));
    const add = (kind: 'channel' | 'campaign', key: string, channel: string, suppressed: number, checked: number) => {
      let cell = byKey.get(`${kind}\u0000${key}`);
      if (!cell) byKey.set(`${kind}\u0000${key}`, (cell = { kind, key, touches24h: 0, overloadedCustomers: 0, negatives1h: 0, surgeZ: 0 }));
      const copy = byKey.get(`${kind}\u0000${key}`)!;
      const next: OverloadCell = { ...copy, suppressed: (copy.suppressed ?? 0) + suppressed, checked: (copy.checked ?? 0) + checked, suppressedByChannel: { ...copy.suppressedByChannel } };
      next.suppressedByChannel![channel] = (next.suppressedByChannel![channel] ?? 0) + suppressed;
      byKey.set(`${kind}\u0000${key}`, next);
    };
    for (const c of counts) {
      add('channel', c.channel, c.channel, c.suppressed, c.checked);
      if (c.campaignId !== null) add('campaign', c.campaignId, c.channel, c.suppressed, c.checked);
    }
    return [...byKey.values()];
  }

  /** Replaces the alert rules without a restart; alerts of removed rules resolve at the next tick. */
  setRules(rules: AlertRule[]): void {
    this.alerts.setRules(rules);
    this.customerRules = this.alerts.rulesFor('customer');
  }

  addSilence(input: SilenceInput): { ok: true; silence: Silence } | { ok: false; error: string } {
    if (!this.deps.notifier) return { ok: false, error: 'silences need the notifier' };
    const r = this.deps.notifier.addSilence(input, this.deps.clock.now());
    if (r.ok) this.emitSilences();
    return r;
  }

  expireSilence(id: string): boolean {
    const done = this.deps.notifier?.expireSilence(id, this.deps.clock.now()) ?? false;
    if (done) this.emitSilences();
    return done;
  }

  listSilences(): Silence[] {
    return this.deps.notifier?.listSilences(this.deps.clock.now()) ?? [];
  }

  private emitSilences(): void {
    this.emit({ type: 'silences', silences: this.listSilences() });
  }

  acknowledge(alertId: string, by: string): boolean {
    return this.alerts.acknowledge(alertId, by, this.deps.clock.now());
  }

  snapshot(): SnapshotFrame {
    const now = this.deps.clock.now();
    return {
      type: 'snapshot',
      serverTime: now,
      stats: this.lastStats,
      statsHistory: [...this.statsHistory],
      atRisk: this.atRiskList(),
      overload: this.overloadCells(Math.floor(this.watermark(now) / MINUTE_MS), now),
      alerts: this.alerts.views().map((a) => this.withSilences(a, now)),
      silences: this.deps.notifier?.listSilences(now) ?? [],
    };
  }

  subscribe(listener: (f: WallFrame) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get stats(): ProcessorStats {
    return this.lastStats;
  }

  private emit(frame: WallFrame): void {
    for (const l of this.listeners) l(frame);
  }

  private alertChanged(view: AlertView): void {
    const now = this.deps.clock.now();
    const shown = this.withSilences(view, now);
    this.deps.outputs.alert(shown, now);
    this.emit({ type: 'alert', alert: shown });
    this.deps.onAlert?.(shown);
    this.deps.notifier?.onAlert(shown, now);
  }

  /**
   * Counts over every active alert, and customer alerts by rule and campaign, for screens that hold only some. Runs
   * every tick over thousands of alerts: it reads the records as they are, and works out labels only while a silence
   * is active.
   */
  private alertTotals(now: number): AlertTotals {
    const totals: AlertTotals = { firing: 0, pending: 0, acknowledged: 0, silenced: 0, unattended: 0, customerGroups: [] };
    const groups = new Map<string, AlertGroupCount>();
    const notifier = this.deps.notifier;
    const anySilence = notifier !== undefined && notifier.listSilences(now).some((s) => s.startsAt <= now && now < s.endsAt);
    for (const { record: r, rule } of this.alerts.activeRecords()) {
      const firing = r.state === 'firing';
      const acknowledged = firing && r.acknowledged !== null;
      const silenced = anySilence && notifier.silencedBy(alertLabels(rule, r), now).length > 0;
      if (firing) totals.firing++;
      else totals.pending++;
      if (acknowledged) totals.acknowledged++;
      if (silenced) totals.silenced++;
      if (firing && !acknowledged && !silenced) totals.unattended++;
      if (r.subject.kind !== 'customer') continue;
      // As alertLabels merges them: a rule's own labels win over the triggering event's.
      const campaign = rule?.labels?.campaign ?? r.labels?.campaign ?? null;
      const key = `${r.rule}\u0000${campaign ?? ''}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { rule: r.rule, campaign, firing: 0, pending: 0, acknowledged: 0, silenced: 0 }));
      if (firing) group.firing++;
      else group.pending++;
      if (acknowledged) group.acknowledged++;
      if (silenced) group.silenced++;
    }
    totals.customerGroups = [...groups.values()].sort((a, b) => b.firing + b.pending - (a.firing + a.pending)).slice(0, 50);
    return totals;
  }

  private withSilences(view: AlertView, now: number): AlertView {
    const ids = this.deps.notifier?.silencedBy(view.labels, now) ?? [];
    return ids.length > 0 ? { ...view, silencedBy: ids } : view;
  }

  private reject(msg: InboundMessage, reason: PipelineRejectReason, detail: string, outcome: Outcome): Outcome {
    this.counts[outcome]++;
    this.rejectReasons.set(reason, (this.rejectReasons.get(reason) ?? 0) + 1);
    const p = this.deps.pseudonymizer;
    // A dead letter names its customer (for erasure); under pseudonymization by the pseudonym, in the payload too.
    const letter = deadLetterPayload(msg.data, p ? (id) => p.hash(id) : null);
    this.deps.outputs.rejected({
      receivedAt: msg.receivedAt, reason, detail, subject: msg.subject, streamSeq: msg.streamSeq,
      payload: letter.payload, customerId: letter.customerId, payloadBytes: msg.data.byteLength,
    });
    return outcome;
  }

  /**
   * Drops a customer from live scoring: windows, the at-risk list, alerts and their notification groups. Returns
   * whether anything was held, and how many entries of Redis-backed state (alerts, groups, silences) went.
   */
  private forgetLive(customerId: string): { held: boolean; redisEntries: number } {
    const inWindows = this.windows.remove(customerId);
    const atRisk = this.atRisk.delete(customerId);
    const alerts = this.alerts.forgetSubject({ kind: 'customer', key: customerId });
    const groups = this.deps.notifier?.forgetSubject('customer', customerId) ?? 0;
    return { held: inWindows || atRisk || alerts + groups > 0, redisEntries: alerts + groups };
  }

  /**
   * An erase_request: the customer leaves every piece of live state now, including minute buckets not yet
   * written, the consent record and the pseudonym's original; the processor erases the rest (ClickHouse, Redis,
   * the stream) at its next checkpoint, from the request handed over by takeErasures().
   */
  private erase(ev: VigilEvent, streamSeq: number): Outcome {
    const id = ev.customerId;
    const live = this.forgetLive(id);
    this.budget.forget(id);
    this.customerActivity.forget(`${id}\u0000`);
    const consentRecord = this.consent.isWithdrawn(id) ? 1 : 0;
    this.consent.forget(id);
    this.deps.pseudonymizer?.forget(id);
    const requestedBy = typeof ev.props?.requestedBy === 'string' ? ev.props.requestedBy.slice(0, 128) : '';
    this.erasures.push({
      customerId: id,
      requestId: ev.id,
      requestedAt: ev.ts,
      requestedBy,
      via: ev.props?.via === 'cli' ? 'cli' : 'event',
      streamSeq,
      liveState: live.held,
      redisEntries: live.redisEntries + consentRecord,
    });
    this.counts.processed++;
    // Every screen drops the customer at once: a snapshot supersedes what the wall clients hold.
    this.emit(this.snapshot());
    return 'processed';
  }

  /** The erasure requests handled since the last call, for the processor to carry out. */
  takeErasures(): ErasureRequest[] {
    const out = this.erasures;
    this.erasures = [];
    return out;
  }

  private weightOf(type: string): number {
    return this.weights.get(type) ?? this.deps.config.signals.defaultWeight;
  }

  private recordEntities(ev: VigilEvent, category: string, view: CustomerView, streamSeq: number): void {
    const tMin = Math.floor(ev.ts / MINUTE_MS);
    const touch = category === 'touch';
    const negative = category === 'negative';
    let overloaded = false;
    let channel = ev.channel;
    if (touch) {
      const ch = touchChannel(ev.type, ev.channel) as TouchChannel;
      channel = ch;
      const caps = this.deps.config.signals.caps;
      const all = view.touches24h.email + view.touches24h.push + view.touches24h.sms + view.touches24h.other;
      // Count the touch that takes a customer over a cap, once per crossing: distinct customers pushed over.
      overloaded = (caps[ch] !== undefined && view.touches24h[ch] === caps[ch].perDay + 1) || (caps.all !== undefined && all === caps.all.perDay + 1);
    }
    const what = { touch, negative, overloaded };
    const revenue = ev.type === 'purchase' ? (ev.value ?? 0) : 0;
    if (channel) this.entityEvent('channel', channel, ev, tMin, what, revenue, streamSeq);
    if (ev.segment) this.entityEvent('segment', ev.segment, ev, tMin, what, revenue, streamSeq);
    if (ev.campaignId) this.entityEvent('campaign', ev.campaignId, ev, tMin, what, revenue, streamSeq);
  }

  private entityEvent(kind: EntityKind, key: string, ev: VigilEvent, tMin: number, what: { touch: boolean; negative: boolean; overloaded: boolean }, revenue: number, streamSeq: number): void {
    this.entities.record(kind, key, tMin, what);
    this.entityActivity.add(`${kind}\u0000${key}\u0000${ev.type}`, ev.ts, revenue, streamSeq, what.overloaded);
  }

  private observeEntities(ev: VigilEvent, nowMin: number, now: number): void {
    const channel = categoryOf(ev.type) === 'touch' ? touchChannel(ev.type, ev.channel) : ev.channel;
    if (channel) this.observeEntityOf('channel', channel, ev, nowMin, now);
    if (ev.segment) this.observeEntityOf('segment', ev.segment, ev, nowMin, now);
    if (ev.campaignId) this.observeEntityOf('campaign', ev.campaignId, ev, nowMin, now);
  }

  private observeEntityOf(kind: EntityKind, key: string, ev: VigilEvent, nowMin: number, now: number): void {
    const rules = this.alerts.rulesFor(kind);
    if (rules.length === 0) return;
    const s = this.entities.signal(kind, key, nowMin);
    if (!s) return;
    const subject = { kind, key };
    for (const rule of rules) {
      // Sampled from the contact budget's tally, not from the entity's event counts (observeSuppressions).
      if (rule.signal === 'suppressed_customers') continue;
      const value = entityValue(rule, s);
      // As for customers: a sample that cannot change an alert is not built (its reasons are sentences).
      if (value === null || !this.alerts.matters(rule, subject, value)) continue;
      const sample = entitySample(rule, s, { eventId: ev.id, eventTs: ev.ts, receivedAt: now });
      if (sample) this.alerts.observe(rule, subject, sample, now);
    }
  }

  private observeEntity(s: EntitySignal, trigger: Sample['trigger'], now: number): void {
    for (const rule of this.alerts.rulesFor(s.kind)) {
      // Sampled from the contact budget's tally, not from the entity's event counts (observeSuppressions).
      if (rule.signal === 'suppressed_customers') continue;
      const sample = entitySample(rule, s, trigger);
      if (sample) this.alerts.observe(rule, { kind: s.kind, key: s.key }, sample, now);
    }
  }

  private sample(rule: AlertRule, subject: Subject, nowMin: number): Sample | null | 'unknown' {
    if (subject.kind === 'customer') {
      const slot = this.windows.find(subject.key);
      if (slot === -1) return 'unknown';
      const signals = this.customerSignals(slot, nowMin);
      const value = customerRuleValue(rule, signals);
      return value === null ? null : { value, reasons: customerReasons(rule, signals), trigger: null };
    }
    if (subject.kind === 'processor') {
      const value = rule.signal === 'lag_ms' ? this.lastStats.lagMs : rule.signal === 'pending_events' ? this.lastStats.pending : null;
      return value === null ? null : { value, reasons: [`${rule.signal} ${Math.round(value)}`], trigger: null };
    }
    if (rule.signal === 'suppressed_customers') {
      const given = this.deps.campaignSuppressions;
      const sample =
        subject.kind !== 'campaign' ? null : given ? (given(this.deps.clock.now()).find((c) => c.campaignId === subject.key) ?? null) : this.budget.campaignSample(subject.key);
      return sample ? { value: sample.value, reasons: sample.reasons, trigger: null } : null;
    }
    const s = this.entities.signal(subject.kind, subject.key, nowMin);
    return s ? entitySample(rule, s, null) : 'unknown';
  }

  private trackAtRisk(customerId: string, s: CustomerSignals, now: number): void {
    const cfg = this.deps.config;
    if (s.churn.risk < cfg.signals.atRiskThreshold) {
      this.atRisk.delete(customerId);
      return;
    }
    this.atRisk.set(customerId, { customerId, risk: s.churn.risk, pAlive: s.churn.pAlive, valueAtRisk: s.churn.valueAtRisk, reasons: s.churn.reasons, updatedAt: now });
    // Keep a bounded candidate set: twice the wall's list, the highest value at risk first.
    const cap = cfg.wall.atRiskListSize * 2;
    if (this.atRisk.size > cap * 2) {
      const keep = this.atRiskList(cap);
      this.atRisk.clear();
      for (const e of keep) this.atRisk.set(e.customerId, e);
    }
  }

  private atRiskList(n = this.deps.config.wall.atRiskListSize): AtRiskEntry[] {
    return [...this.atRisk.values()].sort((a, b) => b.valueAtRisk - a.valueAtRisk || b.risk - a.risk).slice(0, n);
  }

  private maybeSnapshot(slot: number, s: CustomerSignals, eventTs: number): void {
    const interval = Math.max(1, Math.round(this.deps.config.signals.snapshotIntervalMs / MINUTE_MS));
    const last = this.windows.lastSnapshotMin(slot);
    const min = Math.floor(eventTs / MINUTE_MS);
    if (last !== null && min - last < interval && min >= last) return;
    this.windows.markSnapshot(slot, min);
    this.deps.outputs.signals({
      ts: eventTs,
      customerId: s.view.customerId,
      engagement: s.engagement.score,
      engagementTrend: s.engagement.trendRelative,
      churnRisk: s.churn.risk,
      pAlive: s.churn.pAlive,
      expectedPurchases30d: s.churn.expectedPurchases30d,
      expectedPurchases90d: s.churn.expectedPurchases90d,
      customerValue: s.churn.customerValue,
      valueAtRisk: s.churn.valueAtRisk,
      fatigue: s.fatigue.score,
      touches24h: s.fatigue.touches24h,
      negatives7d: s.view.negatives7d,
      reasons: [...s.churn.reasons, ...s.fatigue.reasons],
      model: this.model.name,
    });
  }

  private computeStats(now: number): ProcessorStats {
    const dt = Math.max(1, now - this.lastTick.at);
    const processed = this.counts.processed;
    const lags = this.lagSamples;
    lags.sort((a, b) => a - b);
    const stats: ProcessorStats = {
      ts: now,
      eventsPerSec: ((processed - this.lastTick.processed) * 1000) / dt,
      eventsTotal: processed,
      rejectedTotal: this.counts.rejected,
      lateTotal: this.counts.late,
      lagMs: lags.length ? lags[Math.floor(lags.length / 2)] : 0,
      pending: this.deps.pending?.() ?? 0,
      activeCustomers: this.windows.size,
      clickhouseBufferedRows: this.deps.bufferedRows?.() ?? 0,
      uptimeS: Math.round((now - this.startedAt) / 1000),
    };
    this.lagSamples = [];
    this.lastTick = { at: now, processed };
    this.lastStats = stats;
    this.statsHistory.push(stats);
    if (this.statsHistory.length > STATS_HISTORY) this.statsHistory.shift();
    return stats;
  }
}

/** Engagement weights per type; config adds to or overrides them, and unknown types weigh `defaultWeight`. */
export function defaultWeights(): Record<string, number> {
  return {
    session_start: 1,
    app_open: 1,
    page_view: 0.5,
    click: 1,
    search: 1,
    add_to_cart: 2,
    purchase: 5,
    email_open: 1,
    email_click: 2,
    push_open: 1,
    // Touches, negatives and privacy events are not engagement.
    email_sent: 0,
    push_sent: 0,
    sms_sent: 0,
    unsubscribe: 0,
    complaint: 0,
    support_ticket: 0,
    payment_failed: 0,
    refund: 0,
    cancel_subscription: 0,
    consent_granted: 0,
    consent_withdrawn: 0,
    erase_request: 0,
  };
}

/** The campaign, channel and segment an event carries, as alert labels. */
function eventLabels(ev: VigilEvent): Record<string, string> {
  const labels: Record<string, string> = {};
  if (ev.campaignId) labels.campaign = ev.campaignId;
  if (ev.channel || categoryOf(ev.type) === 'touch') labels.channel = categoryOf(ev.type) === 'touch' ? touchChannel(ev.type, ev.channel) : ev.channel!;
  if (ev.segment) labels.segment = ev.segment;
  return labels;
}

function customerRuleValue(rule: AlertRule, s: CustomerSignals): number | null {
  switch (rule.signal) {
    case 'churn_risk':
      return s.churn.risk;
    case 'engagement':
      return s.engagement.score;
    case 'engagement_trend':
      return s.engagement.trendRelative;
    case 'fatigue':
      return s.fatigue.score;
    default:
      return null;
  }
}

function customerReasons(rule: AlertRule, s: CustomerSignals): string[] {
  if (rule.signal === 'fatigue') return s.fatigue.reasons;
  const value = s.churn.customerValue > 0 ? [`customer value ${Math.round(s.churn.customerValue)}, at risk ${Math.round(s.churn.valueAtRisk)}`] : [];
  return [...s.churn.reasons, ...value];
}

/** The value entitySample would carry, without its reasons. */
function entityValue(rule: AlertRule, s: EntitySignal): number | null {
  if (rule.signal === 'surge_z') return s.surgeVolume < rule.minVolume ? 0 : s.surgeZ;
  if (rule.signal === 'overloaded_customers') return s.overloadedCustomers;
  return null;
}

function entitySample(rule: AlertRule, s: EntitySignal, trigger: Sample['trigger']): Sample | null {
  switch (rule.signal) {
    case 'surge_z':
      if (s.surgeVolume < rule.minVolume) return { value: 0, reasons: [], trigger };
      return {
        value: s.surgeZ,
        reasons: [`${s.surgeVolume} negative events in the last 5 min against a usual ${(s.baselinePerBucket * 5).toFixed(1)}`],
        trigger,
      };
    case 'overloaded_customers':
      return { value: s.overloadedCustomers, reasons: [`${s.overloadedCustomers} customers pushed over a contact cap in 24 h (${s.touches24h} touches)`], trigger };
    default:
      return null;
  }
}
