// The channel, segment, campaign and processor rules: samples from entity statistics, the contact budget's
// suppressions and the processor's own stats. Used by a single processor's pipeline and by the cluster leader.
import type { AlertRule } from '../config/schema.js';
import type { VigilEvent } from '../contract/event.js';
import type { ProcessorStats } from '../contract/frames.js';
import type { ContactBudget } from '../budget/contactBudget.js';
import type { EntitySignal, EntityStats } from '../signals/entityStats.js';
import type { AggregateExperience } from '../signals/experience.js';
import type { Sample } from './alertStateMachine.js';
import type { AlertEngine } from './engine.js';

/** A campaign's `suppressed_customers` sample: how many customers the contact budget suppressed, and why. */
export interface CampaignSuppression {
  campaignId: string;
  value: number;
  reasons: string[];
}

/** Where `suppressed_customers` samples come from: one processor's budget, or the cluster's combined counts. */
export interface SuppressionSource {
  all(now: number): CampaignSuppression[];
  one(campaignId: string): CampaignSuppression | null;
}

/**
 * The rules of one entity touched since the last derive, with the latest event that touched it as their trigger
 * (`receivedAt` when it was received); observed at `now`.
 */
export function evaluateEntity(engine: AlertEngine, s: EntitySignal, ev: VigilEvent, receivedAt: number, now: number): void {
  const rules = engine.rulesFor(s.kind);
  if (rules.length === 0) return;
  const subject = { kind: s.kind, key: s.key };
  for (const rule of rules) {
    // Sampled from the contact budget's tally, not from the entity's event counts (evaluateSuppressions).
    if (rule.signal === 'suppressed_customers') continue;
    const value = entityValue(rule, s);
    // As for customers: a sample that cannot change an alert is not built (its reasons are sentences).
    if (value === null || !engine.matters(rule, subject, value)) continue;
    const sample = entitySample(rule, s, { eventId: ev.id, eventTs: ev.ts, receivedAt });
    if (sample) engine.observe(rule, subject, sample, now);
  }
}

/** Every entity's rules, once a tick. */
export function evaluateEntities(engine: AlertEngine, entities: EntityStats, nowMin: number, now: number): void {
  for (const s of entities.all(nowMin)) {
    for (const rule of engine.rulesFor(s.kind)) {
      if (rule.signal === 'suppressed_customers') continue;
      const sample = entitySample(rule, s, null);
      if (sample) engine.observe(rule, { kind: s.kind, key: s.key }, sample, now);
    }
  }
}

/**
 * The processor rules of the subject `key` with the tick's stats: `slice` the lag and pending rules (a partition's,
 * or the single processor's), `model` the model_drift rule (the single processor's, or the cluster leader's once
 * for the cluster, never a partition's: the refit and its drift are the cluster's, not a partition's).
 */
export function evaluateProcessor(engine: AlertEngine, key: string, stats: ProcessorStats, now: number, which: { slice: boolean; model: boolean } = { slice: true, model: true }): void {
  for (const rule of engine.rulesFor('processor')) {
    if (!(rule.signal === 'model_drift' ? which.model : which.slice)) continue;
    const sample = processorSample(rule, stats);
    if (sample) engine.observe(rule, { kind: 'processor', key }, sample, now);
  }
}

/** Campaigns the contact budget suppressed checks for, through the `suppressed_customers` rules. */
export function evaluateSuppressions(engine: AlertEngine, source: SuppressionSource, now: number): void {
  const rules = engine.rulesFor('campaign').filter((r) => r.signal === 'suppressed_customers');
  if (rules.length === 0) return;
  for (const s of source.all(now)) {
    for (const rule of rules) engine.observe(rule, { kind: 'campaign', key: s.campaignId }, { value: s.value, reasons: s.reasons, trigger: null }, now);
  }
}

export function processorSample(rule: AlertRule, stats: ProcessorStats): Sample | null {
  if (rule.signal === 'model_drift') {
    // Only the processor that refits knows; elsewhere (and before its first refit) no sample, no alert.
    if (!stats.model || stats.model.drift === 'unknown') return null;
    const drifted = stats.model.drift === 'drifted';
    return { value: drifted ? 1 : 0, reasons: drifted ? [`${stats.model.version}: ${stats.model.driftReasons.join('; ')}`] : [], trigger: null };
  }
  const value = rule.signal === 'lag_ms' ? stats.lagMs : rule.signal === 'pending_events' ? stats.pending : null;
  return value === null ? null : { value, reasons: [`${rule.signal} ${Math.round(value)}`], trigger: null };
}

/** The value entitySample would carry, without its reasons. */
function entityValue(rule: AlertRule, s: EntitySignal): number | null {
  if (rule.signal === 'surge_z') return s.surgeVolume < rule.minVolume ? 0 : s.surgeZ;
  if (rule.signal === 'overloaded_customers') return s.overloadedCustomers;
  return null;
}

export function entitySample(rule: AlertRule, s: EntitySignal, trigger: Sample['trigger']): Sample | null {
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

/** One processor's `suppressed_customers` samples: its own contact budget's tally per campaign. */
export function budgetSuppressions(budget: Pick<ContactBudget, 'campaignCounts' | 'campaignSample'>): SuppressionSource {
  return {
    all: (now) => {
      const out = [];
      for (const campaignId of new Set(budget.campaignCounts(now).map((c) => c.campaignId))) {
        const sample = campaignId === null ? null : budget.campaignSample(campaignId, now);
        if (sample) out.push({ campaignId: campaignId!, ...sample });
      }
      return out;
    },
    one: (campaignId) => {
      const sample = budget.campaignSample(campaignId);
      return sample ? { campaignId, ...sample } : null;
    },
  };
}

/**
 * A product's rules (SubjectKind 'product') with its experience now: `experience_drop` is the index's fall below the
 * product's own slow baseline in points (0 below the rule's minVolume of decayed purchases and ratings), `experience`
 * the index itself. `trigger` is the event that touched the product last, or null on a tick's re-check.
 */
export function productSample(rule: AlertRule, s: AggregateExperience, trigger: Sample['trigger']): Sample | null {
  if (rule.signal !== 'experience_drop' && rule.signal !== 'experience') return null;
  const enough = s.volume >= rule.minVolume;
  const value = rule.signal === 'experience' ? s.index : enough ? -s.trend : 0;
  if (!enough) return { value, reasons: [], trigger };
  const baseline = Math.round(s.index - s.trend);
  return { value, reasons: [`brand experience ${Math.round(s.index)}/100 against its usual ${baseline} (${Math.round(s.volume)} purchases and ratings)`, ...s.reasons], trigger };
}

/** The rules of one product touched since the last derive, its latest event as their trigger. */
export function evaluateProduct(engine: AlertEngine, s: AggregateExperience, ev: VigilEvent, receivedAt: number, now: number): void {
  const subject = { kind: 'product' as const, key: s.key };
  for (const rule of engine.rulesFor('product')) {
    const sample = productSample(rule, s, { eventId: ev.id, eventTs: ev.ts, receivedAt });
    if (sample) engine.observe(rule, subject, sample, now);
  }
}
