import { describe, expect, it } from 'vitest';
import { parseNatsConf } from '../../tests/helpers/natsConf.js';
import { natsMapping } from '../cluster/partitioning.js';
import { renderNatsConfig, runClusterNatsConfig } from './clusterConfig.js';

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runClusterNatsConfig(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('vigil cluster nats-config', () => {
  it('prints the mapping block of docs/scale-out.md for the partition count', async () => {
    const { code, stdout } = await run(['--partitions', '12']);
    expect(code).toBe(0);
    expect(stdout).toContain('mappings = {\n  "events.*.*": "events.part.{{partition(12,2)}}.{{wildcard(1)}}.{{wildcard(2)}}"\n}\n');
    expect(parseNatsConf(stdout)).toEqual({ mappings: { 'events.*.*': natsMapping('events', 12)[1] } });
  });

  it('uses the subject prefix given', async () => {
    const { stdout } = await run(['--partitions', '4', '--prefix', 'acme.events']);
    expect(parseNatsConf(stdout).mappings).toEqual({ 'acme.events.*.*': 'acme.events.part.{{partition(4,2)}}.{{wildcard(1)}}.{{wildcard(2)}}' });
  });

  it('adds the cluster block with the routes when given', async () => {
    const { code, stdout } = await run(['--partitions', '12', '--cluster-name', 'vigil', '--routes', 'nats-2:6222, nats-3:6222', '--no-advertise']);
    expect(code).toBe(0);
    expect(parseNatsConf(stdout)).toEqual({
      cluster: { name: 'vigil', listen: '0.0.0.0:6222', no_advertise: true, routes: ['nats-route://nats-2:6222', 'nats-route://nats-3:6222'] },
      mappings: { 'events.*.*': natsMapping('events', 12)[1] },
    });
  });

  it('names the cluster vigil when only routes are given, and keeps route URLs as they are', () => {
    const text = renderNatsConfig({ partitions: 3, prefix: 'events', cluster: { name: 'vigil', listen: '0.0.0.0:6222', routes: ['nats-route://a:6222', 'b:7222'], noAdvertise: false } });
    expect(parseNatsConf(text).cluster).toEqual({ name: 'vigil', listen: '0.0.0.0:6222', routes: ['nats-route://a:6222', 'nats-route://b:7222'] });
  });

  it('refuses what would print a wrong or broken configuration, saying why', async () => {
    for (const [args, why] of [
      [[], '--partitions must be an integer ≥ 1, got nothing'],
      [['--partitions', '0'], '--partitions must be an integer ≥ 1, got "0"'],
      [['--partitions', '2.5'], 'got "2.5"'],
      [['--partitions', '3', '--prefix', 'events.>'], '--prefix "events.>" is not a subject prefix'],
      [['--partitions', '3', '--routes', 'nats-2'], 'route "nats-2" is not HOST:PORT'],
      [['--partitions', '3', '--cluster-name', 'a b'], '--cluster-name "a b" may hold only'],
      [['--partitions', '3', '--bogus'], "Unknown option '--bogus'"],
    ] as const) {
      const { code, stdout, stderr } = await run([...args]);
      expect(code, args.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(why);
      expect(stderr).toContain('usage: vigil cluster nats-config');
    }
  });
});
