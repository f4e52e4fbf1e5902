// The evaluate step for customers: a derived customer's signals sampled against the customer rules.
import type { AlertRule } from '../config/schema.js';
import { categoryOf, touchChannel, type VigilEvent } from '../contract/event.js';
import type { CustomerSignals, ExperienceSignal } from '../contract/pipeline.js';
import { breaches, type Sample } from './alertStateMachine.js';
import type { AlertEngine } from './engine.js';
import { formatInterval } from '../signals/models/uncertainty.js';

/**
 * Samples the customer rules with a customer's signals at `now`, its latest event `ev` (received at `receivedAt`,
 * by default `now`) as the trigger; alert changes come out through the engine's change sink.
 */
export function evaluateCustomer(engine: AlertEngine, rules: readonly AlertRule[], ev: VigilEvent, signals: CustomerSignals, now: number, receivedAt = now): void {
  const subject = { kind: 'customer' as const, key: ev.customerId };
  let trigger: Sample['trigger'] = null;
  let context: Record<string, string> | null = null;
  // Whether the customer has an alert open, looked up once for all the rules (a map lookup by a new string each):
  // only observe() below opens one, and only for a rule whose sample breaches, which is observed whatever this says.
  let active: boolean | undefined;
  for (const rule of rules) {
    const value = customerRuleValue(rule, signals);
    // Below threshold with no alert open for the customer (nearly every event): no sample to build.
    if (value === null || (!breaches(rule, value) && !(active ??= engine.isActive(subject)))) continue;
    trigger ??= { eventId: ev.id, eventTs: ev.ts, receivedAt };
    context ??= eventLabels(ev);
    // Reasons are read only when the sample breaches or an alert is open: the customer value behind them is not
    // worked out for every event.
    engine.observe(rule, subject, { value, get reasons() { return customerReasons(rule, signals); }, trigger, labels: context }, now);
  }
}

/** A customer rule's sample from signals (a tick's re-check, no triggering event); null when the rule reads none. */
export function customerSample(rule: AlertRule, signals: CustomerSignals): Sample | null {
  const value = customerRuleValue(rule, signals);
  // Reasons read only when the value moved (the state machine keeps the record otherwise): with the value's interval
  // they cost about 0.1 ms, and a tick re-checks up to CUSTOMER_SAMPLES_PER_TICK alerts.
  return value === null ? null : { value, get reasons() { return customerReasons(rule, signals); }, trigger: null };
}

/** The campaign, channel and segment an event carries, as alert labels. */
export function eventLabels(ev: VigilEvent): Record<string, string> {
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
    case 'experience':
      return s.experience.index;
    case 'experience_trend':
      return s.experience.trend;
    default:
      return null;
  }
}

function customerReasons(rule: AlertRule, s: CustomerSignals): string[] {
  if (rule.signal === 'fatigue') return s.fatigue.reasons;
  if (rule.signal === 'experience' || rule.signal === 'experience_trend') return experienceReasons(s.experience);
  // With a fitted version's covariances: "customer value 1520, at risk 1240, 90 % 980–1510" (formatInterval).
  const range = s.churn.customerValue > 0 ? s.churn.intervals?.()?.valueAtRisk : null;
  const atRisk = range ? formatInterval('at risk', range, 0) : `at risk ${Math.round(s.churn.valueAtRisk)}`;
  const value = s.churn.customerValue > 0 ? [`customer value ${Math.round(s.churn.customerValue)}, ${atRisk}`] : [];
  return [...s.churn.reasons, ...value];
}

/** The experience signal's reasons, led by where the index stands and how it moved against the customer's baseline. */
function experienceReasons(e: ExperienceSignal): string[] {
  const trend = Math.round(e.trend);
  return [`brand experience ${Math.round(e.index)}/100${trend < 0 ? `, down ${-trend} points` : ''}`, ...e.reasons];
}
