import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envOverrides, loadConfig, parseConfig } from './load.js';

describe('config', () => {
  it('fills every default from an empty file', () => {
    const cfg = parseConfig({});
    expect(cfg.wall.port).toBe(8080);
    expect(cfg.nats.stream).toBe('EVENTS');
    expect(cfg.alerts.rules.length).toBeGreaterThan(0);
  });

  it('maps VIGIL_ env names onto camelCase keys and parses numbers', () => {
    expect(envOverrides({ VIGIL_WALL__PORT: '9090', VIGIL_CLICKHOUSE__BATCH__MAX_ROWS: '10', OTHER: 'x' })).toEqual({
      wall: { port: 9090 },
      clickhouse: { batch: { maxRows: 10 } },
    });
  });

  it('keeps strings as strings and splits comma lists where the schema wants an array', () => {
    const cfg = loadConfig({ env: { VIGIL_CLICKHOUSE__PASSWORD: '12345', VIGIL_WALL__TOKENS__RESPONDER: 'aaaaaaaa1,bbbbbbbb2' } });
    expect(cfg.clickhouse.password).toBe('12345');
    expect(cfg.wall.tokens.responder).toEqual(['aaaaaaaa1', 'bbbbbbbb2']);
  });

  it('environment wins over the file', () => {
    const cfg = loadConfig({ env: { VIGIL_WALL__PORT: '7000' }, overrides: {} });
    expect(cfg.wall.port).toBe(7000);
  });

  it('rejects a bad value naming the key and the reason', () => {
    expect(() => parseConfig({ wall: { port: 'eighty' } })).toThrow(/wall\.port: Expected number/);
  });

  it('rejects an unknown key instead of ignoring a typo', () => {
    expect(() => parseConfig({ wall: { prot: 80 } })).toThrow(/wall: Unrecognized key/);
  });

  it("takes budget.httpPort from the environment, only where the budget's thread serves it, and never the wall's port", () => {
    expect(loadConfig({ env: { VIGIL_BUDGET__HTTP_PORT: '8090' }, overrides: {} }).budget.httpPort).toBe(8090);
    expect(parseConfig({}).budget.httpPort).toBeUndefined();
    expect(() => parseConfig({ budget: { httpPort: 8090, thread: false } })).toThrow(/budget\.httpPort: the budget's own port is served by its thread/);
    expect(() => parseConfig({ budget: { httpPort: 8090, enabled: false } })).toThrow(/budget\.httpPort/);
    expect(() => parseConfig({ budget: { httpPort: 8090 }, cluster: { partitions: 4 } })).toThrow(/budget\.httpPort/);
    expect(() => parseConfig({ budget: { httpPort: 8080 } })).toThrow(/budget\.httpPort: 8080 is the wall's port/);
    expect(parseConfig({ budget: { httpPort: 0 }, wall: { port: 0 } }).budget.httpPort).toBe(0);
  });

  it('rejects an alert rule with an unknown signal', () => {
    expect(() => parseConfig({ alerts: { rules: [{ name: 'x', signal: 'nope', subject: 'customer', threshold: 1 }] } })).toThrow(/alerts\.rules\.0\.signal/);
  });
});

describe('secrets only from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
  const fileWith = (text: string): string => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, text);
    return file;
  };

  // Each key in a file, as YAML, and the variable the refusal must name.
  const cases: [string, string, string][] = [
    ['wall.tokens.viewer', 'wall:\n  tokens:\n    viewer: [viewer-token-1]\n', 'VIGIL_WALL__TOKENS__VIEWER'],
    ['wall.tokens.responder', 'wall:\n  tokens:\n    responder: [responder-token-1]\n', 'VIGIL_WALL__TOKENS__RESPONDER'],
    ['clickhouse.password', 'clickhouse:\n  password: hunter22\n', 'VIGIL_CLICKHOUSE__PASSWORD'],
    ['clickhouse.analyst.password', 'clickhouse:\n  analyst:\n    password: hunter22\n', 'VIGIL_CLICKHOUSE__ANALYST__PASSWORD'],
    ['alerts.webhook.url', 'alerts:\n  webhook:\n    url: https://hooks.example.com/T000/secret\n', 'VIGIL_ALERTS__WEBHOOK__URL'],
    ['privacy.pseudonymKey', 'privacy:\n  pseudonymKey: 0123456789abcdef0123456789abcdef\n', 'VIGIL_PRIVACY__PSEUDONYM_KEY'],
    ['nats.user', 'nats:\n  user: vigil\n', 'VIGIL_NATS__USER'],
    ['nats.password', 'nats:\n  password: hunter22\n', 'VIGIL_NATS__PASSWORD'],
    ['nats.token', 'nats:\n  token: s3cr3t\n', 'VIGIL_NATS__TOKEN'],
    ['redis.username', 'redis:\n  username: vigil\n', 'VIGIL_REDIS__USERNAME'],
    ['redis.password', 'redis:\n  password: hunter22\n', 'VIGIL_REDIS__PASSWORD'],
  ];
  for (const [key, yaml, env] of cases) {
    it(`refuses ${key} in the file, naming ${env}`, () => {
      const file = fileWith(yaml);
      expect(() => loadConfig({ file, env: {} })).toThrow(`${key} is a secret and may not be in ${file}: set it with ${env}`);
    });
  }

  it('takes the same secrets from the environment', () => {
    const cfg = loadConfig({
      env: {
        VIGIL_WALL__TOKENS__VIEWER: 'viewer-token-1',
        VIGIL_WALL__TOKENS__RESPONDER: 'responder-token-1',
        VIGIL_CLICKHOUSE__PASSWORD: 'hunter22',
        VIGIL_ALERTS__WEBHOOK__URL: 'https://hooks.example.com/T000/secret',
        VIGIL_NATS__USER: 'processor',
        VIGIL_NATS__PASSWORD: 'p1',
        VIGIL_NATS__TOKEN: 't1',
        VIGIL_NATS__CREDS_FILE: '/run/secrets/vigil.creds',
        VIGIL_REDIS__USERNAME: 'vigil',
        VIGIL_REDIS__PASSWORD: 'r1',
        VIGIL_REDIS__URL: 'redis://vigil:r2@redis:6379',
      },
    });
    expect(cfg.wall.tokens).toEqual({ viewer: ['viewer-token-1'], responder: ['responder-token-1'] });
    expect(cfg.alerts.webhook.url).toBe('https://hooks.example.com/T000/secret');
    expect(cfg.nats).toMatchObject({ user: 'processor', password: 'p1', token: 't1', credsFile: '/run/secrets/vigil.creds' });
    expect(cfg.redis).toMatchObject({ username: 'vigil', password: 'r1', url: 'redis://vigil:r2@redis:6379' });
  });

  it('accepts empty secrets in a file (an empty token list names no token)', () => {
    const file = fileWith("wall:\n  tokens:\n    viewer: []\n    responder: []\nclickhouse:\n  password: ''\nnats:\n  credsFile: /run/secrets/vigil.creds\n");
    expect(loadConfig({ file, env: {} }).nats.credsFile).toBe('/run/secrets/vigil.creds');
  });

  for (const [key, yaml, env] of [
    ['redis.url', 'redis:\n  url: redis://vigil:hunter22@redis:6379\n', 'VIGIL_REDIS__URL'],
    ['redis.url', 'redis:\n  url: "redis://:hunter22@redis:6379"\n', 'VIGIL_REDIS__URL'],
    ['nats.servers', 'nats:\n  servers: nats://a:4222,nats://processor:hunter22@b:4222\n', 'VIGIL_NATS__SERVERS'],
    ['clickhouse.url', 'clickhouse:\n  url: http://default:hunter22@clickhouse:8123\n', 'VIGIL_CLICKHOUSE__URL'],
  ] as const) {
    it(`refuses ${key} with credentials in the file (${yaml.split('\n')[1].trim()})`, () => {
      const file = fileWith(yaml);
      expect(() => loadConfig({ file, env: {} })).toThrow(`${key} in ${file} holds a user or password: set the URL with ${env}`);
    });
  }

  it('loads a file written from a whole default config, as tests and tools write one (every secret empty)', () => {
    const file = fileWith(JSON.stringify(parseConfig({})));
    expect(loadConfig({ file, env: {} }).nats.user).toBe('');
  });

  it('accepts the URLs without credentials in a file, and with them from the environment', () => {
    const file = fileWith('redis:\n  url: redis://redis:6379\nnats:\n  servers: nats://a:4222,nats://b:4222\n');
    expect(loadConfig({ file, env: {} }).redis.url).toBe('redis://redis:6379');
    expect(loadConfig({ file, env: { VIGIL_REDIS__URL: 'redis://vigil:hunter22@redis:6379' } }).redis.url).toBe('redis://vigil:hunter22@redis:6379');
  });
});
