// `vigil status`: what an operator asks first, from a running processor's wall (/readyz and /api/v1/snapshot), as a
// terminal table or JSON. Exit 0 ready, 1 not ready, 2 when the wall cannot be reached.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { VigilConfig } from '../config/schema.js';
import { errorMessage } from '../shared/errors.js';

const REQUEST_TIMEOUT_MS = 5_000;

export interface AlertCounts {
  firing: number;
  pending: number;
  acknowledged: number;
  silenced: number;
  unattended: number;
}

export interface ProcessorStatus {
  wall: string;
  ready: boolean;
  /** Each dependency's check; empty when the wall shows details only to a valid token and none was given. */
  checks: Record<string, { ok: boolean; detail: string }>;
  lagMs: number | null;
  pending: number | null;
  checkpointAgeMs: number | null;
  modelVersion: string | null;
  alerts: AlertCounts | null;
  /** Why the snapshot's figures are missing, when they are. */
  snapshotError?: string;
}

type Io = { stdout: (s: string) => void; stderr: (s: string) => void };

export async function runStatus(argv: string[], io: Io, fetchImpl: typeof fetch = fetch): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const config = loadConfig({ file: values.config });
  const wall = wallUrl(config);
  const token = config.wall.tokens.responder[0] ?? config.wall.tokens.viewer[0];
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const get = (path: string) => fetchImpl(`${wall}${path}`, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });

  let readiness: Record<string, unknown>;
  try {
    const res = await get('/readyz');
    readiness = asObject(await res.json());
    if (typeof readiness.ready !== 'boolean') throw new Error(`/readyz answered ${res.status} without a readiness`);
  } catch (err) {
    io.stderr(`vigil status: cannot reach the wall at ${wall} (${errorMessage(err)}); is the processor running? (wall.host and wall.port in the config)\n`);
    return 2;
  }

  const status: ProcessorStatus = {
    wall,
    ready: readiness.ready as boolean,
    checks: readChecks(readiness.checks),
    lagMs: null,
    pending: null,
    checkpointAgeMs: typeof readiness.checkpointAgeMs === 'number' ? readiness.checkpointAgeMs : null,
    modelVersion: typeof readiness.modelVersion === 'string' ? readiness.modelVersion : null,
    alerts: null,
  };
  try {
    const res = await get('/api/v1/snapshot');
    if (!res.ok) throw new Error(`/api/v1/snapshot answered ${res.status}${res.status === 401 || res.status === 403 ? ' (set VIGIL_WALL__TOKENS__VIEWER or __RESPONDER)' : ''}`);
    const stats = asObject(asObject(await res.json()).stats);
    status.lagMs = typeof stats.lagMs === 'number' ? stats.lagMs : null;
    status.pending = typeof stats.pending === 'number' ? stats.pending : null;
    const a = asObject(stats.alerts);
    const keys = ['firing', 'pending', 'acknowledged', 'silenced', 'unattended'] as const;
    if (keys.every((k) => typeof a[k] === 'number')) status.alerts = Object.fromEntries(keys.map((k) => [k, a[k]])) as unknown as AlertCounts;
  } catch (err) {
    status.snapshotError = errorMessage(err);
  }

  io.stdout(values.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatusTable(status));
  return status.ready ? 0 : 1;
}

/** The wall's base URL: a wildcard bind address is asked on loopback. */
export function wallUrl(config: VigilConfig): string {
  const { host, port } = config.wall;
  const name = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

/** Two columns, the names padded to one width: plain text that reads in any terminal and in a log. */
export function renderStatusTable(s: ProcessorStatus): string {
  const rows: [string, string][] = [
    ['wall', s.wall],
    ['ready', s.ready ? 'yes' : 'NO'],
    ...Object.entries(s.checks).map(([name, c]): [string, string] => [`  ${name}`, `${c.ok ? 'ok' : 'FAIL'}  ${c.detail}`]),
    ['lag', s.lagMs === null ? '-' : formatDuration(s.lagMs)],
    ['pending', s.pending === null ? '-' : String(s.pending)],
    ['checkpoint age', s.checkpointAgeMs === null ? '-' : formatDuration(s.checkpointAgeMs)],
    ['model', s.modelVersion ?? '-'],
  ];
  if (s.alerts) {
    const a = s.alerts;
    rows.push(['alerts firing', String(a.firing)], ['alerts pending', String(a.pending)], ['alerts acknowledged', String(a.acknowledged)], ['alerts silenced', String(a.silenced)], ['alerts unattended', String(a.unattended)]);
  } else rows.push(['alerts', '-']);
  if (s.snapshotError) rows.push(['note', s.snapshotError]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3_600)} h ${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')} min`;
}

function asObject(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function readChecks(v: unknown): Record<string, { ok: boolean; detail: string }> {
  const out: Record<string, { ok: boolean; detail: string }> = {};
  for (const [name, c] of Object.entries(asObject(v))) {
    const o = asObject(c);
    out[name] = { ok: o.ok === true, detail: typeof o.detail === 'string' ? o.detail : '' };
  }
  return out;
}
