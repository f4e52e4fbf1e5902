// The NATS permissions docker-compose runs with (docker/nats/auth.conf and the partition mapping of nats-1.conf), on a
// private nats-server: producers publish events and nothing else, only the privacy role asks for an erasure, senders
// reach the budget service, and a processor with the processor user's credentials ingests, commits and erases.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { parse as parseYaml } from 'yaml';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reset } from '../../src/cli/reset.js';
import { customerToken } from '../../src/cluster/partitioning.js';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { eventually } from '../helpers/clickhouse.js';
import { OwnServer } from '../helpers/ownServices.js';
import { CLICKHOUSE_URL } from '../helpers/clickhouse.js';
import { chQuery, isolatedConfig, startTestProcessor } from '../helpers/processor.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const enc = new TextEncoder();

/** The compose servers' users and mapping, without the cluster routes (one server here). */
function composeNatsConfig(logFile: string): string {
  const mapping = /^mappings = \{[\s\S]*?\n\}/m.exec(read('docker/nats/nats-1.conf'))?.[0];
  expect(mapping, 'nats-1.conf has a mapping').toBeDefined();
  expect(read('docker/nats/nats-1.conf')).toMatch(/^include auth\.conf$/m);
  return `${read('docker/nats/auth.conf')}\n${mapping}\nlog_file: ${JSON.stringify(logFile)}\n`;
}

/** The arguments docker-compose gives redis-server (its ACL), with the password filled in. */
function composeRedisArgs(password: string): string[] {
  const compose = parseYaml(read('docker-compose.yml')) as { services: { redis: { command: string[] } } };
  const line = compose.services.redis.command.at(-1)!.replace(/^exec redis-server /, '').replaceAll('$$REDIS_PASSWORD', password);
  // Words, double quotes removed: the line is written for sh -c.
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

/**
 * A password as .env.example makes them: a letter, then hex. NATS reads a variable's value as a config value, so a
 * bare `12345678` or `5e3a…` would be a number and stop the server.
 */
const secret = (): string => `s${randomBytes(12).toString('hex')}`;

const passwords = {
  NATS_PRODUCER_PASSWORD: secret(),
  NATS_PRIVACY_PASSWORD: secret(),
  NATS_SENDER_PASSWORD: secret(),
  NATS_PROCESSOR_PASSWORD: secret(),
};
const redisPassword = secret();

/**
 * The server's refusals of a connection's publishes, as it reports them (asynchronously, with the subject it
 * checked). A refused JetStream publish gets no acknowledgement, so the refusal itself is what the tests wait for.
 */
function refusals(nc: NatsConnection): { operation: string; subject: string }[] {
  const seen: { operation: string; subject: string }[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      const context = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      if (s.type === 'error' && context) seen.push(context);
    }
  })();
  return seen;
}

/** Publishes and waits until the server refuses it: the subject as published, or as the partition mapping made it. */
async function expectRefused(nc: NatsConnection, seen: { operation: string; subject: string }[], subject: string): Promise<void> {
  const before = seen.length;
  nc.publish(subject, enc.encode('{}'));
  await eventually(`the refusal of ${subject}`, () => seen.length > before, 10_000);
  const got = seen.at(-1)!;
  expect(got.operation).toBe('publish');
  const asMapped = /^events\.part\.\d+\./.test(got.subject) && got.subject.endsWith(subject.slice('events'.length));
  expect(got.subject === subject || asMapped, `refused ${got.subject} for ${subject}`).toBe(true);
}

describe('NATS and Redis as docker-compose runs them: users and permissions', () => {
  let server: OwnServer;
  let redisServer: OwnServer;
  let url: string;
  let config: VigilConfig;
  let processor: RunningProcessor | null = null;
  const conns: NatsConnection[] = [];
  const as = async (user: string, password: string): Promise<NatsConnection> => {
    const nc = await connect({ servers: url, user, pass: password, name: `vigil-test-${user}` });
    conns.push(nc);
    return nc;
  };

  const logFile = join(mkdtempSync(join(tmpdir(), 'vigil-nats-log-')), 'nats.log');

  beforeAll(async () => {
    server = await OwnServer.natsWithConfig(composeNatsConfig(logFile), passwords);
    url = `nats://127.0.0.1:${server.port}`;
    redisServer = await OwnServer.redisWith(composeRedisArgs(redisPassword));
    // The compose processors' names (auth.conf grants those, the Redis ACL its key prefix), on private servers;
    // ClickHouse isolated by database.
    config = isolatedConfig({
      nats: { servers: url, user: 'processor', password: passwords.NATS_PROCESSOR_PASSWORD, stream: 'EVENTS', subjectPrefix: 'events', consumer: 'vigil', deadLetterSubject: 'vigil.deadletter', alertSubjectPrefix: 'alerts' },
      redis: { url: `redis://127.0.0.1:${redisServer.port}`, username: 'vigil', password: redisPassword, keyPrefix: 'vigil:' },
      cluster: { partitions: 12, processorId: 'processor-1' },
      // No quiet hours: the sender's check below must be allowed whatever the time of day the tests run at.
      budget: { quietHours: { start: 0, end: 0 } },
    });
  }, 30_000);

  afterAll(async () => {
    await processor?.stop();
    for (const nc of conns) await nc.close().catch(() => undefined);
    await server?.stop();
    await redisServer?.stop();
    if (config) {
      await fetch(`${CLICKHOUSE_URL}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS ${config.clickhouse.database}` });
      rmSync(resolve(config.clickhouse.spill.dir, config.clickhouse.database), { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a client without credentials or with a wrong password', async () => {
    await expect(connect({ servers: url, name: 'vigil-test-anonymous' })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: url, user: 'producer', pass: 'wrong', name: 'vigil-test-wrong' })).rejects.toThrow(/authorization/i);
  });

  it('runs a processor with the processor user: it ingests a producer’s events and commits them', async () => {
    processor = await startTestProcessor(config);
    const producer = await as('producer', passwords.NATS_PRODUCER_PASSWORD);
    const js = producer.jetstream();
    const customerId = 'auth-c1';
    const ack = await js.publish(`events.page_view.${customerToken(customerId)}`, enc.encode(JSON.stringify({ id: 'auth-e1', customerId, type: 'page_view', ts: Date.now() })));
    expect(ack.stream).toBe('EVENTS');
    await eventually(
      'the event in ClickHouse',
      async () => (await chQuery<{ n: string }>(`SELECT count() AS n FROM ${config.clickhouse.database}.events WHERE customer_id = '${customerId}'`).catch(() => [{ n: '0' }]))[0].n === '1',
      60_000,
    );
  }, 90_000);

  it('lets a producer publish events but not an erase request or the JetStream API', async () => {
    const producer = await as('producer', passwords.NATS_PRODUCER_PASSWORD);
    const seen = refusals(producer);
    const token = customerToken('auth-c2');
    await expect(producer.jetstream().publish(`events.page_view.${token}`, enc.encode('{}'))).resolves.toMatchObject({ stream: 'EVENTS' });
    for (const subject of [`events.erase_request.${token}`, 'events.erase_request', `events.part.0.erase_request.${token}`, '$JS.API.STREAM.DELETE.EVENTS', '$JS.API.STREAM.PURGE.EVENTS', '$JS.API.CONSUMER.DELETE.EVENTS.vigil-p0']) {
      await expectRefused(producer, seen, subject);
    }
    // Nor read the events: no subscription outside its inbox.
    const denied = producer.subscribe('events.>');
    await expect((async () => {
      for await (const m of denied) return m;
    })()).rejects.toThrow(/permissions violation/i);
    // The stream is still there, holding the allowed events and no erase request.
    const processorConn = await as('processor', passwords.NATS_PROCESSOR_PASSWORD);
    const jsm = await processorConn.jetstreamManager();
    const info = await jsm.streams.info('EVENTS', { subjects_filter: 'events.>' });
    expect(info.state.messages).toBe(2);
    expect(Object.keys(info.state.subjects ?? {}).filter((s) => s.includes('erase_request'))).toEqual([]);
  }, 60_000);

  it('lets the privacy role publish an erase request, which the processor carries out', async () => {
    const privacy = await as('privacy', passwords.NATS_PRIVACY_PASSWORD);
    const customerId = 'auth-c1';
    const requestId = `erase-auth-${randomBytes(4).toString('hex')}`;
    const ack = await privacy.jetstream().publish(`events.erase_request.${customerToken(customerId)}`, enc.encode(JSON.stringify({ id: requestId, customerId, type: 'erase_request', ts: Date.now() })));
    expect(ack.stream).toBe('EVENTS');
    // Nothing else: a page view from the privacy role is refused.
    await expectRefused(privacy, refusals(privacy), `events.page_view.${customerToken(customerId)}`);
    await eventually(
      'the erasure audit record',
      async () => (await chQuery(`SELECT request_id FROM ${config.clickhouse.database}.erasure_audit WHERE request_id = '${requestId}'`).catch(() => [])).length === 1,
      60_000,
    );
  }, 90_000);

  it('runs `vigil forget` as the privacy role: the request is published and carried out', async () => {
    const customerId = 'auth-c4';
    const producer = await as('producer', passwords.NATS_PRODUCER_PASSWORD);
    await producer.jetstream().publish(`events.page_view.${customerToken(customerId)}`, enc.encode(JSON.stringify({ id: 'auth-e4', customerId, type: 'page_view', ts: Date.now() })));
    // The config as a file without its secrets (a file may not hold them); the credentials in the environment.
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-forget-auth-')), 'vigil.json');
    writeFileSync(file, JSON.stringify({ ...config, nats: { ...config.nats, user: '', password: '' }, redis: { ...config.redis, username: '', password: '' } }));
    const env = { ...process.env, VIGIL_NATS__USER: 'privacy', VIGIL_NATS__PASSWORD: passwords.NATS_PRIVACY_PASSWORD, VIGIL_REDIS__USERNAME: 'vigil', VIGIL_REDIS__PASSWORD: redisPassword };
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'src/cli/vigil.ts', 'forget', customerId, '--by', 'dpo@example.org', '--timeout', '60', '--config', file], { env, timeout: 90_000 });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ status: 'erased', stream: 'EVENTS' });
  }, 120_000);

  it('lets a sender ask the contact budget, and nothing more', async () => {
    const sender = await as('sender', passwords.NATS_SENDER_PASSWORD);
    const reply = await sender.request(`${config.budget.subject}.check`, enc.encode(JSON.stringify({ customerId: 'auth-c3', channel: 'email' })), { timeout: 10_000 });
    expect(JSON.parse(new TextDecoder().decode(reply.data))).toMatchObject({ customerId: 'auth-c3', decision: 'allow' });
    const seen = refusals(sender);
    await expectRefused(sender, seen, `events.page_view.${customerToken('auth-c3')}`);
    await expectRefused(sender, seen, '$JS.API.STREAM.INFO.EVENTS');
  }, 30_000);

  it('keeps Redis to the vigil ACL user: no default user, its own keys only, no administrative commands', async () => {
    const anonymous = new Redis(`redis://127.0.0.1:${redisServer.port}`, { lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false });
    anonymous.on('error', () => undefined);
    await anonymous.connect().catch(() => undefined);
    await expect(anonymous.get('vigil:x')).rejects.toThrow(/NOAUTH|WRONGPASS|auth/i);
    anonymous.disconnect();
    const vigil = new Redis(`redis://127.0.0.1:${redisServer.port}`, { username: 'vigil', password: redisPassword, maxRetriesPerRequest: 0 });
    // The processor wrote its state under its prefix.
    expect((await vigil.scan('0', 'MATCH', 'vigil:*', 'COUNT', 1000))[1].length).toBeGreaterThan(0);
    await expect(vigil.set('other:x', '1')).rejects.toThrow(/NOPERM/);
    await expect(vigil.flushall()).rejects.toThrow(/NOPERM/);
    await expect(vigil.config('GET', 'dir')).rejects.toThrow(/NOPERM/);
    vigil.disconnect();
  });

  it('runs `vigil reset` with the processor user and the Redis ACL user: streams, buckets and keys gone', async () => {
    await processor?.stop();
    processor = null;
    await reset(config);
    const jsm = await (await as('processor', passwords.NATS_PROCESSOR_PASSWORD)).jetstreamManager();
    for (const stream of ['EVENTS', config.cluster.partialsStream, `KV_${config.cluster.leaseBucket}`]) {
      await expect(jsm.streams.info(stream), stream).rejects.toThrow(/stream not found/);
    }
    const vigil = new Redis(`redis://127.0.0.1:${redisServer.port}`, { username: 'vigil', password: redisPassword, maxRetriesPerRequest: 0 });
    expect((await vigil.scan('0', 'MATCH', 'vigil:*', 'COUNT', 1000))[1]).toEqual([]);
    vigil.disconnect();
  }, 60_000);

  it('never refused the processor user anything (processor and `vigil reset`): its permissions cover every subject used', () => {
    const violations = readFileSync(logFile, 'utf8').split('\n').filter((l) => /violation/i.test(l) && /"processor"/.test(l));
    expect(violations).toEqual([]);
    // The log does record refusals: the producer's above.
    expect(readFileSync(logFile, 'utf8')).toMatch(/Publish Violation - User "producer"/);
  });
});
