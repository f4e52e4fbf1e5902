import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from './load.js';

const KEY = 'x'.repeat(32);

describe('privacy and secrets in the config', () => {
  it('takes the pseudonym key and the analyst password from the environment', () => {
    const config = loadConfig({ env: { VIGIL_PRIVACY__PSEUDONYMIZE: 'true', VIGIL_PRIVACY__PSEUDONYM_KEY: KEY, VIGIL_CLICKHOUSE__ANALYST__PASSWORD: 'analyst-pw' } });
    expect(config.privacy).toMatchObject({ pseudonymize: true, pseudonymKey: KEY });
    expect(config.clickhouse.analyst).toEqual({ user: 'vigil_analyst', password: 'analyst-pw' });
  });

  it('refuses a secret written in the config file, naming the variable to use instead', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-config-'));
    const file = join(dir, 'vigil.json');
    writeFileSync(file, JSON.stringify({ privacy: { pseudonymKey: KEY } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(/privacy\.pseudonymKey is a secret .* VIGIL_PRIVACY__PSEUDONYM_KEY/);
    writeFileSync(file, JSON.stringify({ clickhouse: { analyst: { password: 'pw' } } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(/VIGIL_CLICKHOUSE__ANALYST__PASSWORD/);
  });

  it('needs a key of 32 characters or more to pseudonymize', () => {
    expect(() => parseConfig({ privacy: { pseudonymize: true } })).toThrow(/privacy\.pseudonymKey/);
    expect(() => parseConfig({ privacy: { pseudonymize: true, pseudonymKey: 'short' } })).toThrow(/at least 32/);
    expect(parseConfig({ privacy: { pseudonymize: true, pseudonymKey: KEY } }).privacy.pseudonymize).toBe(true);
  });

  it('reveals original ids only to responders who hold a token: an open wall makes everyone a responder', () => {
    expect(() => parseConfig({ privacy: { pseudonymize: true, pseudonymKey: KEY, revealToResponders: true } })).toThrow(/wall\.tokens\.responder/);
    expect(() => parseConfig({ privacy: { revealToResponders: true }, wall: { tokens: { responder: ['responder-1'] } } })).toThrow(/pseudonymize/);
    const ok = parseConfig({ privacy: { pseudonymize: true, pseudonymKey: KEY, revealToResponders: true }, wall: { tokens: { responder: ['responder-1'] } } });
    expect(ok.privacy.revealToResponders).toBe(true);
  });
});
