// The leader's sweep of subjects outside every partition (docs/scale-out.md, section 1): events published without
// a customer token (`<prefix>.<type>`), and three-token subjects the NATS server did not map (its config lacks the
// mapping). No partition consumes them, so without this sweep they would sit in the stream unseen. Each becomes a
// dead letter with reason UNPARTITIONED and its payload, counted, and is acknowledged once the dead letter is stored.
import { AckPolicy, DeliverPolicy, nanos, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';
import type { VigilConfig } from '../config/schema.js';
import type { PipelineOutputs } from '../contract/outputs.js';
import { errorMessage } from '../shared/errors.js';
import { systemClock, type Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';

export interface SweeperOptions {
  nc: NatsConnection;
  config: VigilConfig;
  outputs: Pick<PipelineOutputs, 'rejected'>;
  log: Logger;
  /** Under pseudonymization a dead letter carries the pseudonym, not the customer id. */
  payload?: (data: Uint8Array) => Uint8Array;
  /** Stamps the dead letters' receipt; the system clock when absent. */
  clock?: Clock;
}

interface Sweep {
  durable: string;
  filter: string;
  detail: string;
  messages: ConsumerMessages | null;
  loop: Promise<void> | null;
  last: JsMsg | null;
  acked: number;
}

export class UnpartitionedSweeper {
  deadLettered = 0;
  private running = false;
  private readonly sweeps: Sweep[];

  constructor(private readonly o: SweeperOptions) {
    const { consumer, subjectPrefix } = o.config.nats;
    const sweep = (durable: string, filter: string, detail: string): Sweep => ({ durable, filter, detail, messages: null, loop: null, last: null, acked: 0 });
    this.sweeps = [
      sweep(`${consumer}-unpartitioned`, `${subjectPrefix}.*`, `published without a customer token: a clustered processor needs ${subjectPrefix}.<type>.<customerToken>`),
      sweep(`${consumer}-unmapped`, `${subjectPrefix}.*.*`, `not mapped to a partition: the NATS server lacks the ${subjectPrefix}.*.* partition mapping (vigil cluster nats-config)`),
    ];
  }

  /** Durable consumers, kept across leaders: a new leader goes on where the last one acknowledged. */
  async start(): Promise<void> {
    const { nc, config } = this.o;
    const jsm = await nc.jetstreamManager();
    this.running = true;
    for (const s of this.sweeps) {
      try {
        await jsm.consumers.info(config.nats.stream, s.durable);
      } catch {
        await jsm.consumers.add(config.nats.stream, {
          durable_name: s.durable,
          ack_policy: AckPolicy.All,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(config.nats.ackWaitMs),
          filter_subject: s.filter,
        });
      }
      const consumer = await nc.jetstream().consumers.get(config.nats.stream, s.durable);
      s.messages = await consumer.consume({ max_messages: 256 });
      s.loop = this.run(s);
    }
  }

  private async run(s: Sweep): Promise<void> {
    try {
      for await (const m of s.messages!) {
        const payload = this.o.payload ? this.o.payload(m.data) : m.data;
        this.o.outputs.rejected({ receivedAt: (this.o.clock ?? systemClock).now(), reason: 'UNPARTITIONED', detail: s.detail, subject: m.subject, streamSeq: m.seq, payload });
        this.deadLettered++;
        if (!s.last || m.seq > s.last.seq) s.last = m;
        if (!this.running) break;
      }
    } catch (err) {
      this.o.log.warn({ durable: s.durable, err: errorMessage(err) }, 'unpartitioned sweep stopped');
    }
  }

  /** After `flush` has stored the dead letters handed out so far: acknowledges them (AckPolicy.All covers the rest). */
  async commit(flush: () => Promise<unknown>): Promise<void> {
    const marks = this.sweeps.map((s) => s.last);
    if (marks.every((m, i) => !m || m.seq <= this.sweeps[i].acked)) return;
    await flush();
    await Promise.all(
      marks.map(async (m, i) => {
        const s = this.sweeps[i];
        if (!m || m.seq <= s.acked) return;
        try {
          await m.ackAck({ timeout: 5_000 });
          s.acked = m.seq;
        } catch (err) {
          this.o.log.warn({ durable: s.durable, err: errorMessage(err) }, 'ack of swept messages not confirmed; retried at the next commit');
        }
      }),
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const s of this.sweeps) s.messages?.stop();
    await Promise.all(this.sweeps.map((s) => s.loop?.catch(() => undefined)));
  }
}
