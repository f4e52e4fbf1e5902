import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseConfig } from './config/load.js';
import { threadConfig } from './threads.js';

describe('threadConfig: what each worker thread holds alone', () => {
  const config = parseConfig({ cluster: { threads: 3, partitions: 6, processorId: 'box-1' }, wall: { port: 9000 }, clickhouse: { spill: { dir: '/var/vigil/spill' } } });

  it('makes each thread a cluster member of its own, with one thread inside it', () => {
    expect([0, 1, 2].map((i) => threadConfig(config, i).cluster)).toMatchObject([
      { processorId: 'box-1-t0', threads: 1, partitions: 6 },
      { processorId: 'box-1-t1', threads: 1, partitions: 6 },
      { processorId: 'box-1-t2', threads: 1, partitions: 6 },
    ]);
  });

  it('serves the configured port on thread 0 and port + i on thread i; 0 stays ephemeral', () => {
    expect([0, 1, 2].map((i) => threadConfig(config, i).wall.port)).toEqual([9000, 9001, 9002]);
    const ephemeral = parseConfig({ cluster: { threads: 2, partitions: 2 }, wall: { port: 0 } });
    expect([0, 1].map((i) => threadConfig(ephemeral, i).wall.port)).toEqual([0, 0]);
  });

  it('serves the wall with ws in every thread (uWebSockets.js handles would abort the process when a thread dies)', () => {
    expect([0, 1].map((i) => threadConfig(config, i).wall.transport)).toEqual(['ws', 'ws']);
  });

  it('gives each thread its own spill directory (its lock tells owners apart by pid, which threads share)', () => {
    expect([0, 1].map((i) => threadConfig(config, i).clickhouse.spill.dir)).toEqual([join('/var/vigil/spill', 't0'), join('/var/vigil/spill', 't1')]);
  });

  it('takes the default id (host name and pid) when none is configured, and leaves the rest alone', () => {
    const plain = parseConfig({ cluster: { threads: 2, partitions: 2 } });
    expect(threadConfig(plain, 1).cluster.processorId).toMatch(/^[A-Za-z0-9_-]+-t1$/);
    const t = threadConfig(config, 1);
    expect({ ...t, cluster: config.cluster, wall: config.wall, clickhouse: config.clickhouse }).toEqual(config);
    expect({ ...t.wall, port: config.wall.port, transport: config.wall.transport }).toEqual(config.wall);
    expect(t.clickhouse.database).toBe(config.clickhouse.database);
    expect(parseConfig(t)).toEqual(t);
  });
});
