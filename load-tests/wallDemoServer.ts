// A wall fed by the in-memory fake source with a live-looking ticker: something to point wallClients.ts, k6 or a browser at
// without NATS, Redis or ClickHouse. Usage: npx tsx load-tests/wallDemoServer.ts [--port 8080] [--transport auto|uws|ws]
//   [--token T] (responder token; none = open wall) [--rate N] (extra stats frames per second, to load the coalescer)
import { parseArgs } from 'node:util';
import { createWallServer } from '../src/wall/server.js';
import { createLogger } from '../src/shared/logger.js';
import { FakeWallSource } from '../tests/helpers/wallFakeSource.js';
import { buildWallConfig, demoScene } from '../tests/helpers/wallFixtures.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8080' },
    transport: { type: 'string', default: 'auto' },
    token: { type: 'string' },
    rate: { type: 'string', default: '0' },
    'frame-interval': { type: 'string', default: '250' },
  },
});

const transport = values.transport as 'auto' | 'uws' | 'ws';
const scene = demoScene();
const source = new FakeWallSource(scene);
const wall = createWallServer({
  config: buildWallConfig({
    host: values.host,
    port: Number(values.port),
    transport,
    frameIntervalMs: Number(values['frame-interval']),
    tokens: { viewer: [], responder: values.token ? [values.token] : [] },
  }),
  source,
  logger: createLogger('info'),
});

const port = await wall.listen();
console.error(`wall (${wall.transportName}) on http://${values.host}:${port}/${values.token ? `?token=${values.token}` : ''}`);

let tick = 0;
const everySecond = setInterval(() => {
  tick++;
  const base = source.stats;
  const eventsPerSec = Math.max(0, Math.round(17_500 + Math.sin(tick / 20) * 2_500 + (Math.random() - 0.5) * 800));
  source.push({
    type: 'stats',
    stats: {
      ...base,
      ts: Date.now(),
      eventsPerSec,
      eventsTotal: base.eventsTotal + eventsPerSec,
      lagMs: Math.round(150 + Math.abs(Math.sin(tick / 9)) * 120 + Math.random() * 40),
      activeCustomers: base.activeCustomers + Math.round((Math.random() - 0.4) * 50),
      clickhouseBufferedRows: Math.round(30_000 + Math.random() * 20_000),
      uptimeS: base.uptimeS + 1,
    },
  });
  if (tick % 5 === 0) {
    source.push({ type: 'at_risk', atRisk: source.atRisk.map((entry) => ({ ...entry, risk: Math.min(0.999, Math.max(0.6, entry.risk + (Math.random() - 0.5) * 0.02)) })) });
  }
  if (tick % 3 === 0) {
    const alert = scene.alerts[tick % scene.alerts.length];
    source.push({ type: 'alert', alert: { ...(source.alerts.get(alert.id) ?? alert), updatedAt: Date.now() } });
  }
}, 1_000);

// Extra stats frames at --rate per second: the wall should still send each client at most one message per interval.
const rate = Number(values.rate);
const burst = rate > 0 ? setInterval(() => {
  for (let i = 0; i < rate / 100; i++) source.push({ type: 'stats', stats: { ...source.stats, ts: Date.now() } });
}, 10) : null;

const stop = async (): Promise<void> => {
  clearInterval(everySecond);
  if (burst) clearInterval(burst);
  await wall.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
