// The cluster leader's rules: channel, segment and campaign rules on every partition's combined entity counts, and
// `suppressed_customers` on every processor's budget counts. It handles no events; its LiveView shows its alerts.
import type { VigilConfig } from '../config/schema.js';
import type { AlertView, ModelState } from '../contract/frames.js';
import type { PipelineOutputs } from '../contract/outputs.js';
import type { Outcome } from '../contract/pipeline.js';
import { MINUTE_MS, type Clock } from '../shared/clock.js';
import type { PurchaseModelSet } from '../signals/purchaseModel.js';
import type { EntityStats } from '../signals/entityStats.js';
import { LiveView } from '../wall/liveView.js';
import { WallFacing } from '../wall/wallFacing.js';
import { AlertDesk } from './alertDesk.js';
import type { AlertStore } from './alertStore.js';
import { evaluateEntities, evaluateProcessor, evaluateSuppressions, type CampaignSuppression, type SuppressionSource } from './entityRules.js';
import type { AlertNotifier } from './notifier.js';
import { ruleSampler } from './sampler.js';

export interface EntityRuleEvaluatorDeps {
  config: VigilConfig;
  clock: Clock;
  alertStore: AlertStore;
  outputs: Pick<PipelineOutputs, 'alert'>;
  /** The combined channel, segment and campaign counts of every partition. */
  entities: EntityStats;
  /** The `suppressed_customers` samples per campaign: every processor's budget counts, summed. */
  campaignSuppressions: (now: number) => CampaignSuppression[];
  onAlert?: (alert: AlertView) => void;
  notifier?: AlertNotifier;
  /** Rows waiting for ClickHouse; for its stats. */
  bufferedRows?: () => number;
  /** The model version and the leader's last refit (its drift): the cluster's one `model_drift` subject. */
  model?: () => ModelState;
}

/** The subject of the cluster's `model_drift` alert: one for the whole cluster, whichever processor leads. */
export const CLUSTER_MODEL_SUBJECT = 'cluster';

export class EntityRuleEvaluator extends WallFacing {
  /** Always zero (no events are handled here); for the metrics, which read every pipeline's counters. */
  readonly counts: Record<Outcome, number> = { processed: 0, duplicate: 0, late: 0, rejected: 0, dropped_consent: 0 };
  readonly rejectReasons: ReadonlyMap<string, number> = new Map();
  readonly windows = null;
  protected override readonly desk: AlertDesk;
  protected override readonly live: LiveView;
  private readonly suppressions: SuppressionSource;

  constructor(private readonly deps: EntityRuleEvaluatorDeps) {
    super();
    const { config, clock, entities } = deps;
    this.desk = new AlertDesk({ config, clock, alertStore: deps.alertStore, outputs: deps.outputs, onAlert: deps.onAlert, notifier: deps.notifier });
    this.suppressions = {
      all: (now) => deps.campaignSuppressions(now),
      one: (campaignId) => deps.campaignSuppressions(clock.now()).find((c) => c.campaignId === campaignId) ?? null,
    };
    this.live = new LiveView({
      config, clock, desk: this.desk, counts: this.counts, activeCustomers: () => 0, pending: () => 0, bufferedRows: deps.bufferedRows,
      overload: (nowMin) => entities.overloadCells(nowMin),
      watermark: (now) => now,
      model: deps.model,
    });
  }

  get entities(): EntityStats { return this.deps.entities; }

  /** Every entity's rules and the campaigns' suppressions, then the active alerts re-checked; the wall's frames. */
  tick(now = this.deps.clock.now()): void {
    const nowMin = Math.floor(now / MINUTE_MS);
    const engine = this.desk.engine;
    evaluateEntities(engine, this.deps.entities, nowMin, now);
    const stats = this.live.measure(now);
    evaluateProcessor(engine, CLUSTER_MODEL_SUBJECT, stats, now, { slice: false, model: true });
    evaluateSuppressions(engine, this.suppressions, now);
    // No customer is held here: a customer alert's subject is unknown (and resolves when it stays so).
    engine.tick(now, ruleSampler({ customer: () => null, stats: () => this.live.stats, suppressions: this.suppressions, entities: this.deps.entities }, nowMin));
    this.deps.notifier?.tick(now);
    this.live.tickFrames(stats, nowMin, now);
  }

  /** No customer is scored here: the purchase model is the partitions' business. */
  setModel(_model: PurchaseModelSet): void {}
}
