import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { natsConnectOptions, redactUrl, redisConnectArgs } from './serviceAuth.js';

describe('NATS and Redis credentials', () => {
  it('gives NATS the user and password, or the token, with every server', () => {
    const opts = natsConnectOptions(parseConfig({ nats: { servers: 'nats://a:4222,nats://b:4222', user: 'processor', password: 'p1' } }));
    expect(opts).toEqual({ servers: ['nats://a:4222', 'nats://b:4222'], user: 'processor', pass: 'p1' });
    expect(natsConnectOptions(parseConfig({ nats: { token: 't1' } }))).toMatchObject({ token: 't1' });
    expect(natsConnectOptions(parseConfig({}))).toEqual({ servers: ['nats://127.0.0.1:4222'] });
  });

  it('refuses a NATS password without a user, and names a creds file it cannot read', () => {
    expect(() => natsConnectOptions(parseConfig({ nats: { password: 'p1' } }))).toThrow(/VIGIL_NATS__USER/);
    expect(() => natsConnectOptions(parseConfig({ nats: { credsFile: '/nonexistent/vigil.creds' } }))).toThrow(/cannot read nats.credsFile/);
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-creds-')), 'x.creds');
    writeFileSync(file, 'not used until the server asks');
    expect(typeof natsConnectOptions(parseConfig({ nats: { credsFile: file } })).authenticator).toBe('function');
  });

  it('gives Redis the username and password in place of any in the URL', () => {
    expect(redisConnectArgs(parseConfig({ redis: { url: 'redis://redis:6379' } }))).toEqual(['redis://redis:6379', {}]);
    expect(redisConnectArgs(parseConfig({ redis: { url: 'redis://old:stale@redis:6379/2', username: 'vigil', password: 'r1' } }))).toEqual(['redis://redis:6379/2', { username: 'vigil', password: 'r1' }]);
    expect(redisConnectArgs(parseConfig({ redis: { password: 'r1' } }))).toEqual(['redis://127.0.0.1:6379', { password: 'r1' }]);
  });

  it('redacts credentials from URLs it reports', () => {
    expect(redactUrl('redis://vigil:hunter22@redis:6379')).toBe('redis://***:***@redis:6379');
    expect(redactUrl('redis://:hunter22@redis:6379')).not.toContain('hunter22');
    expect(redactUrl('redis://redis:6379')).toBe('redis://redis:6379');
  });
});
