// `vigil cluster nats-config`: prints the NATS server configuration that partitions the customers (the subject
// mapping of docs/scale-out.md), and the cluster block that joins the servers, so no one writes the mapping by hand.
import { parseArgs } from 'node:util';
import { natsMapping } from '../cluster/partitioning.js';

export const CLUSTER_NATS_CONFIG_USAGE = `usage: vigil cluster nats-config --partitions N [--prefix events]
                                [--cluster-name NAME] [--routes HOST:PORT,...] [--cluster-listen HOST:PORT] [--no-advertise]

Prints a NATS server configuration block for every server of the NATS cluster: the subject mapping that sends
<prefix>.<type>.<customerToken> to <prefix>.part.<k>.<type>.<customerToken>, k = partition of the token (0..N-1).
--partitions      N, equal to cluster.partitions of every processor
--prefix          the subject prefix, nats.subjectPrefix (default events)
--cluster-name    adds a cluster block with this name (default vigil when --routes is given)
--routes          the other servers' cluster addresses, HOST:PORT (or nats-route:// URLs), comma-separated
--cluster-listen  where this server listens for routes (default 0.0.0.0:6222)
--no-advertise    clients learn no server addresses from the cluster (for addresses clients cannot reach)`;

/** Same rule as nats.subjectPrefix in the config schema. */
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;

export interface NatsConfigOptions {
  partitions: number;
  prefix: string;
  cluster?: { name: string; listen: string; routes: string[]; noAdvertise: boolean };
}

/** The configuration text; pure, so the compose files and the tests can hold it to the same source. */
export function renderNatsConfig(o: NatsConfigOptions): string {
  const [from, to] = natsMapping(o.prefix, o.partitions);
  const lines = [
    `# Vigil with cluster.partitions = ${o.partitions}: producers publish on ${o.prefix}.<type>.<customerToken> and this`,
    `# server puts each event on ${o.prefix}.part.<k>.<type>.<customerToken>, k = FNV-1a of the token modulo ${o.partitions}.`,
    '# Every server of the cluster needs the same mapping, and every processor the same cluster.partitions.',
  ];
  if (o.cluster) {
    lines.push('cluster {', `  name: ${o.cluster.name}`, `  listen: ${o.cluster.listen}`);
    if (o.cluster.noAdvertise) lines.push('  no_advertise: true');
    if (o.cluster.routes.length) lines.push('  routes: [', ...o.cluster.routes.map(routeUrl).map((r) => `    ${r}`), '  ]');
    lines.push('}');
  }
  lines.push('mappings = {', `  "${from}": "${to}"`, '}');
  return `${lines.join('\n')}\n`;
}

function routeUrl(route: string): string {
  return route.includes('://') ? route : `nats-route://${route}`;
}

export interface ClusterConfigIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

function parseOptions(args: string[]) {
  return parseArgs({
    args,
    options: {
      partitions: { type: 'string' },
      prefix: { type: 'string', default: 'events' },
      'cluster-name': { type: 'string' },
      routes: { type: 'string' },
      'cluster-listen': { type: 'string', default: '0.0.0.0:6222' },
      'no-advertise': { type: 'boolean', default: false },
    },
  });
}

/** Exit codes: 0 printed, 2 bad usage (with the reason and the usage on stderr). */
export async function runClusterNatsConfig(args: string[], io: ClusterConfigIo): Promise<number> {
  const refuse = (why: string) => {
    io.stderr(`vigil cluster nats-config: ${why}\n${CLUSTER_NATS_CONFIG_USAGE}\n`);
    return 2;
  };
  let values: ReturnType<typeof parseOptions>['values'];
  try {
    ({ values } = parseOptions(args));
  } catch (err) {
    return refuse((err as Error).message);
  }
  const partitions = Number(values.partitions);
  if (values.partitions === undefined || !Number.isInteger(partitions) || partitions < 1) {
    return refuse(`--partitions must be an integer ≥ 1, got ${values.partitions === undefined ? 'nothing' : `"${values.partitions}"`}`);
  }
  if (!PREFIX.test(values.prefix)) return refuse(`--prefix "${values.prefix}" is not a subject prefix (tokens of A-Z a-z 0-9 _ - joined by dots)`);
  const routes = (values.routes ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of routes) {
    if (!r.includes('://') && !HOST_PORT.test(r)) return refuse(`route "${r}" is not HOST:PORT`);
  }
  if (!HOST_PORT.test(values['cluster-listen'])) return refuse(`--cluster-listen "${values['cluster-listen']}" is not HOST:PORT`);
  const name = values['cluster-name'];
  if (name !== undefined && !/^[A-Za-z0-9_-]+$/.test(name)) return refuse(`--cluster-name "${name}" may hold only A-Z a-z 0-9 _ -`);
  const clustered = name !== undefined || routes.length > 0 || values['no-advertise'];
  io.stdout(
    renderNatsConfig({
      partitions,
      prefix: values.prefix,
      cluster: clustered ? { name: name ?? 'vigil', listen: values['cluster-listen'], routes, noAdvertise: values['no-advertise'] } : undefined,
    }),
  );
  return 0;
}
