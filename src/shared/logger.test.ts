import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { createLogger } from './logger.js';

const KEY = 'k'.repeat(16) + '-pseudonym-key-never-logged';
const PASSWORD = 'clickhouse-password-never-logged';
const ANALYST = 'analyst-password-never-logged';
const TOKEN = 'responder-token-never-logged';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

describe('log redaction', () => {
  const config = parseConfig({
    clickhouse: { password: PASSWORD, analyst: { password: ANALYST } },
    privacy: { pseudonymize: true, pseudonymKey: KEY },
    wall: { tokens: { responder: [TOKEN] } },
  });

  it('hides the pseudonym key, every password and the wall tokens however deep the config is logged', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', false, stream);
    log.info(config, 'the config itself');
    log.info({ config }, 'the config as a field');
    log.info({ clickhouse: config.clickhouse, privacy: config.privacy, wall: config.wall }, 'sections');
    log.child({ stage: 'x' }).info({ nested: { config } }, 'one level deeper');
    log.info(config.privacy, 'one section at the top');
    const out = lines.join('');
    expect(lines.length).toBe(5);
    for (const secret of [KEY, PASSWORD, ANALYST, TOKEN]) expect(out, secret).not.toContain(secret);
    expect(out).toContain('[redacted]');
    // The rest is still logged.
    expect(out).toContain('"pseudonymize":true');
  });
});
