// What a pipeline and the cluster leader's EntityRuleEvaluator show and take at the wall, in one place: the alert
// desk's rules, acknowledgements and silences, and the LiveView's snapshot and frames. Each subclass builds its own
// desk and view; this only hands the requests on.
import type { AlertRule } from '../config/schema.js';
import type { ProcessorStats, Silence, SilenceInput, SnapshotFrame, WallFrame } from '../contract/frames.js';
import type { AlertDesk } from '../alerts/alertDesk.js';
import type { AlertEngine } from '../alerts/engine.js';
import type { LiveView } from './liveView.js';

export abstract class WallFacing {
  protected abstract readonly desk: AlertDesk;
  protected abstract readonly live: LiveView;

  get alerts(): AlertEngine { return this.desk.engine; }
  get stats(): ProcessorStats { return this.live.stats; }

  /** Replaces the alert rules without a restart; alerts of removed rules resolve at the next tick. */
  setRules(rules: AlertRule[]): void { this.desk.setRules(rules); }
  addSilence(input: SilenceInput): { ok: true; silence: Silence } | { ok: false; error: string } { return this.desk.addSilence(input); }
  expireSilence(id: string): boolean { return this.desk.expireSilence(id); }
  listSilences(): Silence[] { return this.desk.listSilences(); }
  acknowledge(alertId: string, by: string): boolean { return this.desk.acknowledge(alertId, by); }
  snapshot(): SnapshotFrame { return this.live.snapshot(); }
  subscribe(listener: (f: WallFrame) => void): () => void { return this.live.subscribe(listener); }
}
