// One wall over a real socket per test, on a chosen transport, with its clients: started by the test, closed after it.
import { afterEach } from 'vitest';
import type { VigilConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createWallServer, type WallServer } from '../../src/wall/server.js';
import type { TransportName } from '../../src/wall/transport/types.js';
import { WallTestClient } from './wallClient.js';
import type { FakeWallSource } from './wallFakeSource.js';
import { buildWallConfig } from './wallFixtures.js';

export interface WallHarness {
  /** Starts the wall over the source; its addresses for HTTP and the WebSocket. */
  start(source: FakeWallSource, overrides?: Partial<VigilConfig['wall']>): Promise<{ port: number; http: string; ws: string }>;
  /** A WebSocket client, terminated after the test. */
  connect(url: string, headers?: Record<string, string>): Promise<WallTestClient>;
  /** The running wall (after start). */
  readonly wall: WallServer;
}

/** Registers an afterEach that closes the test's clients and wall: call it in a describe block. */
export function wallHarness(transport: TransportName): WallHarness {
  let wall: WallServer | null = null;
  const clients: WallTestClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.socket.terminate();
    await wall?.close();
    wall = null;
  });

  return {
    async start(source, overrides = {}) {
      wall = createWallServer({ config: buildWallConfig({ transport, ...overrides }), source, logger: silentLogger });
      const port = await wall.listen();
      return { port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws` };
    },
    async connect(url, headers = {}) {
      const client = await WallTestClient.connect(url, headers);
      clients.push(client);
      return client;
    },
    get wall() {
      if (!wall) throw new Error('the wall is not started: call start() first');
      return wall;
    },
  };
}
