// How Vigil authenticates to NATS and Redis: one place that turns the credential keys (environment only, see
// src/config/load.ts) into client options, so every connection the processor, its threads and the CLI open uses them.
import { readFileSync } from 'node:fs';
import { credsAuthenticator, type ConnectionOptions } from 'nats';
import type { RedisOptions } from 'ioredis';
import type { VigilConfig } from '../config/schema.js';
import { VigilError } from './errors.js';

/** The NATS servers and credentials of the config, ready for `connect()` (add a `name` and reconnect policy). */
export function natsConnectOptions(config: VigilConfig): ConnectionOptions {
  const n = config.nats;
  const opts: ConnectionOptions = { servers: n.servers.split(',') };
  if (n.user !== '') {
    opts.user = n.user;
    opts.pass = n.password;
  } else if (n.password !== '') {
    throw new VigilError('CONFIG_INVALID', 'nats.password is set without nats.user: set VIGIL_NATS__USER too');
  }
  if (n.token !== '') opts.token = n.token;
  if (n.credsFile !== '') {
    let creds: Uint8Array;
    try {
      creds = readFileSync(n.credsFile);
    } catch (err) {
      throw new VigilError('CONFIG_INVALID', `cannot read nats.credsFile ${n.credsFile}`, { cause: err });
    }
    opts.authenticator = credsAuthenticator(creds);
  }
  return opts;
}

/**
 * The Redis URL and options with the credentials of the config: `redis.username` / `redis.password`, when set,
 * take the place of any in the URL (VIGIL_REDIS__URL may carry them instead).
 */
export function redisConnectArgs(config: VigilConfig): [string, RedisOptions] {
  const { url, username, password } = config.redis;
  if (username === '' && password === '') return [url, {}];
  let bare = url;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    bare = u.toString();
  } catch {
    // ioredis reports the unparsable URL itself when it connects.
  }
  return [bare, { ...(username !== '' ? { username } : {}), ...(password !== '' ? { password } : {}) }];
}

/** A URL fit for a log line or an error: any user and password replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = u.username === '' ? '' : '***';
    u.password = u.password === '' ? '' : '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}
