// What the wall shows and what its WebSocket carries: shared by the alert engine, the pipeline and the wall.

export type AlertState = 'pending' | 'firing' | 'resolved';
export type Severity = 'info' | 'warning' | 'critical';
export type SubjectKind = 'customer' | 'channel' | 'segment' | 'campaign' | 'product' | 'processor';

/** The event that made a rule's condition true: lets anyone measure publish-to-wall delay. */
export interface TriggerEvent {
  eventId: string;
  /** Event time, epoch ms. */
  eventTs: number;
  /** When the processor received the message, epoch ms. */
  receivedAt: number;
}

export interface AlertView {
  id: string;
  fingerprint: string;
  rule: string;
  severity: Severity;
  state: AlertState;
  subject: { kind: SubjectKind; key: string };
  value: number;
  threshold: number;
  reasons: string[];
  labels: Record<string, string>;
  summary: string;
  startsAt: number;
  updatedAt: number;
  endsAt: number | null;
  acknowledged: { by: string; at: number } | null;
  trigger: TriggerEvent | null;
  /** Ids of the silences that hide this alert from notifications (it is still shown). */
  silencedBy?: string[];
}

/** An estimate with its interval, e.g. a 90 % one: level 0.9. */
export interface IntervalEstimate {
  estimate: number;
  lower: number;
  upper: number;
  level: number;
}

/** A customer's 90 % delta-method intervals (src/signals/liveIntervals.ts). */
export interface AtRiskIntervals {
  pAlive: IntervalEstimate;
  expectedPurchases90d: IntervalEstimate;
  /** The value interval times the risk; null without the spend model's covariance or without spend. */
  valueAtRisk: IntervalEstimate | null;
}

export interface AtRiskEntry {
  customerId: string;
  risk: number;
  pAlive: number;
  /** Expected customer value lost if the customer churns. */
  valueAtRisk: number;
  reasons: string[];
  updatedAt: number;
  /** Only from a fitted version stored with its covariance, and filled only for the entries a list shows. */
  intervals?: AtRiskIntervals;
}

export interface OverloadCell {
  kind: 'channel' | 'campaign' | 'segment';
  key: string;
  /** Outbound touches over the last 24 h. */
  touches24h: number;
  /** Customers pushed over a touch cap over the last 24 h. */
  overloadedCustomers: number;
  /** Complaints, unsubscribes, tickets and other negatives over the last hour. */
  negatives1h: number;
  /** Negatives in the current surge bucket against the moving baseline. */
  surgeZ: number;
  /** Contact-budget checks over budget.campaignWindowMs (channel and campaign cells; absent when none). */
  checked?: number;
  /** Of them, suppressed… */
  suppressed?: number;
  /** …per channel (a campaign cell may span several). */
  suppressedByChannel?: Record<string, number>;
}

/** Experience cells a frame carries: the worst products and the worst segments, at most this many of each. */
export const EXPERIENCE_CELLS = 10;

/** A product's or a segment's brand experience on the wall: the worst now, with the trend against its baseline. */
export interface ExperienceCell {
  kind: 'product' | 'segment';
  key: string;
  /** Brand experience index in [0, 100], 50 neutral. */
  index: number;
  /** Index points against the cell's own slow baseline (negative: declining). */
  trend: number;
  /** Buyers and raters (decayed) behind the index. */
  volume: number;
  /** The leading reason, e.g. "14 refunds in 7 days; rated 1.8 by 212". */
  reason: string | null;
}

export interface ProcessorStats {
  ts: number;
  eventsPerSec: number;
  eventsTotal: number;
  rejectedTotal: number;
  lateTotal: number;
  /** Event time to processing, p50 over the last interval, ms. */
  lagMs: number;
  /** Messages in the stream not yet delivered to this processor. */
  pending: number;
  activeCustomers: number;
  clickhouseBufferedRows: number;
  uptimeS: number;
  /** Counts over every active alert, on the current stats (not the history): a snapshot carries only some alerts. */
  alerts?: AlertTotals;
  /** The purchase model this processor scores with, and the scheduled refit's last word on it. */
  model?: ModelState;
}

/** The purchase model's version on the wall: what scores now, what the holdout chose, and the last refit's drift. */
export interface ModelState {
  /** customer_signals.model: `bgnbd-gg:<fitted at>`, or `bgnbd-gg:config` before any fit. */
  version: string;
  /** The version's fit date (ISO, whole seconds); null on the config's parameters. */
  fittedAt: string | null;
  /** The model the last scheduled refit's holdout comparison chose (bgnbd, pareto_nbd, mbgnbd); null when none did. */
  chosen: string | null;
  /** `unknown` until this processor refits (another processor of a cluster refits, or refit is off). */
  drift: 'ok' | 'drifted' | 'unknown';
  driftReasons: string[];
}

/** How many alerts are active, so a screen that holds only some of them can still say how many there are. */
export interface AlertTotals {
  firing: number;
  pending: number;
  /** Firing and acknowledged. */
  acknowledged: number;
  /** Active and matched by a silence now. */
  silenced: number;
  /** Firing, neither acknowledged nor silenced: nobody owns them yet. */
  unattended: number;
  /** Customer alerts by rule and campaign label (null when the alert has none), most active first, at most 50. */
  customerGroups: AlertGroupCount[];
}

export interface AlertGroupCount {
  rule: string;
  campaign: string | null;
  firing: number;
  pending: number;
  acknowledged: number;
  silenced: number;
}

export interface SnapshotFrame {
  type: 'snapshot';
  serverTime: number;
  stats: ProcessorStats;
  statsHistory: ProcessorStats[];
  atRisk: AtRiskEntry[];
  overload: OverloadCell[];
  /** The worst products and segments by brand experience now (at most 10 each); absent from older processors' frames. */
  experience: ExperienceCell[];
  alerts: AlertView[];
  silences: Silence[];
}

export type WallFrame =
  | SnapshotFrame
  | { type: 'stats'; stats: ProcessorStats }
  | { type: 'alert'; alert: AlertView }
  | { type: 'at_risk'; atRisk: AtRiskEntry[] }
  | { type: 'overload'; overload: OverloadCell[] }
  | { type: 'experience'; experience: ExperienceCell[] }
  | { type: 'silences'; silences: Silence[] };

/** A label matcher, as Alertmanager's: `=` equal, `!=` not equal, `=~` anchored regex, `!~` its negation. */
export interface Matcher {
  name: string;
  value: string;
  op: '=' | '!=' | '=~' | '!~';
}

/** A silence: alerts whose labels match every matcher between startsAt and endsAt are shown but not notified. */
export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  createdAt: number;
}

export type SilenceInput = Omit<Silence, 'id' | 'createdAt'>;

export type PressureOutcome = { ok: true; result: unknown } | { ok: false; reason: string };

/** The contact budget's HTTP face: bodies in and out are the same JSON as over NATS (src/budget/requests.ts). */
export interface PressureApi {
  /** `GET /api/v1/customers/{id}/pressure`: the decision per channel now, reserving nothing. */
  customer(customerId: string): unknown | Promise<unknown>;
  /** `POST /api/v1/pressure/check`: a batch; every allowed id reserves its slot. */
  check(body: unknown): PressureOutcome | Promise<PressureOutcome>;
}

/** What the wall needs from the rest of the processor; the wall owns nothing else. */
export interface WallSource {
  snapshot(): SnapshotFrame;
  /** Incremental frames as they happen; the wall coalesces them per client. Returns an unsubscribe. */
  subscribe(listener: (frame: WallFrame) => void): () => void;
  /**
   * What a role may see of a frame, when that differs: under pseudonymization responders can be shown original
   * customer ids (privacy.revealToResponders). Absent: every role sees the same frame.
   */
  forRole?(frame: WallFrame, role: 'viewer' | 'responder'): WallFrame;
  /** A responder acknowledges an alert; false when there is no such alert. */
  acknowledge(alertId: string, by: string): Promise<boolean>;
  /** Silences that have not ended, and those ended in the last day. */
  listSilences(): Silence[];
  /** A responder silences alerts; the error says what is wrong with the silence. */
  addSilence(input: SilenceInput): Promise<{ ok: true; silence: Silence } | { ok: false; error: string }>;
  /** Ends a silence now; false when there is no such silence. */
  expireSilence(id: string): Promise<boolean>;
  /** The contact budget for senders over HTTP (responders only); absent when budget.enabled is off. */
  pressure?: PressureApi;
  /** Liveness: the process runs its loop. */
  live(): boolean;
  /** Readiness: every dependency with its state. */
  readiness(): {
    ready: boolean;
    checks: Record<string, { ok: boolean; detail: string }>;
    /** Since this processor's oldest last checkpoint, ms; null before its first (or holding no partition). */
    checkpointAgeMs?: number | null;
    /** The purchase model scoring now (`bgnbd-gg:config`, or the fit's time). */
    modelVersion?: string;
  };
  /** Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
}
