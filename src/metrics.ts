// Prometheus metrics: read from the pipeline's and sinks' plain counters and histograms at scrape time, so the hot
// path only adds numbers. Base units (seconds, bytes), Node's process metrics under their standard names, and
// `promtool check metrics` clean (tests/integration/prometheus.test.ts checks a live /metrics).
import client from 'prom-client';
import type { AlertEngine } from './alerts/engine.js';
import type { ProcessorStats } from './contract/frames.js';
import type { EntityStats } from './signals/entityStats.js';
import type { CustomerWindows } from './windows/customerWindows.js';

/** What the metrics read of a pipeline, or of the cluster leader's EntityRuleEvaluator (which holds no windows). */
export interface MeteredPipeline {
  counts: Readonly<Record<string, number>>;
  rejectReasons: ReadonlyMap<string, number>;
  windows: Pick<CustomerWindows, 'size' | 'bytesPerSlot' | 'evictions'> | null;
  entities: Pick<EntityStats, 'size' | 'evicted'>;
  stats: Pick<ProcessorStats, 'lagMs'>;
  alerts: Pick<AlertEngine, 'activeCount'>;
  /** Event time to signals, per accepted event; absent where no event is handled (the leader's evaluator). */
  eventToSignal?: Histogram;
}
import { pressureDurations } from './budget/natsService.js';
import { EVENT_LAG_BUCKETS, mergeHistograms, type Histogram } from './shared/histogram.js';
import type { DeliveryStats } from './alerts/deliveryQueue.js';

export interface MetricSources {
  /** Every pipeline of the processor now: one, or one per partition held (and the leader's) in a cluster. */
  pipelines(): MeteredPipeline[];
  sink: {
    counters: { rowsWritten: number; batchesWritten: number; bytesWritten: number; insertFailures: number; rowsSpilled: number; spillFailures: number; spillFilesSetAside: number };
    bufferedRows(): number;
    state(): { ok: boolean };
    spilled(): { batches: number; rows: number; bytes: number };
    full(): boolean;
    insertDurations: Histogram;
  };
  /** When the slice checkpointed longest ago last checkpointed, epoch ms (0 before every slice has one). */
  oldestCheckpointAt(): number;
  /** How long each commit took. */
  commitDurations(): Histogram;
  /** How long each wall frame flush to every client took; null before the wall listens. */
  wallFanout(): Histogram | null;
  pending(): number;
  natsConnected(): boolean;
  wallClients(): number;
  deadLettersPublished(): number;
  alertsPublished(): number;
  notifications(): { sent: number; silenced: number; webhook: DeliveryStats | null; alertmanager: (DeliveryStats & { firing: number }) | null };
  /** Scale-out state; absent when not clustered. */
  cluster?: () => { owned: number; members: number; leader: boolean; unpartitioned: number };
}

/** Sums a reading over items (pipelines, consumers). */
export function sumOf<T>(items: readonly T[], read: (item: T) => number): number {
  let n = 0;
  for (const item of items) n += read(item);
  return n;
}

export function createMetrics(src: MetricSources): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which promtool flags: each is the sum of its per-type gauge (nodejs_active_handles{type}).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const counter = (name: string, help: string, read: () => number) =>
    new client.Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new client.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });

  /** A histogram read from plain bucket counts at scrape time, one series set per label value. */
  const histogram = (name: string, help: string, labelName: string | null, read: () => [string, Histogram][]) => {
    const metric = {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      reset() {},
      get: async () => ({
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: read().flatMap(([label, h]) => {
          const base: Record<string, string> = labelName ? { [labelName]: label } : {};
          return [
            ...h.cumulative().map((b) => ({ metricName: `${name}_bucket`, labels: { ...base, le: b.le }, value: b.count })),
            { metricName: `${name}_sum`, labels: base, value: h.sum },
            { metricName: `${name}_count`, labels: base, value: h.count },
          ];
        }),
      }),
    };
    registry.registerMetric(metric as unknown as client.Metric);
  };

  const all = src.pipelines;
  histogram('vigil_event_to_signal_seconds', 'Event time of a customer\'s latest event to its signals worked out at the derive tick, seconds (producer clock to processor clock)', null, () => [['', mergeHistograms(all().flatMap((p) => (p.eventToSignal ? [p.eventToSignal] : [])), EVENT_LAG_BUCKETS)]]);
  histogram('vigil_commit_duration_seconds', 'Commit duration (rows flushed, alert state and consent persisted, acknowledged), seconds', null, () => [['', src.commitDurations()]]);
  histogram('vigil_clickhouse_insert_duration_seconds', 'Successful ClickHouse insert duration, seconds', null, () => [['', src.sink.insertDurations]]);
  histogram('vigil_budget_check_duration_seconds', "Contact budget answer time from request to reply, seconds, by endpoint (check, batch: the NATS service's; http: POST /api/v1/pressure/check on budget.httpPort)", 'endpoint', () => [
    ['check', pressureDurations.check],
    ['batch', pressureDurations.batch],
    ['http', pressureDurations.http],
  ]);
  histogram('vigil_wall_fanout_duration_seconds', 'Wall frame flush to every connected client, seconds', null, () => {
    const h = src.wallFanout();
    return h ? [['', h]] : [];
  });
  new client.Counter({
    name: 'vigil_events_total',
    help: 'Messages handled, by outcome (processed, duplicate, late, rejected, dropped_consent)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of all()) for (const [outcome, n] of Object.entries(p.counts)) this.inc({ outcome }, n);
    },
  });
  new client.Counter({
    name: 'vigil_rejected_events_total',
    help: 'Dead-lettered or dropped messages by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of all()) for (const [reason, n] of p.rejectReasons) this.inc({ reason }, n);
    },
  });
  gauge('vigil_active_customers', 'Customers held in live window state', () => sumOf(all(), (p) => p.windows?.size ?? 0));
  gauge('vigil_live_state_bytes_per_customer', 'Typed-array state per customer slot, bytes: windows, and the id table with its share of the id bytes', () => all().find((p) => p.windows)?.windows?.bytesPerSlot ?? 0);
  // In a cluster every partition tracks the entities its customers touch: the largest is the most held at once.
  gauge('vigil_entities', 'Channels, segments and campaigns tracked', () => Math.max(0, ...all().map((p) => p.entities.size)));
  new client.Counter({
    name: 'vigil_evictions_total',
    help: 'Live state dropped: customers at the maxCustomers bound or idle, entities at the maxEntities bound',
    labelNames: ['what', 'why'],
    registers: [registry],
    collect() {
      this.reset();
      const ps = all();
      this.inc({ what: 'customer', why: 'bound' }, sumOf(ps, (p) => p.windows?.evictions.bound ?? 0));
      this.inc({ what: 'customer', why: 'idle' }, sumOf(ps, (p) => p.windows?.evictions.idle ?? 0));
      this.inc({ what: 'entity', why: 'bound' }, sumOf(ps, (p) => p.entities.evicted));
    },
  });
  gauge('vigil_event_lag_seconds', 'Median event time to processing over the last tick, seconds (the largest over the partitions held)', () => Math.max(0, ...all().map((p) => p.stats.lagMs)) / 1_000);
  gauge('vigil_checkpoint_last_success_timestamp_seconds', 'When the stalest slice last checkpointed, Unix seconds (0 before every slice has one)', () => src.oldestCheckpointAt() / 1_000);
  gauge('vigil_consumer_pending_messages', 'Messages in the stream not yet delivered to this processor', () => src.pending());
  gauge('vigil_alerts_active', 'Pending and firing alerts', () => sumOf(all(), (p) => p.alerts.activeCount));
  gauge('vigil_clickhouse_buffered_rows', 'Rows waiting to be written to ClickHouse', () => src.sink.bufferedRows());
  gauge('vigil_clickhouse_up', '1 when the last ClickHouse insert succeeded', () => (src.sink.state().ok ? 1 : 0));
  gauge('vigil_clickhouse_spilled_bytes', 'Bytes of spill files on local disk waiting for ClickHouse', () => src.sink.spilled().bytes);
  gauge('vigil_clickhouse_spilled_batches', 'Spill files (one batch each) on local disk waiting for ClickHouse', () => src.sink.spilled().batches);
  gauge('vigil_clickhouse_spilled_rows', 'Rows in spill files on local disk waiting for ClickHouse', () => src.sink.spilled().rows);
  gauge('vigil_clickhouse_buffer_full', '1 while the sink is full (memory above clickhouse.spill.maxMemoryRows or spill files at spill.maxBytes): consumption paused', () => (src.sink.full() ? 1 : 0));
  gauge('vigil_nats_connected', '1 while connected to NATS', () => (src.natsConnected() ? 1 : 0));
  gauge('vigil_wall_clients', 'Connected wall WebSocket clients', () => src.wallClients());
  counter('vigil_clickhouse_rows_written_total', 'Rows inserted into ClickHouse', () => src.sink.counters.rowsWritten);
  counter('vigil_clickhouse_batches_written_total', 'Insert batches written to ClickHouse', () => src.sink.counters.batchesWritten);
  counter('vigil_clickhouse_bytes_written_total', 'Bytes inserted into ClickHouse (RowBinary)', () => src.sink.counters.bytesWritten);
  counter('vigil_clickhouse_insert_failures_total', 'Failed insert attempts (each retry counts)', () => src.sink.counters.insertFailures);
  counter('vigil_clickhouse_rows_spilled_total', 'Rows written to spill files because ClickHouse could not take them', () => src.sink.counters.rowsSpilled);
  counter('vigil_clickhouse_spill_failures_total', 'Failed writes to the spill directory (the batch stayed in memory)', () => src.sink.counters.spillFailures);
  counter('vigil_clickhouse_spill_files_set_aside_total', 'Spill files moved to corrupt/ and not inserted (interrupted write or content not matching)', () => src.sink.counters.spillFilesSetAside);
  counter('vigil_dead_letters_published_total', 'Dead letters published on the NATS dead-letter subject', () => src.deadLettersPublished());
  counter('vigil_alert_notifications_published_total', 'Alert state changes published on alerts.<severity>', () => src.alertsPublished());
  counter('vigil_notifications_sent_total', 'Grouped notifications handed to the receivers', () => src.notifications().sent);
  counter('vigil_alerts_silenced_total', 'Alert state changes not notified because a silence matched', () => src.notifications().silenced);
  const webhook = () => src.notifications().webhook;
  counter('vigil_webhook_delivered_total', 'Notifications the webhook accepted', () => webhook()?.delivered ?? 0);
  counter('vigil_webhook_failures_total', 'Failed webhook attempts (each retry counts)', () => webhook()?.failures ?? 0);
  counter('vigil_webhook_dead_lettered_total', 'Notifications given up on after the last try or a full queue', () => webhook()?.deadLettered ?? 0);
  gauge('vigil_webhook_queued', 'Notifications waiting for the webhook', () => webhook()?.queued ?? 0);
  const am = () => src.notifications().alertmanager;
  counter('vigil_alertmanager_posts_total', 'Alert batches an Alertmanager accepted (each of an HA pair counts)', () => am()?.delivered ?? 0);
  counter('vigil_alertmanager_failures_total', 'Failed posts to an Alertmanager (each retry counts)', () => am()?.failures ?? 0);
  counter('vigil_alertmanager_dropped_total', 'Alert batches given up on (last try or full queue); firing ones go again at the next resend', () => am()?.deadLettered ?? 0);
  gauge('vigil_alertmanager_queued', 'Alert batches waiting for an Alertmanager', () => am()?.queued ?? 0);
  gauge('vigil_alertmanager_firing_alerts', 'Firing alerts re-sent to Alertmanager every resend interval', () => am()?.firing ?? 0);
  const cluster = src.cluster;
  if (cluster) {
    gauge('vigil_cluster_partitions_owned', 'Partitions this processor holds', () => cluster().owned);
    gauge('vigil_cluster_members', 'Processors sharing the partitions, as this one sees them', () => cluster().members);
    gauge('vigil_cluster_leader', '1 while this processor is the leader (cross-customer rules, unpartitioned subjects)', () => (cluster().leader ? 1 : 0));
    counter('vigil_cluster_unpartitioned_total', 'Events dead-lettered as UNPARTITIONED by this processor while leader', () => cluster().unpartitioned);
  }
  return registry;
}
