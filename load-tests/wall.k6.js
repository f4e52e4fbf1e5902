// @ts-check
// The wall's client load for k6 users: each VU holds one WebSocket like a wall screen and counts what arrives.
// Run: k6 run -e WALL_URL=ws://host:8080/ws -e WALL_TOKEN=... -e CLIENTS=300 -e HOLD_S=60 load-tests/wall.k6.js
// Type-checked (not run) here with: npx tsc -p load-tests/tsconfig.k6.json
import { check } from 'k6';
import { connect } from 'k6/ws';
import { Counter, Trend } from 'k6/metrics';

const clients = Number(__ENV.CLIENTS ?? '300');
const holdS = Number(__ENV.HOLD_S ?? '60');

export const options = {
  scenarios: {
    screens: { executor: 'per-vu-iterations', vus: clients, iterations: 1, maxDuration: `${holdS + 60}s` },
  },
  thresholds: {
    wall_time_to_snapshot: ['p(99)<1000'],
    checks: ['rate==1'],
  },
};

const messages = new Counter('wall_messages');
const frames = new Counter('wall_frames');
const bytes = new Counter('wall_bytes');
const timeToSnapshot = new Trend('wall_time_to_snapshot', true);

export default function screen() {
  const base = __ENV.WALL_URL ?? 'ws://127.0.0.1:8080/ws';
  const token = __ENV.WALL_TOKEN;
  const url = token ? `${base}${base.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : base;
  const started = Date.now();
  let sawSnapshot = false;

  const response = connect(url, {}, (socket) => {
    socket.on('message', (data) => {
      messages.add(1);
      // String length, not UTF-8 bytes: close enough for the JSON the wall sends.
      bytes.add(data.length);
      const parsed = JSON.parse(data);
      frames.add(Array.isArray(parsed) ? parsed.length : 1);
      if (!sawSnapshot && !Array.isArray(parsed) && parsed.type === 'snapshot') {
        sawSnapshot = true;
        timeToSnapshot.add(Date.now() - started);
      }
    });
    // Like the page: a ping every 15 s keeps proxies from closing an idle socket.
    socket.setInterval(() => socket.send(JSON.stringify({ type: 'ping' })), 15_000);
    socket.setTimeout(() => socket.close(), holdS * 1_000);
  });

  check(response, { 'upgraded (101)': (r) => r.status === 101 });
  check(sawSnapshot, { 'received the snapshot': (seen) => seen });
}
