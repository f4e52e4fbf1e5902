// `vigil export <customerId>`: everything Vigil holds on a customer, as one JSON document on stdout (or --out FILE).
// A running processor's wall is asked first (its export includes the live windows, signals and budget); when none
// answers, or it has no export configured, the command reads ClickHouse and Redis itself and says the live part is
// missing. Exit 0 exported, 2 bad usage, 3 refused (the customer was erased), 4 the stores could not be read.
import { createWriteStream } from 'node:fs';
import { userInfo } from 'node:os';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadConfig } from '../config/load.js';
import type { VigilConfig } from '../config/schema.js';
import { idProblem } from '../contract/ids.js';
import { redisConsent, startExport } from '../privacy/export.js';
import { errorMessage } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { redisConnectArgs } from '../shared/serviceAuth.js';
import { createClickHouseClient } from '../sinks/clickhouse/client.js';
import { wallUrl } from './status.js';

export const EXPORT_USAGE = `vigil export <customerId> [--config FILE] [--by WHO] [--out FILE] [--no-live]
    writes everything Vigil holds on the customer (the original id: pseudonymized through privacy.pseudonymKey when
    configured) as one JSON document, streamed; asks the running processor's wall first for the live part
    (VIGIL_WALL__PRIVACY_TOKENS or __TOKENS__RESPONDER), else reads ClickHouse and Redis and leaves the live part out.
    Exit 0 exported, 2 bad usage, 3 refused: the customer was erased, 4 the stores could not be read.`;

export interface ExportIo {
  stdout: Writable;
  stderr(s: string): void;
}

const WALL_TIMEOUT_MS = 5_000;

export async function runExport(args: string[], io: ExportIo, fetchImpl: typeof fetch = fetch): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { config: { type: 'string' }, by: { type: 'string' }, out: { type: 'string' }, 'no-live': { type: 'boolean', default: false } },
  });
  const customerId = positionals[0];
  if (positionals.length !== 1 || !customerId || customerId.length > 128 || idProblem(customerId) !== null) {
    io.stderr(`usage: ${EXPORT_USAGE}\n`);
    return 2;
  }
  const config = loadConfig({ file: values.config });
  const requestedBy = (values.by ?? safeUser()).slice(0, 64);
  const out = (): Writable => (values.out ? createWriteStream(values.out) : io.stdout);

  let liveNote = 'asked not to (--no-live)';
  if (!values['no-live']) {
    const fromWall = await askWall(config, customerId, requestedBy, fetchImpl);
    if (fromWall.kind === 'answer') {
      await pipeline(Readable.fromWeb(fromWall.body as never), out(), { end: values.out !== undefined });
      return fromWall.status === 410 ? 3 : 0;
    }
    liveNote = fromWall.note;
    io.stderr(`vigil export: ${liveNote}; reading ClickHouse and Redis without the live part\n`);
  }

  const [redisUrl, redisAuth] = redisConnectArgs(config);
  const redis = new Redis(redisUrl, { ...redisAuth, lazyConnect: true, maxRetriesPerRequest: 1 });
  const ch = createClickHouseClient(config.clickhouse);
  try {
    await redis.connect();
    const outcome = await startExport(
      { ch, database: config.clickhouse.database, consent: redisConsent(redis, config.redis.keyPrefix), live: null, liveNote, pseudonymKey: config.privacy.pseudonymKey, pseudonymize: config.privacy.pseudonymize, log: createLogger(config.log.level) },
      { customerId, requestedBy, via: 'cli' },
    );
    if (outcome.kind === 'refused') {
      await pipeline(Readable.from([`${JSON.stringify(outcome.document)}\n`]), out(), { end: values.out !== undefined });
      return 3;
    }
    await pipeline(Readable.from(outcome.chunks), out(), { end: values.out !== undefined });
    return 0;
  } catch (err) {
    io.stderr(`vigil export: ${errorMessage(err)}\n`);
    return 4;
  } finally {
    redis.disconnect();
    await ch.close();
  }
}

type WallAnswer = { kind: 'answer'; status: number; body: ReadableStream<Uint8Array> } | { kind: 'none'; note: string };

/** The processor's export when it answers 200 or 410; otherwise why not (the note the document then carries). */
async function askWall(config: VigilConfig, customerId: string, by: string, fetchImpl: typeof fetch): Promise<WallAnswer> {
  const base = wallUrl(config);
  const token = config.wall.privacyTokens[0] ?? config.wall.tokens.responder[0];
  try {
    const res = await fetchImpl(`${base}/api/v1/customers/${encodeURIComponent(customerId)}/export?by=${encodeURIComponent(by)}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(WALL_TIMEOUT_MS),
    });
    if ((res.status === 200 || res.status === 410) && res.body) return { kind: 'answer', status: res.status, body: res.body };
    await res.body?.cancel();
    return { kind: 'none', note: `the processor at ${base} answered ${res.status} to the export${res.status === 503 ? ' (export not configured there)' : res.status === 401 || res.status === 403 ? ' (set VIGIL_WALL__PRIVACY_TOKENS or VIGIL_WALL__TOKENS__RESPONDER)' : ''}` };
  } catch (err) {
    return { kind: 'none', note: `no processor answered at ${base} (${errorMessage(err)})` };
  }
}

function safeUser(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}
