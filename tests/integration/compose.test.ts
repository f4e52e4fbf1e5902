// docker-compose.yml kept in step with the config: the services Vigil needs, on the default ports, a processor
// environment that envOverrides() maps onto a valid config, and the scale-out: three NATS servers in one cluster
// whose mapping has the processors' partition count, two processors sharing the partitions. No Docker needed: the
// compose file and the NATS config files are parsed (and the installed nats-server checks the config files).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { natsMapping } from '../../src/cluster/partitioning.js';
import { envOverrides, parseConfig } from '../../src/config/load.js';
import type { VigilConfig } from '../../src/config/schema.js';
import { parseNatsConf, type NatsConfMap } from '../helpers/natsConf.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

/** Compose's `${NAME:-default}` with nothing set in the environment: the default. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? '');
}

// `merge`: the processors and NATS servers share their definition through YAML merge keys (`<<: *processor`), as
// Compose reads them.
const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const defaults = parseConfig({});

const NATS_SERVICES = ['nats-1', 'nats-2', 'nats-3'];
const PROCESSORS = ['processor-1', 'processor-2'];

function env(service: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
}

/** Host and container port of each "host:container" entry. */
function portPairs(service: Service): { host: number; container: number }[] {
  return (service.ports ?? []).map((p) => {
    const parts = String(p).split(':');
    return { host: Number(parts.at(-2) ?? parts[0]), container: Number(parts.at(-1)) };
  });
}
const publishedPorts = (service: Service): number[] => portPairs(service).map((p) => p.host);

const portOf = (url: string): number => Number(new URL(url).port);
const configOf = (name: string): VigilConfig => parseConfig(envOverrides(env(services[name])));

/** The host-side file a service mounts at `target`, relative to the repository root. */
function mountedFile(service: Service, target: string): string {
  const mount = (service.volumes ?? []).find((v) => v.split(':')[1] === target);
  expect(mount, `a volume mounted at ${target}`).toBeDefined();
  return mount!.split(':')[0].replace(/^\.\//, '');
}

/** The NATS config file of a service, from its `--config` argument and the volume that mounts it. */
function natsConfigFile(name: string): string {
  const command = services[name].command ?? [];
  const at = command.indexOf('--config');
  expect(at, `${name} starts with --config`).toBeGreaterThanOrEqual(0);
  return mountedFile(services[name], command[at + 1]);
}
const natsConfig = (name: string): NatsConfMap => parseNatsConf(read(natsConfigFile(name)));

describe('docker-compose.yml', () => {
  it('runs three NATS servers, Redis 7, a current ClickHouse, two processors and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['clickhouse', 'grafana', ...NATS_SERVICES, ...PROCESSORS, 'redis']);
    for (const name of NATS_SERVICES) expect(services[name].image, name).toMatch(/^nats:2\.\d+(-alpine)?$/);
    expect(services.redis.image).toMatch(/^redis:7\b/);
    const chVersion = /^clickhouse\/clickhouse-server:(\d+)\.(\d+)/.exec(services.clickhouse.image ?? '');
    expect(chVersion, 'ClickHouse image pinned to a version').not.toBeNull();
    expect(Number(chVersion![1])).toBeGreaterThanOrEqual(24);
    for (const name of PROCESSORS) expect(services[name].build, name).toEqual({ context: '.', dockerfile: 'docker/Dockerfile' });
  });

  it('publishes each service on the port the config defaults expect', () => {
    expect(publishedPorts(services['nats-1'])).toEqual([portOf(defaults.nats.servers)]);
    expect(publishedPorts(services.redis)).toEqual([portOf(defaults.redis.url)]);
    expect(publishedPorts(services.clickhouse)).toEqual([portOf(defaults.clickhouse.url)]);
    expect(publishedPorts(services['processor-1'])).toEqual([defaults.wall.port]);
    expect(publishedPorts(services.grafana)).toEqual([3000]);
    expect([4222, 6379, 8123, 8080, 3000]).toEqual([
      portOf(defaults.nats.servers),
      portOf(defaults.redis.url),
      portOf(defaults.clickhouse.url),
      defaults.wall.port,
      3000,
    ]);
    // Every host port once: the second processor's wall and the other NATS servers sit beside the defaults.
    const all = Object.values(services).flatMap(publishedPorts);
    expect(new Set(all).size).toBe(all.length);
  });

  it('configures the processors only through VIGIL_ names that map onto a valid config', () => {
    for (const name of PROCESSORS) {
      const vars = env(services[name]);
      const names = Object.keys(vars);
      expect(names.length).toBeGreaterThan(0);
      for (const v of names) {
        expect(v, `${name} ${v}`).toMatch(/^VIGIL_[A-Z0-9_]+$/);
        // Each name on its own resolves to an existing key: the strict schema rejects a misspelt one.
        expect(() => parseConfig(envOverrides({ [v]: vars[v] })), `${name} ${v}`).not.toThrow();
      }
      const config = configOf(name);
      expect(config.nats.servers.split(',')).toEqual(NATS_SERVICES.map((s) => `nats://${s}:${portOf(defaults.nats.servers)}`));
      expect(config.redis.url).toBe(`redis://redis:${portOf(defaults.redis.url)}`);
      expect(config.clickhouse.url).toBe(`http://clickhouse:${portOf(defaults.clickhouse.url)}`);
      expect(config.clickhouse.password).toBe(env(services.clickhouse).CLICKHOUSE_PASSWORD);
      expect(config.wall.host).toBe('0.0.0.0');
      // The wall listens where the image's health check and the published port expect it.
      expect(config.wall.port).toBe(defaults.wall.port);
      expect(portPairs(services[name]).map((p) => p.container)).toEqual([config.wall.port]);
    }
  });

  it('runs two processors with distinct ids, walls and spill volumes, sharing the same partitions', () => {
    const [a, b] = PROCESSORS.map(configOf);
    expect(a.cluster.partitions).toBeGreaterThan(0);
    // One copy per NATS server: a server lost takes no lease, checkpoint or event with it.
    expect(a.nats.replicas).toBe(NATS_SERVICES.length);
    expect(a.cluster.processorId).toBeDefined();
    expect(b.cluster.processorId).toBeDefined();
    expect(a.cluster.processorId).not.toBe(b.cluster.processorId);
    expect(publishedPorts(services['processor-1'])).not.toEqual(publishedPorts(services['processor-2']));
    // The image sets the spill directory; each processor mounts a volume of its own there.
    const spillDir = /^ENV VIGIL_CLICKHOUSE__SPILL__DIR=(\S+)$/m.exec(read('docker/Dockerfile'))?.[1] ?? '(not set in docker/Dockerfile)';
    const spill = PROCESSORS.map((name) => mountedFile(services[name], spillDir));
    expect(new Set(spill).size).toBe(2);
    for (const volume of spill) expect(compose.volumes).toHaveProperty(volume);
    // Apart from the id, the same configuration: the same partition count, leases, stream, database and Redis.
    const sameAs = (c: VigilConfig) => ({ ...c, cluster: { ...c.cluster, processorId: undefined } });
    expect(sameAs(b)).toEqual(sameAs(a));
  });

  it('starts the processors only once their services are healthy', () => {
    for (const name of PROCESSORS) {
      for (const dep of [...NATS_SERVICES, 'redis', 'clickhouse']) {
        expect(services[name].depends_on?.[dep], `${name} on ${dep}`).toEqual({ condition: 'service_healthy' });
      }
    }
  });

  it('joins the three NATS servers in one JetStream cluster whose routes name each other', () => {
    const configs = NATS_SERVICES.map(natsConfig);
    const clusterNames = new Set(configs.map((c) => (c.cluster as NatsConfMap | undefined)?.name));
    expect(clusterNames.size).toBe(1);
    expect([...clusterNames][0]).toBeTruthy();
    const serverNames = configs.map((c) => c.server_name);
    expect(new Set(serverNames).size).toBe(3);
    for (const [i, name] of NATS_SERVICES.entries()) {
      const c = configs[i];
      const cluster = c.cluster as NatsConfMap;
      expect(c.jetstream, `${name} runs JetStream`).toBeTypeOf('object');
      // JetStream keeps its store on the service's volume, not in the container.
      const storeDir = (c.jetstream as NatsConfMap).store_dir as string;
      expect((services[name].volumes ?? []).some((v) => v.split(':')[1] === storeDir && !v.startsWith('.')), `${name} store_dir on a volume`).toBe(true);
      // Clients on the port the processors use; the health check's monitoring port.
      expect(Number(String(c.listen ?? c.port).split(':').at(-1))).toBe(portOf(defaults.nats.servers));
      expect(portPairs(services[name]).map((p) => p.container)).toEqual([portOf(defaults.nats.servers)]);
      expect(c.http_port).toBe(8222);
      // Routes: host names of the other services, on the port each listens on for routes.
      const routes = (cluster.routes as string[]).map((r) => new URL(r));
      const others = NATS_SERVICES.filter((s) => s !== name);
      expect(routes.map((r) => r.hostname).filter((h) => h !== name).sort()).toEqual(others);
      for (const r of routes) {
        expect(r.protocol).toBe('nats-route:');
        const target = configs[NATS_SERVICES.indexOf(r.hostname)].cluster as NatsConfMap;
        expect(Number(r.port), `${name} → ${r.hostname}`).toBe(Number(String(target.listen).split(':').at(-1)));
      }
    }
  });

  it('gives every NATS server exactly the mapping for the partition count the processors run with', () => {
    const config = configOf('processor-1');
    const [source, destination] = natsMapping(config.nats.subjectPrefix, config.cluster.partitions);
    for (const name of NATS_SERVICES) {
      expect(natsConfig(name).mappings, name).toEqual({ [source]: destination });
    }
  });

  it('has NATS config files the nats-server accepts', () => {
    for (const name of NATS_SERVICES) {
      const file = fileURLToPath(new URL(natsConfigFile(name), root));
      // -t: parse and check the configuration, then exit (the routes' host names are not resolved).
      expect(() => execFileSync('nats-server', ['-c', file, '-t'], { stdio: ['ignore', 'ignore', 'pipe'] }), name).not.toThrow();
    }
  });

  it('gives Grafana the ClickHouse plugin and a provisioned data source for the Vigil database', () => {
    const grafana = env(services.grafana);
    expect(grafana.GF_PLUGINS_PREINSTALL).toContain('grafana-clickhouse-datasource');
    expect(services.grafana.volumes).toContain('./dashboards/provisioning:/etc/grafana/provisioning:ro');

    const provisioning = parseYaml(read('dashboards/provisioning/datasources/clickhouse.yaml')) as {
      datasources: { type: string; jsonData: { host: string; port: number; protocol: string; username: string; defaultDatabase: string }; secureJsonData: { password: string } }[];
    };
    const [ds] = provisioning.datasources;
    expect(ds.type).toBe('grafana-clickhouse-datasource');
    // Grafana reads as the read-only analyst user the processor's migrations create, never as default.
    expect(ds.jsonData).toMatchObject({ host: 'clickhouse', port: 9000, protocol: 'native', username: defaults.clickhouse.analyst.user, defaultDatabase: defaults.clickhouse.database });
    expect(ds.secureJsonData.password).toBe('$ANALYST_PASSWORD');
    for (const name of PROCESSORS) expect(grafana.ANALYST_PASSWORD).toBe(configOf(name).clickhouse.analyst.password);
    expect(grafana.ANALYST_PASSWORD).not.toBe('');
    expect(String(env(services.clickhouse).CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT)).toBe('1');
    expect(env(services.clickhouse).CLICKHOUSE_DB).toBe(defaults.clickhouse.database);

    const dashboards = parseYaml(read('dashboards/provisioning/dashboards/vigil.yaml')) as { providers: { options: { path: string } }[] };
    const mounted = (services.grafana.volumes ?? []).map((v) => v.split(':')[1]);
    expect(mounted).toContain(dashboards.providers[0].options.path);
  });

  it('builds the processor on a current Node LTS and runs dist/main.js with the migrations beside it', () => {
    const dockerfile = read('docker/Dockerfile');
    const bases = [...dockerfile.matchAll(/^FROM node:(\d+)/gm)].map((m) => Number(m[1]));
    expect(bases.length).toBeGreaterThan(0);
    for (const major of bases) expect(major).toBeGreaterThanOrEqual(22);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    expect(dockerfile).toMatch(/^COPY sql \.\/sql$/m);
  });
});
