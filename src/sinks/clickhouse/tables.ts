// The tables Vigil writes (directly, or through a materialized view) and the exact columns of each, as the
// migrations create them; row types derive from this one map, and the integration tests check it against the
// server's own system.columns.

/** Column types as the server reports them in system.columns (the ungated, 18.16-compatible ones). */
export const TABLES = {
  events: {
    id: 'String',
    customer_id: 'String',
    type: 'String',
    ts: "DateTime('UTC')",
    ts_ms: 'UInt64',
    channel: 'String',
    value: 'Float64',
    segment: 'String',
    campaign_id: 'String',
    props: 'String',
    received_at: "DateTime('UTC')",
    stream_seq: 'UInt64',
  },
  customer_activity: {
    customer_id: 'String',
    minute: "DateTime('UTC')",
    event_type: 'String',
    events: 'UInt64',
    revenue: 'Float64',
    writer: 'UInt64',
    version: 'UInt64',
  },
  entity_activity: {
    kind: 'String',
    key: 'String',
    minute: "DateTime('UTC')",
    event_type: 'String',
    events: 'UInt64',
    overloaded: 'UInt64',
    revenue: 'Float64',
    writer: 'UInt64',
    version: 'UInt64',
  },
  customer_signals: {
    ts: "DateTime('UTC')",
    ts_ms: 'UInt64',
    customer_id: 'String',
    engagement: 'Float32',
    engagement_trend: 'Float32',
    churn_risk: 'Float32',
    p_alive: 'Float32',
    expected_purchases_30d: 'Float32',
    expected_purchases_90d: 'Float32',
    customer_value: 'Float64',
    value_at_risk: 'Float64',
    fatigue: 'Float32',
    touches_24h: 'UInt32',
    negatives_7d: 'UInt32',
    reasons: 'Array(String)',
    model: 'String',
  },
  alerts: {
    ts: "DateTime('UTC')",
    ts_ms: 'UInt64',
    alert_id: 'String',
    fingerprint: 'String',
    rule: 'String',
    severity: 'String',
    state: 'String',
    subject_kind: 'String',
    subject_key: 'String',
    value: 'Float64',
    threshold: 'Float64',
    reasons: 'Array(String)',
    labels: 'String',
    summary: 'String',
    starts_at: "DateTime('UTC')",
    acknowledged_by: 'String',
    trigger_event_id: 'String',
    trigger_event_ts_ms: 'UInt64',
  },
  rejected_events: {
    received_at: "DateTime('UTC')",
    received_ms: 'UInt64',
    reason: 'String',
    detail: 'String',
    subject: 'String',
    stream_seq: 'UInt64',
    payload: 'String',
    payload_bytes: 'UInt32',
    /** Migration 0013: the payload's top-level customerId as read leniently (the pseudonym under pseudonymization), '' when none. */
    customer_id: 'String',
  },
  /** Migration 0013: stream messages of a customer that are in no other table (duplicates, dropped for consent), for erasure. */
  unstored_events: {
    received_at: "DateTime('UTC')",
    customer_id: 'String',
    stream_seq: 'UInt64',
    reason: 'String',
  },
  model_params: {
    fitted_at: "DateTime('UTC')",
    model: 'String',
    params: 'String',
    log_likelihood: 'Float64',
    customers: 'UInt64',
    converged: 'UInt8',
    source: 'String',
    /** '' for the pooled fit, else the customer segment the fit is of (migration 0016). */
    segment: 'String',
  },
  /** One row per compared purchase-count model of a `vigil model fit` (migration 0015). */
  model_selection: {
    fitted_at: "DateTime('UTC')",
    model: 'String',
    chosen: 'UInt8',
    params: 'String',
    std_errors: 'String',
    log_likelihood: 'Float64',
    converged: 'UInt8',
    customers: 'UInt64',
    calibration_end: "DateTime('UTC')",
    holdout_end: "DateTime('UTC')",
    holdout_log_likelihood: 'Float64',
    holdout_expected: 'Float64',
    holdout_actual: 'Float64',
    source: 'String',
  },
  /** One row per week of a `vigil model fit`'s tracking plot (migration 0017). */
  model_tracking: {
    fitted_at: "DateTime('UTC')",
    model: 'String',
    period_end: "DateTime('UTC')",
    calibration_end: "DateTime('UTC')",
    actual: 'Float64',
    expected: 'Float64',
    actual_cumulative: 'Float64',
    expected_cumulative: 'Float64',
  },
  /**
   * Brand experience snapshots of customers, products and segments (migration 0018): erasure finds a customer's
   * rows by scope = 'customer' and key (src/privacy/erasure.ts).
   */
  experience_snapshots: {
    ts: "DateTime('UTC')",
    ts_ms: 'UInt64',
    scope: 'String',
    key: 'String',
    segment: 'String',
    experience_index: 'Float32',
    product: 'Float32',
    interactive: 'Float32',
    others: 'Float32',
    volume: 'UInt32',
    reasons: 'Array(String)',
  },
  /** Written by customer_days_mv from customer_activity (migration 0009). */
  customer_days: {
    day: 'Date',
    customer_id: 'String',
  },
  /** Written by customer_segments_mv from events (migration 0010). */
  customer_segments: {
    customer_id: 'String',
    segment: 'String',
    ts_ms: 'UInt64',
  },
  erasure_audit: {
    erased_at: "DateTime('UTC')",
    erased_ms: 'UInt64',
    request_id: 'String',
    requested_at: "DateTime('UTC')",
    requested_by: 'String',
    via: 'String',
    subject_hash: 'String',
    tables: 'Array(String)',
    rows: 'Array(UInt64)',
    redis_entries: 'UInt32',
    stream_messages: 'UInt32',
    live_state: 'UInt8',
    duration_ms: 'UInt32',
  },
  export_audit: {
    exported_at: "DateTime('UTC')",
    exported_ms: 'UInt64',
    export_id: 'String',
    requested_by: 'String',
    via: 'String',
    subject_hash: 'String',
    outcome: 'String',
    tables: 'Array(String)',
    rows: 'Array(UInt64)',
    bytes: 'UInt64',
    live: 'UInt8',
    duration_ms: 'UInt32',
  },
} as const;

/** Materialized views the migrations create, and the table each writes to. */
export const VIEWS = { customer_days_mv: 'customer_days', customer_segments_mv: 'customer_segments' } as const;

export type TableName = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

/**
 * The JSON value each column type takes in a row. DateTime is unix seconds (see toChDateTime);
 * UInt64 may be a string where a value can pass 2^53.
 */
type JsonOf<T extends string> = T extends `DateTime${string}`
  ? number
  : T extends 'Date'
    ? string
  : T extends 'UInt64'
    ? number | string
    : T extends 'String'
      ? string
      : T extends `Array(${string})`
        ? string[]
        : number;

/** One row of `table`, as pushed to the sink. */
export type RowOf<T extends TableName> = { [C in keyof (typeof TABLES)[T]]: JsonOf<(typeof TABLES)[T][C] & string> };

export type EventRow = RowOf<'events'>;
export type CustomerActivityRow = RowOf<'customer_activity'>;
export type EntityActivityRow = RowOf<'entity_activity'>;
export type CustomerSignalsRow = RowOf<'customer_signals'>;
export type AlertRow = RowOf<'alerts'>;
export type RejectedEventRow = RowOf<'rejected_events'>;
export type UnstoredEventRow = RowOf<'unstored_events'>;
export type ModelParamsRow = RowOf<'model_params'>;
export type ModelSelectionRow = RowOf<'model_selection'>;
export type ModelTrackingRow = RowOf<'model_tracking'>;
export type ExperienceSnapshotRow = RowOf<'experience_snapshots'>;
export type ErasureAuditRow = RowOf<'erasure_audit'>;
export type ExportAuditRow = RowOf<'export_audit'>;

/** entity_activity.kind */
export type EntityKind = 'channel' | 'segment' | 'campaign';
