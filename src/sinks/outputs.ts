// Where every pipeline output goes: ClickHouse for all of them, NATS for dead letters too, and in a cluster the
// partials stream for a partition's channel, segment and campaign buckets.
import type { EntityActivityRecord, PipelineOutputs, RejectedRecord } from '../contract/outputs.js';
import type { ClickHouseSink } from './clickhouse/writer.js';
import { ClickHouseOutputs } from './clickhouseOutputs.js';
import type { NatsOutputs } from './natsOutputs.js';

/** Gathers entity buckets for another stream (cluster/entityPartials.ts PartialsPublisher). */
export interface EntityActivityCollector {
  collect(r: EntityActivityRecord): void;
}

/** Every output of the pipeline, fanned out to ClickHouse and, for dead letters, to NATS. */
export class FanOutOutputs extends ClickHouseOutputs implements PipelineOutputs {
  constructor(
    sink: ClickHouseSink,
    private readonly nats: NatsOutputs,
    /** In a cluster, a partition's channel, segment and campaign buckets also go to the partials stream. */
    private readonly partials: EntityActivityCollector | null,
  ) {
    super(sink);
  }
  override rejected(r: RejectedRecord): void {
    super.rejected(r);
    this.nats.rejected(r);
  }
  override entityActivity(r: EntityActivityRecord): void {
    super.entityActivity(r);
    this.partials?.collect(r);
  }
}
