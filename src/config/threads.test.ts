import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from './load.js';

describe('cluster.threads', () => {
  it('defaults to one thread', () => {
    expect(parseConfig({}).cluster.threads).toBe(1);
  });

  it('is set from VIGIL_CLUSTER__THREADS like every other key', () => {
    const cfg = loadConfig({ env: { VIGIL_CLUSTER__THREADS: '2', VIGIL_CLUSTER__PARTITIONS: '4' } });
    expect(cfg.cluster.threads).toBe(2);
  });

  it('needs at least as many partitions as threads, naming the key and why', () => {
    expect(() => parseConfig({ cluster: { threads: 3, partitions: 2 } })).toThrow(/cluster\.threads: 3 threads need cluster\.partitions >= 3 \(now 2\)/);
    // Unclustered (partitions 0) has nothing to share between threads.
    expect(() => parseConfig({ cluster: { threads: 2 } })).toThrow(/cluster\.threads/);
    expect(parseConfig({ cluster: { threads: 3, partitions: 3 } }).cluster.threads).toBe(3);
  });

  it('refuses less than one thread and a fraction', () => {
    expect(() => parseConfig({ cluster: { threads: 0, partitions: 4 } })).toThrow(/cluster\.threads/);
    expect(() => parseConfig({ cluster: { threads: 1.5, partitions: 4 } })).toThrow(/cluster\.threads/);
  });

  it('refuses the uws wall transport with threads (a thread dying would abort the process), and takes auto or ws', () => {
    expect(() => parseConfig({ cluster: { threads: 2, partitions: 2 }, wall: { transport: 'uws' } })).toThrow(/wall\.transport: uws cannot serve worker threads/);
    expect(parseConfig({ cluster: { threads: 2, partitions: 2 }, wall: { transport: 'ws' } }).wall.transport).toBe('ws');
    expect(parseConfig({ cluster: { threads: 1, partitions: 2 }, wall: { transport: 'uws' } }).wall.transport).toBe('uws');
  });

  it('refuses a wall port whose last thread would be past 65535', () => {
    expect(() => parseConfig({ cluster: { threads: 2, partitions: 2 }, wall: { port: 65_535 } })).toThrow(/wall\.port: thread 1 would serve port 65536/);
    expect(parseConfig({ cluster: { threads: 2, partitions: 2 }, wall: { port: 65_534 } }).wall.port).toBe(65_534);
  });
});
