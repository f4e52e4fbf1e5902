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

  it('rejects an alert rule with an unknown signal', () => {
    expect(() => parseConfig({ alerts: { rules: [{ name: 'x', signal: 'nope', subject: 'customer', threshold: 1 }] } })).toThrow(/alerts\.rules\.0\.signal/);
  });
});
