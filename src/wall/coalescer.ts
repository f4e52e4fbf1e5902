// Folds a burst of incremental frames into the few that matter: the latest stats, at-risk list, overload table,
// experience cells and silence list, and each alert's latest state. Pure: no timers, no I/O; the client hub decides when to drain.
import type { AlertView, WallFrame } from '../contract/frames.js';

type Of<T extends WallFrame['type']> = Extract<WallFrame, { type: T }>;

export class FrameCoalescer {
  private snapshot: Of<'snapshot'> | null = null;
  private stats: Of<'stats'> | null = null;
  private atRisk: Of<'at_risk'> | null = null;
  private overload: Of<'overload'> | null = null;
  private experience: Of<'experience'> | null = null;
  private silences: Of<'silences'> | null = null;
  /** Keyed by alert id: the first arrival fixes the position, the latest state wins. */
  private readonly alerts = new Map<string, AlertView>();

  add(frame: WallFrame): void {
    switch (frame.type) {
      case 'snapshot':
        // A snapshot supersedes everything pending before it.
        this.clear();
        this.snapshot = frame;
        break;
      case 'stats':
        this.stats = frame;
        break;
      case 'at_risk':
        this.atRisk = frame;
        break;
      case 'overload':
        this.overload = frame;
        break;
      case 'experience':
        this.experience = frame;
        break;
      case 'silences':
        this.silences = frame;
        break;
      case 'alert':
        this.alerts.set(frame.alert.id, frame.alert);
        break;
    }
  }

  get empty(): boolean {
    return !this.snapshot && !this.stats && !this.atRisk && !this.overload && !this.experience && !this.silences && this.alerts.size === 0;
  }

  /** The pending frames in a fixed order (snapshot, stats, at_risk, overload, experience, silences, alerts) and an empty coalescer. */
  drain(): WallFrame[] {
    const out: WallFrame[] = [];
    if (this.snapshot) out.push(this.snapshot);
    if (this.stats) out.push(this.stats);
    if (this.atRisk) out.push(this.atRisk);
    if (this.overload) out.push(this.overload);
    if (this.experience) out.push(this.experience);
    // Silences before alerts: a page marks the alerts of a flush against the silence list of the same flush.
    if (this.silences) out.push(this.silences);
    for (const alert of this.alerts.values()) out.push({ type: 'alert', alert });
    this.clear();
    return out;
  }

  private clear(): void {
    this.snapshot = this.stats = this.atRisk = this.overload = this.experience = this.silences = null;
    this.alerts.clear();
  }
}
