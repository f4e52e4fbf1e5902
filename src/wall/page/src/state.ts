// What the page knows: replaced by snapshots, patched by flushes. The frame shapes are the server's own (contract/frames.ts).
import type { AlertView, AtRiskEntry, ExperienceCell, OverloadCell, ProcessorStats, Silence, SnapshotFrame, WallFrame } from '../../../contract/frames.js';
import type { Role } from '../../auth.js';

export const HISTORY_POINTS = 600;

export interface WallState {
  role: Role | null;
  stats: ProcessorStats | null;
  history: { t: number[]; eps: number[]; lag: number[] };
  atRisk: AtRiskEntry[];
  overload: OverloadCell[];
  experience: ExperienceCell[];
  alerts: Map<string, AlertView>;
  ackPending: Set<string>;
  silences: Silence[];
  expirePending: Set<string>;
  /** Group cards the person opened, by key. */
  expanded: Set<string>;
  /** Server clock minus ours, from hello: silences are stamped in server time. */
  serverOffset: number;
  lastFrameAt: number;
  connected: boolean;
  reconnectAt: number;
  attempt: number;
}

export const state: WallState = {
  role: null,
  stats: null,
  history: { t: [], eps: [], lag: [] },
  atRisk: [],
  overload: [],
  experience: [],
  alerts: new Map(),
  ackPending: new Set(),
  silences: [],
  expirePending: new Set(),
  expanded: new Set(),
  serverOffset: 0,
  lastFrameAt: 0,
  connected: false,
  reconnectAt: 0,
  attempt: 0,
};

const params = new URLSearchParams(location.search);
export const token = params.get('token');
/** Who acknowledges and silences from this screen (`?by=`), when the link says. */
export const ackBy = params.get('by');
/** The one alert this screen shows (`?alert=<fingerprint>`): where an alert's link (Alertmanager's generatorURL) leads. */
export const focusAlert = params.get('alert');

export function serverNow(): number {
  return Date.now() + state.serverOffset;
}

function pushHistory(stats: ProcessorStats): void {
  const h = state.history;
  const t = stats.ts / 1_000;
  const last = h.t.length - 1;
  if (last >= 0 && t < h.t[last]) return;
  if (last >= 0 && t === h.t[last]) {
    h.eps[last] = stats.eventsPerSec;
    h.lag[last] = stats.lagMs;
    return;
  }
  h.t.push(t);
  h.eps.push(stats.eventsPerSec);
  h.lag.push(stats.lagMs);
  if (h.t.length > HISTORY_POINTS) {
    h.t.shift();
    h.eps.shift();
    h.lag.shift();
  }
}

export function applySnapshot(snapshot: SnapshotFrame): void {
  state.stats = snapshot.stats;
  state.history = { t: [], eps: [], lag: [] };
  for (const stats of [...snapshot.statsHistory].sort((a, b) => a.ts - b.ts)) pushHistory(stats);
  pushHistory(snapshot.stats);
  state.atRisk = snapshot.atRisk;
  state.overload = snapshot.overload;
  // A processor from before the experience signal sends no such field.
  state.experience = snapshot.experience ?? [];
  state.alerts = new Map(snapshot.alerts.map((alert) => [alert.id, alert]));
  for (const id of state.ackPending) if (state.alerts.get(id)?.acknowledged) state.ackPending.delete(id);
  setSilences(snapshot.silences ?? []);
}

function setSilences(silences: Silence[]): void {
  state.silences = silences;
  const now = serverNow();
  for (const id of state.expirePending) {
    const silence = silences.find((s) => s.id === id);
    if (!silence || silence.endsAt <= now) state.expirePending.delete(id);
  }
}

export function applyFrame(frame: WallFrame): void {
  switch (frame.type) {
    case 'snapshot':
      applySnapshot(frame);
      break;
    case 'stats':
      state.stats = frame.stats;
      pushHistory(frame.stats);
      break;
    case 'alert':
      state.alerts.set(frame.alert.id, frame.alert);
      if (frame.alert.acknowledged) state.ackPending.delete(frame.alert.id);
      break;
    case 'at_risk':
      state.atRisk = frame.atRisk;
      break;
    case 'overload':
      state.overload = frame.overload;
      break;
    case 'experience':
      state.experience = frame.experience;
      break;
    case 'silences':
      setSilences(frame.silences);
      break;
  }
}
