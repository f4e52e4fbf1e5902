import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../shared/logger.js';
import { FakeWallSource } from '../../tests/helpers/wallFakeSource.js';
import { buildWallConfig } from '../../tests/helpers/wallFixtures.js';
import { createWallServer } from './server.js';
import type { SelectedTransport } from './transport/select.js';

/** A transport that binds nothing: this test is about what the wall logs, not about a socket on 0.0.0.0. */
const unbound: SelectedTransport = { name: 'ws', factory: () => ({ name: 'ws', listen: async () => 4_321, close: async () => {} }) };

async function logsOf(overrides: Parameters<typeof buildWallConfig>[0]): Promise<{ level: number; msg: string }[]> {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString('utf8')), done()) });
  const wall = createWallServer({ config: buildWallConfig(overrides), source: new FakeWallSource(), logger: createLogger('info', false, sink), transport: unbound });
  await wall.listen();
  await wall.close();
  return lines.map((line) => JSON.parse(line) as { level: number; msg: string });
}

describe('createWallServer', () => {
  it('warns when it starts open on a non-loopback address (wall.allowOpen), and not otherwise', async () => {
    const open = await logsOf({ host: '0.0.0.0', allowOpen: true });
    expect(open.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringMatching(/the wall is OPEN on a non-loopback address/)]);
    expect((await logsOf({ host: '127.0.0.1' })).filter((l) => l.level === 40)).toEqual([]);
    expect((await logsOf({ host: '0.0.0.0', tokens: { viewer: ['viewer-token-1'], responder: [] } })).filter((l) => l.level === 40)).toEqual([]);
  });
});
