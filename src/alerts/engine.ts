// Evaluates rules against signal samples, keeps alert state through the state machine, and reports every change.
import { createHash } from 'node:crypto';
import type { AlertRule } from '../config/schema.js';
import type { AlertGroupCount, AlertView, SubjectKind } from '../contract/frames.js';
import { breaches, transition, type AlertRecord, type Sample } from './alertStateMachine.js';
import type { AlertStore } from './alertStore.js';

export type Subject = { kind: SubjectKind; key: string };
/**
 * Gives the current value of a rule's signal for a subject: null when the subject has no value (the alert may
 * resolve), 'unknown' when the processor holds no state for it yet (after a restart): the alert is left as it is.
 */
export type Sampler = (rule: AlertRule, subject: Subject) => Sample | null | 'unknown';

const RECENTLY_RESOLVED = 200;

export function fingerprintOf(rule: string, subject: Subject): string {
  return createHash('sha256').update(`${rule}\u0000${subject.kind}\u0000${subject.key}`).digest('hex').slice(0, 16);
}

export function toView(rule: AlertRule | undefined, r: AlertRecord): AlertView {
  const threshold = rule?.threshold ?? Number.NaN;
  const signal = rule?.signal ?? 'value';
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    rule: r.rule,
    severity: rule?.severity ?? 'warning',
    state: r.state,
    subject: r.subject,
    value: r.value,
    threshold,
    reasons: r.reasons,
    labels: alertLabels(rule, r),
    summary: rule?.summary ?? `${r.subject.kind} ${r.subject.key}: ${signal} ${formatValue(r.value)} ${rule?.op ?? '>'} ${formatValue(threshold)}`,
    startsAt: r.startsAt,
    updatedAt: r.updatedAt,
    endsAt: r.endsAt,
    acknowledged: r.acknowledged,
    trigger: r.trigger,
  };
}

/**
 * The labels silences match and groups are keyed by, as Alertmanager users know them: `alertname`, `severity`,
 * the subject, the rule's own labels, and the campaign, channel or segment the alert is about.
 */
export function alertLabels(rule: AlertRule | undefined, r: Pick<AlertRecord, 'rule' | 'subject' | 'labels'>): Record<string, string> {
  const labels: Record<string, string> = { ...(r.labels ?? {}), ...(rule?.labels ?? {}) };
  labels.alertname = r.rule;
  labels.severity = rule?.severity ?? 'warning';
  labels.subject_kind = r.subject.kind;
  labels.subject_key = r.subject.key;
  if (r.subject.kind !== 'customer' && r.subject.kind !== 'processor') labels[r.subject.kind] = r.subject.key;
  return labels;
}

function formatValue(v: number): string {
  return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(2);
}

/** Customer alerts sampled again per tick at most; the rest wait for the next ticks (or for an event of theirs). */
export const CUSTOMER_SAMPLES_PER_TICK = 2_000;

export class AlertEngine {
  private rules: AlertRule[] = [];
  private bySubject = new Map<SubjectKind, AlertRule[]>();
  private readonly resolved: AlertRecord[] = [];
  /**
   * Active alerts per subject, by kind: a sample below threshold for a subject with none (nearly every event's) is
   * dropped before a key is built or the store read. Kept with every change the engine makes, and rebuilt whenever the
   * store's size says it was changed behind the engine's back (a load, another writer).
   */
  private readonly active = new Map<SubjectKind, Map<string, number>>();
  /**
   * The store's keys by subject: customer alerts in an array (with each key's position, for a swap-removal) that the
   * tick walks a round of at a time, the others (a few hundred at most) in a set it walks whole. Kept like `active`.
   */
  private customerKeys: string[] = [];
  private readonly customerAt = new Map<string, number>();
  private readonly otherKeys = new Set<string>();
  /**
   * Active alerts counted by state, and customer alerts by rule and campaign: the wall's totals every tick without a
   * walk over thousands of alerts. Kept with every put and remove, rebuilt with the index and on a rules reload.
   */
  private readonly tally = { firing: 0, pending: 0, acknowledged: 0, groups: new Map<string, AlertGroupCount>() };
  private byName = new Map<string, AlertRule>();
  private indexedSize = -1;
  /** Where the round of customer alerts re-sampled by tick() has got to. */
  private customerCursor = 0;
  /** A round left by a tick to be sampled in slices (beginRound), and how many of it are left. */
  private round: { sample: Sampler; left: number } | null = null;
  /**
   * Set by the runtime: tick() leaves its round of customer alerts for continueRound() to sample in slices between
   * turns of the event loop (at 1,000,000 customers a round of 2,000 held it 140–170 ms once a second).
   */
  sliceRounds = false;

  constructor(
    rules: AlertRule[],
    private readonly store: AlertStore,
    private readonly onChange: (view: AlertView, record: AlertRecord, rule: AlertRule | undefined) => void,
    /** An alert whose subject stays unknown this long resolves (the customer was evicted and never came back). */
    private readonly unknownAfterMs = 8 * 24 * 3_600_000,
  ) {
    this.setRules(rules);
  }

  /** Replaces the rules (config reload); alerts of removed rules resolve at the next tick. */
  setRules(rules: AlertRule[]): void {
    this.rules = rules;
    this.byName = new Map(rules.map((r) => [r.name, r]));
    // A rule's labels may name another campaign now: the tallies are counted again.
    this.indexedSize = -1;
    this.bySubject = new Map();
    for (const r of rules) this.bySubject.set(r.subject, [...(this.bySubject.get(r.subject) ?? []), r]);
  }

  rulesFor(kind: SubjectKind): readonly AlertRule[] {
    return this.bySubject.get(kind) ?? [];
  }

  /**
   * False when a sample of `value` cannot change anything: below the rule's threshold for a subject with no active
   * alert. The caller may then skip building the sample (its reasons, trigger and labels) at all.
   */
  matters(rule: AlertRule, subject: Subject, value: number): boolean {
    return breaches(rule, value) || this.hasActive(subject);
  }

  /** Whether any alert is active for `subject`. */
  isActive(subject: Subject): boolean {
    return this.hasActive(subject);
  }

  /** Feeds one sample of one rule for one subject through the state machine. */
  observe(rule: AlertRule, subject: Subject, sample: Sample | null, now: number): void {
    // The hot path: most samples are below threshold for a subject without alerts; no key, no lookup for them.
    if ((sample === null || !breaches(rule, sample.value)) && !this.hasActive(subject)) return;
    const key = `${rule.name}\u0000${subject.kind}\u0000${subject.key}`;
    const prev = this.store.get(key) ?? null;
    if (prev === null && (sample === null || !breaches(rule, sample.value))) return;
    const fp = prev?.fingerprint ?? fingerprintOf(rule.name, subject);
    const { next, changed } = transition(rule, prev, sample, now, fp, subject);
    // The same record back: nothing moved, nothing to write.
    if (next === null || next === prev) return;
    if (next.state === 'resolved') {
      this.remove(key, next.subject);
      this.resolved.push(next);
      if (this.resolved.length > RECENTLY_RESOLVED) this.resolved.shift();
    } else {
      this.put(key, next, prev === null);
    }
    if (changed) this.onChange(toView(rule, next), next, rule);
  }

  private hasActive(subject: Subject): boolean {
    this.syncIndex();
    return this.active.get(subject.kind)?.has(subject.key) ?? false;
  }

  private syncIndex(): void {
    if (this.indexedSize === this.store.size) return;
    this.active.clear();
    this.customerKeys = [];
    this.customerAt.clear();
    this.otherKeys.clear();
    this.tally.firing = this.tally.pending = this.tally.acknowledged = 0;
    this.tally.groups.clear();
    for (const [key, rec] of this.store.entries()) {
      this.count(rec.subject, 1);
      this.file(key, rec.subject);
      this.countState(rec, 1);
    }
    this.indexedSize = this.store.size;
  }

  private countState(rec: AlertRecord, delta: number): void {
    const firing = rec.state === 'firing';
    const acknowledged = firing && rec.acknowledged !== null ? delta : 0;
    if (firing) this.tally.firing += delta;
    else this.tally.pending += delta;
    this.tally.acknowledged += acknowledged;
    if (rec.subject.kind !== 'customer') return;
    // As alertLabels merges them: a rule's own labels win over the triggering event's.
    const campaign = this.byName.get(rec.rule)?.labels?.campaign ?? rec.labels?.campaign ?? null;
    const key = `${rec.rule}\u0000${campaign ?? ''}`;
    let group = this.tally.groups.get(key);
    if (!group) this.tally.groups.set(key, (group = { rule: rec.rule, campaign, firing: 0, pending: 0, acknowledged: 0, silenced: 0 }));
    if (firing) group.firing += delta;
    else group.pending += delta;
    group.acknowledged += acknowledged;
    if (group.firing === 0 && group.pending === 0) this.tally.groups.delete(key);
  }

  /**
   * The active alerts by state, and the customer alerts by rule and campaign (most active first, at most `groups`);
   * silences are not counted here (the wall counts them by walking the alerts while a silence is active).
   */
  tallies(groups = 50): { firing: number; pending: number; acknowledged: number; customerGroups: AlertGroupCount[] } {
    this.syncIndex();
    const list = [...this.tally.groups.values()].sort((a, b) => b.firing + b.pending - (a.firing + a.pending) || byGroupName(a, b)).slice(0, groups);
    return { firing: this.tally.firing, pending: this.tally.pending, acknowledged: this.tally.acknowledged, customerGroups: list.map((g) => ({ ...g })) };
  }

  private file(key: string, subject: Subject): void {
    if (subject.kind !== 'customer') this.otherKeys.add(key);
    else if (!this.customerAt.has(key)) {
      this.customerAt.set(key, this.customerKeys.length);
      this.customerKeys.push(key);
    }
  }

  private unfile(key: string, subject: Subject): void {
    if (subject.kind !== 'customer') {
      this.otherKeys.delete(key);
      return;
    }
    const at = this.customerAt.get(key);
    if (at === undefined) return;
    const last = this.customerKeys.pop()!;
    if (last !== key) {
      this.customerKeys[at] = last;
      this.customerAt.set(last, at);
    }
    this.customerAt.delete(key);
  }

  private count(subject: Subject, delta: number): void {
    let byKey = this.active.get(subject.kind);
    if (!byKey) this.active.set(subject.kind, (byKey = new Map()));
    const n = (byKey.get(subject.key) ?? 0) + delta;
    if (n > 0) byKey.set(subject.key, n);
    else byKey.delete(subject.key);
  }

  /** Every write of an active alert goes through here and remove(), which keep the subject index with the store. */
  private put(key: string, record: AlertRecord, added: boolean): void {
    this.syncIndex();
    const prev = added ? undefined : this.store.get(key);
    this.store.set(key, record);
    if (added) {
      this.count(record.subject, 1);
      this.file(key, record.subject);
    }
    if (prev !== undefined) this.countState(prev, -1);
    this.countState(record, 1);
    this.indexedSize = this.store.size;
  }

  private remove(key: string, subject: Subject): void {
    this.syncIndex();
    const prev = this.store.get(key);
    if (prev === undefined) return;
    this.store.delete(key);
    this.count(subject, -1);
    this.countState(prev, -1);
    this.unfile(key, subject);
    this.indexedSize = this.store.size;
  }

  /**
   * Re-evaluates active alerts (for-durations elapse, values fall back) and resolves those of removed rules. Every
   * channel, segment, campaign and processor alert each tick; customer alerts in rounds of `customerSamples`: a storm
   * of thousands of them costs a bounded slice of each tick, and each is still re-checked every few ticks (and with
   * every event of its customer).
   */
  tick(now: number, sample: Sampler, customerSamples = CUSTOMER_SAMPLES_PER_TICK): void {
    // Every other alert, its keys taken before any sample moves them; then a round of customer alerts.
    this.syncIndex();
    this.sampleKeys([...this.otherKeys], now, sample);
    if (this.sliceRounds) this.beginRound(sample, customerSamples);
    else this.sampleCustomers(now, sample, customerSamples);
  }

  /**
   * Up to `count` customer alerts from the cursor, wrapping around, while `more()` (asked after each) says so: what
   * tick() does with its round, callable in slices. Their keys are taken before any sample moves them; nothing here
   * walks or copies the whole store. Returns how many were sampled.
   */
  sampleCustomers(now: number, sample: Sampler, count: number, more: () => boolean = () => true): number {
    this.syncIndex();
    const customers = this.customerKeys.length;
    const from = customers === 0 ? 0 : this.customerCursor % customers;
    const keys: string[] = [];
    for (let k = 0; k < Math.min(count, customers); k++) keys.push(this.customerKeys[(from + k) % customers]);
    const done = this.sampleKeys(keys, now, sample, more);
    this.customerCursor = from + done;
    return done;
  }

  /**
   * The round of customer alerts a tick leaves under sliceRounds, continued by continueRound() at the time of each
   * slice. A round not finished by the next tick gives way to that tick's.
   */
  beginRound(sample: Sampler, count = CUSTOMER_SAMPLES_PER_TICK): void {
    this.syncIndex();
    // As tick() does it: each customer alert at most once per round.
    this.round = { sample, left: Math.min(count, this.customerKeys.length) };
  }

  /** The next slice of the round begun: true once it is done (or none was begun). */
  continueRound(now: number, more: () => boolean): boolean {
    const round = this.round;
    if (!round) return true;
    round.left -= this.sampleCustomers(now, round.sample, round.left, more);
    if (round.left > 0 && this.customerKeys.length > 0) return false;
    this.round = null;
    return true;
  }

  /** Re-evaluates the alerts under `keys` (a key gone meanwhile is skipped) while `more()`; returns how many were taken. */
  private sampleKeys(keys: readonly string[], now: number, sample: Sampler, more: () => boolean = () => true): number {
    const byName = this.byName;
    let n = 0;
    while (n < keys.length) {
      const key = keys[n++];
      const rec = this.store.get(key);
      if (rec !== undefined) {
        const rule = byName.get(rec.rule);
        if (!rule) {
          const done: AlertRecord = { ...rec, state: 'resolved', endsAt: now, updatedAt: now };
          this.remove(key, rec.subject);
          this.onChange(toView(undefined, done), done, undefined);
        } else {
          const current = sample(rule, rec.subject);
          if (current !== 'unknown') this.observe(rule, rec.subject, current, now);
          else if (now - rec.updatedAt > this.unknownAfterMs) this.observe(rule, rec.subject, null, now);
        }
      }
      if (!more()) break;
    }
    return n;
  }

  acknowledge(alertId: string, by: string, now: number): boolean {
    for (const [key, rec] of this.store.entries()) {
      if (rec.id !== alertId) continue;
      const next = { ...rec, acknowledged: { by, at: now }, updatedAt: now };
      this.put(key, next, false);
      const rule = this.rules.find((r) => r.name === rec.rule);
      this.onChange(toView(rule, next), next, rule);
      return true;
    }
    return false;
  }

  /**
   * Erasure: every alert about the subject leaves memory and the store (so Redis at the next persist), without a
   * state change: nothing about the subject is written anywhere again. Returns how many active (stored) alerts went.
   */
  forgetSubject(subject: Subject): number {
    let n = 0;
    for (const [key, rec] of [...this.store.entries()]) {
      if (rec.subject.kind === subject.kind && rec.subject.key === subject.key) {
        this.remove(key, rec.subject);
        n++;
      }
    }
    for (let i = this.resolved.length - 1; i >= 0; i--) {
      const s = this.resolved[i].subject;
      if (s.kind === subject.kind && s.key === subject.key) this.resolved.splice(i, 1);
    }
    return n;
  }

  /**
   * Active alerts first (firing, then pending), then the recently resolved, newest first; for the wall's snapshot.
   * Within a state, campaign, channel, segment and processor alerts come before customer ones, so a storm of customer
   * alerts never pushes them past the limit.
   */
  views(limit = 200): AlertView[] {
    const byName = new Map(this.rules.map((r) => [r.name, r]));
    const customerLast = (r: AlertRecord): number => (r.subject.kind === 'customer' ? 1 : 0);
    const active = [...this.store.entries()]
      .map(([, r]) => r)
      .sort((a, b) => (a.state === b.state ? customerLast(a) - customerLast(b) || b.updatedAt - a.updatedAt : a.state === 'firing' ? -1 : 1));
    const recent = [...this.resolved].reverse();
    return [...active, ...recent].slice(0, limit).map((r) => toView(byName.get(r.rule), r));
  }

  /** Every active alert's record with its rule (undefined once the rule is gone), in no particular order; for totals. */
  *activeRecords(): Generator<{ record: AlertRecord; rule: AlertRule | undefined }> {
    const byName = new Map(this.rules.map((r) => [r.name, r]));
    for (const [, record] of this.store.entries()) yield { record, rule: byName.get(record.rule) };
  }

  get activeCount(): number {
    return this.store.size;
  }
}

/** Groups of equal size in a fixed order: by rule, then campaign (none first). */
export function byGroupName(a: AlertGroupCount, b: AlertGroupCount): number {
  return a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : (a.campaign ?? '') < (b.campaign ?? '') ? -1 : (a.campaign ?? '') > (b.campaign ?? '') ? 1 : 0;
}
