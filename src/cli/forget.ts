// `vigil forget <customerId>`: asks for a customer's erasure by publishing an erase_request to the event stream,
// the one path every erasure takes (the processor carries it out), and waits for the audit record.
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { natsConnectOptions, redisConnectArgs } from '../shared/serviceAuth.js';
import { loadConfig } from '../config/load.js';
import { heartbeatKey } from '../runtime/processor.js';
import { errorMessage, VigilError } from '../shared/errors.js';
import { createClickHouseClient } from '../sinks/clickhouse/client.js';
import { customerToken } from '../cluster/partitioning.js';
import { systemClock } from '../shared/clock.js';
import { Progress } from './progress.js';

export const FORGET_USAGE = `vigil forget <customerId> [--config FILE] [--by WHO] [--timeout S] [--no-wait] [--quiet]
    publishes an erase_request for the customer (the original id: the processor pseudonymizes it when configured)
    and waits up to --timeout seconds (120) for its audit record in erasure_audit. Without a running processor the
    request waits in the stream and is carried out at the processor's next start. While it waits it says so on
    stderr every 2 s (not with --quiet).`;

export interface ForgetIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

/** Exit codes: 0 erased (or queued with --no-wait / no processor running), 2 bad usage, 3 not erased within --timeout. */
export async function runForget(args: string[], io: ForgetIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      by: { type: 'string' },
      timeout: { type: 'string', default: '120' },
      'no-wait': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  const customerId = positionals[0];
  const timeoutS = Number(values.timeout);
  if (positionals.length !== 1 || !customerId || !Number.isFinite(timeoutS) || timeoutS < 0) {
    io.stderr(`usage: ${FORGET_USAGE}\n`);
    return 2;
  }
  const config = loadConfig({ file: values.config });
  const requestedBy = (values.by ?? safeUser()).slice(0, 128);
  const requestId = `erase-${randomUUID()}`;

  const [redisUrl, redisAuth] = redisConnectArgs(config);
  const redis = new Redis(redisUrl, { ...redisAuth, lazyConnect: true, maxRetriesPerRequest: 1 });
  const nc = await connect({ ...natsConnectOptions(config), name: 'vigil-forget' });
  const ch = createClickHouseClient(config.clickhouse);
  try {
    await redis.connect();
    const running = (await redis.exists(heartbeatKey(config))) === 1;
    const event = { id: requestId, customerId, type: 'erase_request', ts: Date.now(), props: { requestedBy, via: 'cli' } };
    // A JetStream publish: it returns once the stream has stored the request, so it cannot be lost from here on.
    // With the customer token: in a cluster the request must reach the partition that holds the customer.
    const subject = `${config.nats.subjectPrefix}.erase_request.${customerToken(customerId)}`;
    const ack = await nc
      .jetstream()
      .publish(subject, new TextEncoder().encode(JSON.stringify(event)), { msgID: requestId })
      .catch((err: unknown) => {
        throw new VigilError('NATS_UNAVAILABLE', `no JetStream stream took ${subject} (${errorMessage(err)}): the processor creates stream ${config.nats.stream} at its first start`, { cause: err });
      });
    const queued = { requestId, stream: ack.stream, seq: ack.seq };
    if (values['no-wait'] || !running) {
      io.stdout(`${JSON.stringify({ status: 'queued', ...queued })}\n`);
      if (!running) io.stderr(`vigil forget: no processor is running; the request waits in stream ${ack.stream} and is carried out at the next start (it ages out after nats.maxAgeMs)\n`);
      return 0;
    }
    const deadline = Date.now() + timeoutS * 1000;
    // A large customer takes the processor a while (every table, the stream, Redis): say it is still waiting.
    const progress = new Progress({ label: `vigil forget ${requestId}`, unit: 'checks', clock: systemClock, write: io.stderr, enabled: !values.quiet });
    while (Date.now() < deadline) {
      progress.note(`waiting for the processor to erase the customer (request at ${ack.stream} seq ${ack.seq}; up to ${timeoutS} s)`);
      const rows = await ch
        .query<Record<string, unknown>>(`SELECT * FROM ${config.clickhouse.database}.erasure_audit WHERE request_id = {id:String}`, { id: requestId })
        .catch(() => []);
      if (rows.length > 0) {
        io.stdout(`${JSON.stringify({ status: 'erased', ...queued, audit: rows[0] })}\n`);
        return 0;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    io.stderr(`vigil forget: no audit record for ${requestId} after ${timeoutS} s; the request stays queued in the stream\n`);
    io.stdout(`${JSON.stringify({ status: 'queued', ...queued })}\n`);
    return 3;
  } finally {
    redis.disconnect();
    await nc.drain().catch(() => undefined);
    await ch.close();
  }
}

function safeUser(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}
