// docker-compose.yml kept in step with the config: the services Vigil needs, on the default ports, a processor
// environment that envOverrides() maps onto a valid config, and the scale-out: three NATS servers in one cluster
// whose mapping has the processors' partition count, two processors sharing the partitions. No Docker needed: the
// compose file and the NATS config files are parsed (and the installed nats-server checks the config files).
import { spawnSync } from 'node:child_process';
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

/**
 * Compose's `${NAME:-default}` with nothing set in the environment: the default; a required `${NAME:?message}`: the
 * string "$NAME", so a test can follow a secret from .env to where it is used.
 */
function interpolate(value: string): string {
  return value
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}/g, (_m, name: string) => `$${name}`)
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? '')
    .replaceAll('$$', '$');
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

/** Address, host and container port of each "[address:]host:container" entry (no address: every interface). */
function portPairs(service: Service): { address: string; host: number; container: number }[] {
  return (service.ports ?? []).map((p) => {
    const parts = String(p).split(':');
    return { address: parts.length === 3 ? parts[0] : '0.0.0.0', host: Number(parts.at(-2) ?? parts[0]), container: Number(parts.at(-1)) };
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
/** The NATS config of a service, its includes read from beside it and its `$NAME` variables kept as "$NAME". */
function natsConfig(name: string): NatsConfMap {
  const file = natsConfigFile(name);
  const dir = file.slice(0, file.lastIndexOf('/') + 1);
  return parseNatsConf(read(file), { include: (path) => read(`${dir}${path}`), variables: true });
}

/** The passwords docker/nats/auth.conf reads from the environment, with throwaway values, for `nats-server -t`. */
const NATS_PASSWORD_VARIABLES = ['NATS_PRODUCER_PASSWORD', 'NATS_PRIVACY_PASSWORD', 'NATS_SENDER_PASSWORD', 'NATS_PROCESSOR_PASSWORD'];

describe('docker-compose.yml', () => {
  it('runs three NATS servers, Redis 7, a current ClickHouse, two processors, Grafana, Prometheus and Alertmanager', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'clickhouse', 'grafana', ...NATS_SERVICES, ...PROCESSORS, 'prometheus', 'redis']);
    for (const name of NATS_SERVICES) expect(services[name].image, name).toMatch(/^nats:2\.\d+(-alpine)?$/);
    expect(services.redis.image).toMatch(/^redis:7\b/);
    const chVersion = /^clickhouse\/clickhouse-server:(\d+)\.(\d+)/.exec(services.clickhouse.image ?? '');
    expect(chVersion, 'ClickHouse image pinned to a version').not.toBeNull();
    expect(Number(chVersion![1])).toBeGreaterThanOrEqual(24);
    for (const name of PROCESSORS) expect(services[name].build, name).toEqual({ context: '.', dockerfile: 'docker/Dockerfile' });
  });

  it('publishes only the wall on every interface; what a developer on the machine uses on loopback only', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const p of portPairs(service)) {
        if (p.address === '127.0.0.1') continue;
        expect({ name, ...p }, `${name} published on ${p.address}`).toEqual({ name: 'processor-1', address: '0.0.0.0', host: defaults.wall.port, container: defaults.wall.port });
      }
    }
    // NATS 2 and 3 are reached through nats-1 or the compose network only.
    expect(services['nats-2'].ports ?? []).toEqual([]);
    expect(services['nats-3'].ports ?? []).toEqual([]);
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
        // Each name resolves to an existing key: the strict schema rejects a misspelt one. The wall's tokens come
        // along, since a wall on 0.0.0.0 is refused without them (wall.allowOpen).
        const tokens = Object.fromEntries(Object.entries(vars).filter(([k]) => k.startsWith('VIGIL_WALL__TOKENS__')));
        expect(() => parseConfig(envOverrides({ ...tokens, [v]: vars[v] })), `${name} ${v}`).not.toThrow();
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

  it('gives every service credentials from .env, with no default committed', () => {
    // A secret with a fallback (`${X:-...}`) would start with a password everyone can read here.
    const text = read('docker-compose.yml');
    expect(text.match(/\$\{[A-Z_]*(PASSWORD|TOKEN|SECRET)[A-Z_]*:?-[^}]*\}/g) ?? []).toEqual([]);
    const required = new Set([...text.matchAll(/\$\{([A-Z_]+):\?[^}]*\}/g)].map((m) => m[1]));
    // .env.example lists each, empty; git ignores .env.
    const example = read('.env.example');
    const listed = [...example.matchAll(/^([A-Z_]+)=(.*)$/gm)];
    expect(listed.map((m) => m[1]).sort()).toEqual([...required].sort());
    for (const m of listed) expect(m[2], m[1]).toBe('');
    expect(read('.gitignore').split('\n')).toContain('.env');
    // Nor does the image's build context take it.
    expect(read('docker/Dockerfile.dockerignore').split('\n')).toContain('.env');

    // The processors: NATS user processor, Redis ACL user vigil, ClickHouse, wall tokens, all from .env.
    for (const name of PROCESSORS) {
      const c = configOf(name);
      expect(c.nats.user).toBe('processor');
      expect(c.nats.password).toBe('$NATS_PROCESSOR_PASSWORD');
      expect(c.redis).toMatchObject({ username: 'vigil', password: '$REDIS_PASSWORD' });
      expect(c.clickhouse.password).toBe('$CLICKHOUSE_PASSWORD');
      expect(c.clickhouse.analyst.password).toBe('$ANALYST_PASSWORD');
      expect(c.wall.tokens).toEqual({ viewer: ['$WALL_VIEWER_TOKEN'], responder: ['$WALL_RESPONDER_TOKEN'] });
    }

    // NATS: every server has the users, each password from the environment the service is given.
    const processor = configOf('processor-1');
    for (const name of NATS_SERVICES) {
      const users = ((natsConfig(name).authorization as NatsConfMap).users as NatsConfMap[]).map((u) => [u.user, u.password]);
      expect(users.map(([u]) => u).sort()).toEqual(['privacy', 'processor', 'producer', 'sender']);
      for (const [, password] of users) expect(env(services[name])[String(password).slice(1)], `${name} ${password}`).toBe(password);
      expect(users).toContainEqual([processor.nats.user, processor.nats.password]);
      expect(natsConfig(name).no_auth_user, 'no anonymous user').toBeUndefined();
    }

    // Redis: no default user, the ACL user with the password from .env, confined to the processors' key prefix.
    const redisCommand = interpolate((services.redis.command ?? []).join(' '));
    expect(redisCommand).toContain('--user default off');
    expect(redisCommand).toContain(`--user ${processor.redis.username} on ">${processor.redis.password}" "~${processor.redis.keyPrefix}*"`);
    expect(env(services.redis).REDIS_PASSWORD).toBe(processor.redis.password);
    expect(interpolate(JSON.stringify(services.redis as unknown as { healthcheck: unknown }))).toContain('REDISCLI_AUTH');

    // ClickHouse and Grafana.
    expect(env(services.clickhouse).CLICKHOUSE_PASSWORD).toBe('$CLICKHOUSE_PASSWORD');
    expect(env(services.grafana).GF_SECURITY_ADMIN_PASSWORD).toBe('$GRAFANA_ADMIN_PASSWORD');
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
      expect(portPairs(services[name]).map((p) => p.container)).toEqual(name === 'nats-1' ? [portOf(defaults.nats.servers)] : []);
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
      const env = { ...process.env, ...Object.fromEntries(NATS_PASSWORD_VARIABLES.map((v) => [v, 'x'])) };
      const run = spawnSync('nats-server', ['-c', file, '-t'], { env, encoding: 'utf8' });
      expect(run.status, `${name}: ${run.stderr}`).toBe(0);
      // nats-server 2.9 reports an unresolved variable in an included file and still calls the file valid.
      expect(`${run.stdout}${run.stderr}`, name).not.toMatch(/error/i);
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
