// The alert engine with everything around it: where its changes go (the outputs, the wall, NATS, the notifier), and
// what people do to alerts (acknowledge, silence). The evaluate steps feed it samples; nothing here calls back in.
import type { AlertRule, VigilConfig } from '../config/schema.js';
import type { AlertView, Silence, SilenceInput } from '../contract/frames.js';
import type { PipelineOutputs } from '../contract/outputs.js';
import type { Clock } from '../shared/clock.js';
import type { AlertStore } from './alertStore.js';
import { AlertEngine } from './engine.js';
import type { AlertNotifier } from './notifier.js';

export interface AlertDeskDeps {
  config: VigilConfig;
  clock: Clock;
  alertStore: AlertStore;
  outputs: Pick<PipelineOutputs, 'alert'>;
  /** Called for every alert state change after it is recorded (NATS fan-out). */
  onAlert?: (alert: AlertView) => void;
  /** Silences, grouping and paced delivery of notifications; absent in tests that only look at alert states. */
  notifier?: AlertNotifier;
}

export class AlertDesk {
  readonly engine: AlertEngine;
  /** The wall's listeners of alert changes (LiveView) and of silence changes. */
  private readonly alertListeners = new Set<(view: AlertView) => void>();
  private readonly silenceListeners = new Set<() => void>();
  private customer: readonly AlertRule[];

  constructor(private readonly deps: AlertDeskDeps) {
    const { config } = deps;
    this.engine = new AlertEngine(config.alerts.rules, deps.alertStore, (view) => this.changed(view), config.windows.idleEvictMs);
    this.customer = this.engine.rulesFor('customer');
  }

  get notifier(): AlertNotifier | undefined {
    return this.deps.notifier;
  }

  /** The customer rules, looked up once per rule change rather than per event. */
  get customerRules(): readonly AlertRule[] {
    return this.customer;
  }

  onAlertChange(listener: (view: AlertView) => void): void {
    this.alertListeners.add(listener);
  }

  onSilencesChange(listener: () => void): void {
    this.silenceListeners.add(listener);
  }

  /** Replaces the alert rules without a restart; alerts of removed rules resolve at the next tick. */
  setRules(rules: AlertRule[]): void {
    this.engine.setRules(rules);
    this.customer = this.engine.rulesFor('customer');
  }

  acknowledge(alertId: string, by: string): boolean {
    return this.engine.acknowledge(alertId, by, this.deps.clock.now());
  }

  addSilence(input: SilenceInput): { ok: true; silence: Silence } | { ok: false; error: string } {
    if (!this.deps.notifier) return { ok: false, error: 'silences need the notifier' };
    const r = this.deps.notifier.addSilence(input, this.deps.clock.now());
    if (r.ok) this.silencesChanged();
    return r;
  }

  expireSilence(id: string): boolean {
    const done = this.deps.notifier?.expireSilence(id, this.deps.clock.now()) ?? false;
    if (done) this.silencesChanged();
    return done;
  }

  listSilences(): Silence[] {
    return this.deps.notifier?.listSilences(this.deps.clock.now()) ?? [];
  }

  /** The view with the silences that match it now, as the wall and the outputs show it. */
  withSilences(view: AlertView, now: number): AlertView {
    const ids = this.deps.notifier?.silencedBy(view.labels, now) ?? [];
    return ids.length > 0 ? { ...view, silencedBy: ids } : view;
  }

  private silencesChanged(): void {
    for (const l of this.silenceListeners) l();
  }

  private changed(view: AlertView): void {
    const now = this.deps.clock.now();
    const shown = this.withSilences(view, now);
    this.deps.outputs.alert(shown, now);
    for (const l of this.alertListeners) l(shown);
    this.deps.onAlert?.(shown);
    this.deps.notifier?.onAlert(shown, now);
  }
}
