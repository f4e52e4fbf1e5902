// A wall on the fake source in a process of its own, for the hostile-client suite: a crash is an exit the test sees,
// not an exception the test runner swallows. Config overrides come as JSON in WALL_CHILD_CONFIG; the bound port is
// printed as `{"port":N}`; over IPC, 'stats' answers with the process's memory and the wall's client count.
import { parseBatch } from '../../src/budget/requests.js';
import type { VigilConfig } from '../../src/config/schema.js';
import type { PressureApi, WallSource } from '../../src/contract/frames.js';
import { createLogger } from '../../src/shared/logger.js';
import { createWallServer } from '../../src/wall/server.js';
import { FakeWallSource } from './wallFakeSource.js';
import { buildAlert, buildWallConfig } from './wallFixtures.js';

const overrides = JSON.parse(process.env.WALL_CHILD_CONFIG ?? '{}') as Partial<VigilConfig['wall']>;
const fake = new FakeWallSource({ alerts: [buildAlert({ id: 'a1' }), buildAlert({ id: 'a2' })] });
// The processor's own batch parser behind the pressure routes, with a budget that allows everything.
const pressure: PressureApi = {
  customer: (id: string) => ({ customerId: id, channels: {} }),
  check: (body: unknown) => {
    const parsed = parseBatch(body, 1_000);
    return parsed.ok ? { ok: true, result: { decisions: parsed.value.customerIds.length } } : parsed;
  },
};
const source: WallSource = Object.assign(fake, { pressure });
const wall = createWallServer({ config: buildWallConfig(overrides), source, logger: createLogger('warn', false, process.stderr) });
const port = await wall.listen();
process.stdout.write(`${JSON.stringify({ port, transport: wall.transportName })}\n`);
process.on('message', (message) => {
  if (message === 'stats') process.send?.({ rss: process.memoryUsage().rss, clients: wall.clientCount() });
});
process.on('disconnect', () => process.exit(0));
