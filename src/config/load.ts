// Loads the config: one YAML or JSON file, then VIGIL_* environment overrides, validated whole before anything starts.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, type VigilConfig } from './schema.js';
import { VigilError } from '../shared/errors.js';

export const ENV_PREFIX = 'VIGIL_';

/**
 * Turns `VIGIL_WALL__PORT=9090` into `{ wall: { port: 9090 } }`. Keys are matched to the schema's
 * camelCase names case-insensitively (`VIGIL_CLICKHOUSE__BATCH__MAXROWS` or `..._MAX_ROWS`).
 * Values parse as JSON when they can (numbers, booleans, arrays), else stay strings; a comma list
 * becomes an array where the schema expects one.
 */
export function envOverrides(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || name === 'VIGIL_CONFIG') continue;
    const path = name.slice(ENV_PREFIX.length).split('__').map((p) => p.toLowerCase().replaceAll('_', ''));
    let shape: unknown = configSchema;
    let node = out;
    const resolved: string[] = [];
    for (let i = 0; i < path.length; i++) {
      const keys = objectKeys(shape);
      const key = keys.find((k) => k.toLowerCase() === path[i]) ?? path[i];
      resolved.push(key);
      shape = childShape(shape, key);
      if (i === path.length - 1) node[key] = coerce(raw, shape);
      else node = (node[key] ??= {}) as Record<string, unknown>;
    }
  }
  return out;
}

function unwrap(shape: unknown): unknown {
  let s = shape as { _def?: { innerType?: unknown; schema?: unknown; typeName?: string } } | undefined;
  while (s?._def && (s._def.typeName === 'ZodDefault' || s._def.typeName === 'ZodOptional' || s._def.typeName === 'ZodEffects')) {
    s = (s._def.innerType ?? s._def.schema) as typeof s;
  }
  return s;
}

function objectKeys(shape: unknown): string[] {
  const s = unwrap(shape) as { shape?: Record<string, unknown> } | undefined;
  return s?.shape ? Object.keys(s.shape) : [];
}

function childShape(shape: unknown, key: string): unknown {
  const s = unwrap(shape) as { shape?: Record<string, unknown> } | undefined;
  return s?.shape?.[key];
}

function coerce(raw: string, shape: unknown): unknown {
  const s = unwrap(shape) as { _def?: { typeName?: string } } | undefined;
  const typeName = s?._def?.typeName;
  if (typeName === 'ZodString') return raw;
  if (typeName === 'ZodArray' && !raw.trim().startsWith('[')) return raw.split(',').map((v) => v.trim()).filter(Boolean);
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a raw config object; the error names every bad key and why. */
export function parseConfig(raw: unknown): VigilConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new VigilError('CONFIG_INVALID', `invalid config:\n${lines.join('\n')}`);
  }
  return result.data;
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VigilError('CONFIG_INVALID', `cannot read config file ${path}`, { cause: err });
  }
  try {
    const parsed: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (parsed != null && !isPlainObject(parsed)) throw new Error('top level must be a mapping');
    return (parsed ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw new VigilError('CONFIG_INVALID', `config file ${path} does not parse: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Keys that may only come from the environment: a secret in a file ends up in backups, repositories and diffs. A
 * file that holds one is refused at start, naming the key and the variable to use instead.
 */
export const ENV_ONLY_KEYS = [
  ['privacy', 'pseudonymKey'],
  ['clickhouse', 'password'],
  ['clickhouse', 'analyst', 'password'],
  ['wall', 'tokens', 'viewer'],
  ['wall', 'tokens', 'responder'],
  ['wall', 'privacyTokens'],
  ['alerts', 'webhook', 'url'],
  ['nats', 'user'],
  ['nats', 'password'],
  ['nats', 'token'],
  ['redis', 'username'],
  ['redis', 'password'],
] as const;

/** URL keys whose value may sit in a file only without a user or password in it (comma lists for nats.servers). */
export const URL_KEYS_WITHOUT_CREDENTIALS = [
  ['redis', 'url'],
  ['nats', 'servers'],
  ['clickhouse', 'url'],
] as const;

/** `VIGIL_CLICKHOUSE__ANALYST__PASSWORD` for clickhouse.analyst.password: the variable that sets a key. */
export function envNameOf(path: readonly string[]): string {
  return `${ENV_PREFIX}${path.map((k) => k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()).join('__')}`;
}

function valueAt(root: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const k of path) node = isPlainObject(node) ? node[k] : undefined;
  return node;
}

/** Whether a URL (or a comma list of them) names a user or password: `redis://user:pass@host`, `nats://:token@host`. */
export function urlHasCredentials(value: string): boolean {
  return value.split(',').some((one) => {
    const u = one.trim();
    try {
      const parsed = new URL(u);
      if (parsed.username !== '' || parsed.password !== '') return true;
    } catch {
      // Not a URL the WHATWG parser takes: fall back to the shape `scheme://userinfo@`.
    }
    return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*@/.test(u);
  });
}

function refuseSecretsInFile(fromFile: Record<string, unknown>, file: string): void {
  for (const path of ENV_ONLY_KEYS) {
    const v = valueAt(fromFile, path);
    // An empty value (`tokens: { viewer: [] }`, `password: ''`) holds no secret.
    const empty = v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
    if (!empty) {
      throw new VigilError('CONFIG_INVALID', `${path.join('.')} is a secret and may not be in ${file}: set it with ${envNameOf(path)}`);
    }
  }
  for (const path of URL_KEYS_WITHOUT_CREDENTIALS) {
    const v = valueAt(fromFile, path);
    if (typeof v === 'string' && urlHasCredentials(v)) {
      const secret = path[0] === 'redis' ? ', or the password alone with VIGIL_REDIS__PASSWORD' : path[0] === 'nats' ? ', or the credentials alone with VIGIL_NATS__USER and VIGIL_NATS__PASSWORD' : ', or the password alone with VIGIL_CLICKHOUSE__PASSWORD';
      throw new VigilError('CONFIG_INVALID', `${path.join('.')} in ${file} holds a user or password: set the URL with ${envNameOf(path)}${secret}`);
    }
  }
}

/** The whole load: file (from the argument or VIGIL_CONFIG), then environment, then validation. */
export function loadConfig(opts: { file?: string; env?: Record<string, string | undefined>; overrides?: Record<string, unknown> } = {}): VigilConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.VIGIL_CONFIG;
  const fromFile = file ? readConfigFile(file) : {};
  if (file) refuseSecretsInFile(fromFile, file);
  const merged = deepMerge(deepMerge(fromFile, envOverrides(env)), opts.overrides ?? {});
  return parseConfig(merged);
}
