// An in-memory WallSource for the wall's tests and demo: state set in code, frames pushed by hand, acknowledgements and
// silences recorded. Silences are validated by the processor's own rules (src/alerts/silences.ts), so errors read the same.
import type { AlertView, AtRiskEntry, ExperienceCell, OverloadCell, ProcessorStats, Silence, SilenceInput, SnapshotFrame, WallFrame, WallSource } from '../../src/contract/frames.js';
import { newSilence, validateSilence } from '../../src/alerts/silences.js';
import { buildStats } from './wallFixtures.js';

export interface FakeWallState {
  stats: ProcessorStats;
  statsHistory: ProcessorStats[];
  atRisk: AtRiskEntry[];
  overload: OverloadCell[];
  experience: ExperienceCell[];
  alerts: AlertView[];
  silences: Silence[];
}

export class FakeWallSource implements WallSource {
  stats: ProcessorStats;
  statsHistory: ProcessorStats[];
  atRisk: AtRiskEntry[];
  overload: OverloadCell[];
  experience: ExperienceCell[];
  readonly alerts = new Map<string, AlertView>();
  readonly silences = new Map<string, Silence>();
  isLive = true;
  checks: Record<string, { ok: boolean; detail: string }> = { nats: { ok: true, detail: 'connected' }, clickhouse: { ok: true, detail: 'connected' } };
  readonly acknowledgements: { alertId: string; by: string }[] = [];
  readonly silenceRequests: SilenceInput[] = [];
  private readonly listeners = new Set<(frame: WallFrame) => void>();

  constructor(initial: Partial<FakeWallState> = {}) {
    this.stats = initial.stats ?? buildStats();
    this.statsHistory = initial.statsHistory ?? [];
    this.atRisk = initial.atRisk ?? [];
    this.overload = initial.overload ?? [];
    this.experience = initial.experience ?? [];
    for (const alert of initial.alerts ?? []) this.alerts.set(alert.id, alert);
    for (const silence of initial.silences ?? []) this.silences.set(silence.id, silence);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** How often a snapshot was asked for. */
  snapshotCalls = 0;

  snapshot(): SnapshotFrame {
    this.snapshotCalls++;
    return {
      type: 'snapshot',
      serverTime: Date.now(),
      stats: this.stats,
      statsHistory: this.statsHistory,
      atRisk: this.atRisk,
      overload: this.overload,
      experience: this.experience,
      alerts: [...this.alerts.values()],
      silences: this.listSilences(),
    };
  }

  subscribe(listener: (frame: WallFrame) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies a frame to the state (as the processor would) and emits it to subscribers. */
  push(frame: WallFrame): void {
    switch (frame.type) {
      case 'stats':
        this.statsHistory = [...this.statsHistory, this.stats].slice(-600);
        this.stats = frame.stats;
        break;
      case 'alert':
        this.alerts.set(frame.alert.id, frame.alert);
        break;
      case 'at_risk':
        this.atRisk = frame.atRisk;
        break;
      case 'overload':
        this.overload = frame.overload;
        break;
      case 'experience':
        this.experience = frame.experience;
        break;
      case 'silences':
        this.silences.clear();
        for (const silence of frame.silences) this.silences.set(silence.id, silence);
        break;
      case 'snapshot':
        break;
    }
    for (const listener of this.listeners) listener(frame);
  }

  async acknowledge(alertId: string, by: string): Promise<boolean> {
    this.acknowledgements.push({ alertId, by });
    const alert = this.alerts.get(alertId);
    if (!alert) return false;
    this.push({ type: 'alert', alert: { ...alert, acknowledged: { by, at: Date.now() }, updatedAt: Date.now() } });
    return true;
  }

  listSilences(): Silence[] {
    return [...this.silences.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  async addSilence(input: SilenceInput): Promise<{ ok: true; silence: Silence } | { ok: false; error: string }> {
    this.silenceRequests.push(input);
    const error = validateSilence(input);
    if (error) return { ok: false, error };
    const silence = newSilence(input, Date.now());
    this.silences.set(silence.id, silence);
    this.push({ type: 'silences', silences: this.listSilences() });
    return { ok: true, silence };
  }

  async expireSilence(id: string): Promise<boolean> {
    const silence = this.silences.get(id);
    if (!silence) return false;
    this.silences.set(id, { ...silence, endsAt: Math.min(silence.endsAt, Date.now()) });
    this.push({ type: 'silences', silences: this.listSilences() });
    return true;
  }

  live(): boolean {
    return this.isLive;
  }

  readiness(): { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> } {
    return { ready: Object.values(this.checks).every((check) => check.ok), checks: this.checks };
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    return { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: `vigil_events_total ${this.stats.eventsTotal}\n` };
  }
}
