// Silences on the real services, through the wall: a regex that backtracks catastrophically on a producer-chosen
// 40-character customer id cannot stall the processor (silences match on RE2), and alerts.maxSilences holds.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessor, type RunningProcessor } from '../../src/runtime/processor.js';
import { createLogger } from '../../src/shared/logger.js';
import { eventually } from '../helpers/clickhouse.js';
import { isolatedSuite, startTestProcessor } from '../helpers/processor.js';

const enc = new TextEncoder();
const CATASTROPHIC = '([a-z0-9-]|[a-z0-9-]{2})*!';
const CUSTOMERS = 30;

describe('silences on real services', () => {
  const suite = isolatedSuite({ alerts: { maxSilences: 2 } });
  let processor: RunningProcessor;
  const wall = () => `http://127.0.0.1:${processor.wallPort}`;
  const addSilence = (matchers: unknown[], comment: string) =>
    fetch(`${wall()}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ matchers, endsAt: Date.now() + 3_600_000, comment }) });

  beforeAll(async () => {
    processor = await startTestProcessor(suite.config);
  });
  afterAll(async () => {
    await processor?.stop();
  });

  it(
    'matches a catastrophic regex against the alerts of many 40-character customer ids and stays responsive',
    async () => {
      const res = await addSilence([{ name: 'subject_key', op: '=~', value: CATASTROPHIC }], 'a pattern that backtracks');
      expect(res.status).toBe(201);
      const { config, nc } = suite;
      const ids = Array.from({ length: CUSTOMERS }, (_, i) => `${i.toString(36)}-`.padEnd(40, 'a0-b1'));
      const now = Date.now();
      for (const id of ids) {
        for (let i = 0; i < 3; i++) nc.publish(`${config.nats.subjectPrefix}.email_sent`, enc.encode(JSON.stringify({ id: `${id}-${i}`, customerId: id, type: 'email_sent', ts: now + i })));
      }
      await nc.flush();
      // Every alert is matched against the silence as it fires and on every tick; on a backtracking engine each
      // match of one of these ids takes tens of seconds, and this would not finish.
      await eventually('every customer alert firing', () => processor.pipeline.snapshot().stats.alerts?.firing === CUSTOMERS, 60_000);
      const health = await fetch(`${wall()}/healthz`);
      expect(health.status).toBe(200);
      expect(processor.pipeline.snapshot().stats.alerts?.silenced).toBe(0);
    },
    120_000,
  );

  it('refuses a silence over alerts.maxSilences in force, with the reason', async () => {
    expect((await addSilence([{ name: 'campaign', op: '=', value: 'spring' }], 'second')).status).toBe(201);
    const over = await addSilence([{ name: 'campaign', op: '=', value: 'summer' }], 'third');
    expect(over.status).toBe(400);
    expect(await over.text()).toMatch(/2 silences are in force, the most alerts.maxSilences allows/);
  });

  it('refuses a silence that selects everything, however it is written', async () => {
    for (const value of ['x|.*', '.+', '(.|\\n)+']) {
      const res = await addSilence([{ name: 'alertname', op: '=~', value }], 'everything');
      expect(res.status, value).toBe(400);
      expect(await res.text()).toMatch(/must select something/);
    }
  });
});

describe('a stored silence that no longer compiles', () => {
  const suite = isolatedSuite();

  it('is skipped with one warning, and alerts go on', async () => {
    const { config, nc } = suite;
    // As an older version (JavaScript regexes) could have written it: lookahead is not RE2.
    const old = { id: 'old-1', matchers: [{ name: 'subject_key', op: '=~', value: 'c(?=-)-1' }], startsAt: 0, endsAt: Date.now() + 3_600_000, createdBy: 'ana', comment: 'old', createdAt: 0 };
    const redis = new Redis(config.redis.url);
    await redis.hset(`${config.redis.keyPrefix}silences`, old.id, JSON.stringify(old));
    redis.disconnect();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const processor = await startProcessor({ config, logger: createLogger('warn', false, sink) });
    try {
      const now = Date.now();
      for (let i = 0; i < 3; i++) nc.publish(`${config.nats.subjectPrefix}.email_sent`, enc.encode(JSON.stringify({ id: `m${i}`, customerId: 'c-1', type: 'email_sent', ts: now + i })));
      await nc.flush();
      await eventually('the alert firing', () => processor.pipeline.snapshot().stats.alerts?.firing === 1, 15_000);
      expect(processor.pipeline.snapshot().stats.alerts?.silenced).toBe(0);
      expect(processor.pipeline.snapshot().silences.map((s) => s.id)).toEqual([old.id]);
      const warnings = lines.filter((l) => l.includes('does not compile'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(old.id);
    } finally {
      await processor.stop();
    }
  });
});
