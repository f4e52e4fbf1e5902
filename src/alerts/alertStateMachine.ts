// The one place alert state changes: pending, firing and resolved, with for-duration and hysteresis.
import type { AlertState, SubjectKind, TriggerEvent } from '../contract/frames.js';
import type { AlertRule } from '../config/schema.js';

export interface AlertRecord {
  id: string;
  fingerprint: string;
  rule: string;
  subject: { kind: SubjectKind; key: string };
  state: AlertState;
  value: number;
  reasons: string[];
  /** When the condition first held (pending or straight to firing). */
  startsAt: number;
  firedAt: number | null;
  endsAt: number | null;
  updatedAt: number;
  acknowledged: { by: string; at: number } | null;
  trigger: TriggerEvent | null;
  /** Context from the event that started the alert (campaign, channel, segment); used to group and silence. */
  labels: Record<string, string>;
}

export interface Sample {
  value: number;
  reasons: string[];
  trigger: TriggerEvent | null;
  labels?: Record<string, string>;
}

/** True when the value is past the rule's threshold. */
export function breaches(rule: Pick<AlertRule, 'op' | 'threshold'>, value: number): boolean {
  switch (rule.op) {
    case '>':
      return value > rule.threshold;
    case '>=':
      return value >= rule.threshold;
    case '<':
      return value < rule.threshold;
    case '<=':
      return value <= rule.threshold;
  }
}

/** True when a firing alert may resolve: the value is back across the resolve threshold (hysteresis). */
export function clears(rule: Pick<AlertRule, 'op' | 'threshold' | 'resolveThreshold'>, value: number): boolean {
  const r = rule.resolveThreshold ?? rule.threshold;
  return rule.op === '>' || rule.op === '>=' ? value < r : value > r;
}

export type Transition = { next: AlertRecord | null; changed: boolean };

/**
 * The transition function. `prev` is the current record (null or resolved = inactive); `sample` the latest value,
 * or null when the subject has no value any more (it counts as cleared). `changed` is true when the state moved
 * (the caller notifies and writes history only then); value updates without a state change return changed=false.
 */
export function transition(rule: AlertRule, prev: AlertRecord | null, sample: Sample | null, now: number, fingerprint: string, subject: AlertRecord['subject']): Transition {
  const active = prev !== null && prev.state !== 'resolved';
  if (!active) {
    if (sample === null || !breaches(rule, sample.value)) return { next: prev, changed: false };
    const firing = rule.forMs === 0;
    return {
      changed: true,
      next: {
        id: `${fingerprint}-${now.toString(36)}`,
        fingerprint,
        rule: rule.name,
        subject,
        state: firing ? 'firing' : 'pending',
        value: sample.value,
        reasons: sample.reasons,
        startsAt: now,
        firedAt: firing ? now : null,
        endsAt: null,
        updatedAt: now,
        acknowledged: null,
        trigger: sample.trigger,
        labels: sample.labels ?? {},
      },
    };
  }
  const cur = prev!;
  if (cur.state === 'pending') {
    // A pending alert needs the condition itself to hold; hysteresis only protects alerts that fired.
    if (sample === null || !breaches(rule, sample.value)) {
      return { changed: true, next: { ...cur, state: 'resolved', endsAt: now, updatedAt: now, value: sample?.value ?? cur.value } };
    }
    if (now - cur.startsAt >= rule.forMs) {
      return { changed: true, next: { ...cur, state: 'firing', firedAt: now, updatedAt: now, value: sample.value, reasons: sample.reasons, trigger: sample.trigger ?? cur.trigger } };
    }
    return { changed: false, next: updated(cur, sample) };
  }
  // firing
  if (sample === null || clears(rule, sample.value)) {
    return { changed: true, next: { ...cur, state: 'resolved', endsAt: now, updatedAt: now, value: sample?.value ?? cur.value } };
  }
  return { changed: false, next: updated(cur, sample) };
}

/**
 * An active alert with the sample's value and reasons; the same record when the value has not moved, so nothing is
 * written again (the store writes behind to Redis) and the reasons are not worked out again for every sample.
 */
function updated(cur: AlertRecord, sample: Sample): AlertRecord {
  return sample.value === cur.value ? cur : { ...cur, value: sample.value, reasons: sample.reasons };
}
