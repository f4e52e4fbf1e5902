// Opens N WebSocket clients against a running wall and reports what they receive per second: messages, frames, bytes,
// and how long each waited for its snapshot. Usage: npx tsx load-tests/wallClients.ts --url ws://127.0.0.1:8080/ws
//   [--token T] [--clients 300] [--duration 30] (seconds after the last client connected) [--ramp 5] (seconds to open them all)
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'ws://127.0.0.1:8080/ws' },
    token: { type: 'string' },
    clients: { type: 'string', default: '300' },
    duration: { type: 'string', default: '30' },
    ramp: { type: 'string', default: '5' },
  },
});

const clientCount = Number(values.clients);
const durationS = Number(values.duration);
const rampMs = Number(values.ramp) * 1_000;
const url = new URL(values.url);
if (values.token) url.searchParams.set('token', values.token);

interface ClientStats {
  messages: number;
  frames: number;
  bytes: number;
  snapshotMs: number | null;
  closed: boolean;
}

const clients: ClientStats[] = [];
let failures = 0;
const window = { messages: 0, frames: 0, bytes: 0 };
const perSecond: { t: number; clients: number; messages: number; frames: number; bytes: number }[] = [];
const sockets: WebSocket[] = [];

function open(): void {
  const stats: ClientStats = { messages: 0, frames: 0, bytes: 0, snapshotMs: null, closed: false };
  const started = performance.now();
  const socket = new WebSocket(url);
  sockets.push(socket);
  socket.on('message', (data: Buffer) => {
    stats.messages++;
    stats.bytes += data.length;
    window.messages++;
    window.bytes += data.length;
    const parsed = JSON.parse(data.toString('utf8')) as { type?: string } | unknown[];
    const frames = Array.isArray(parsed) ? parsed.length : 1;
    stats.frames += frames;
    window.frames += frames;
    if (stats.snapshotMs === null && !Array.isArray(parsed) && parsed.type === 'snapshot') stats.snapshotMs = performance.now() - started;
  });
  socket.on('unexpected-response', (_req, res) => {
    failures++;
    console.error(`upgrade refused: ${res.statusCode}`);
    socket.terminate();
  });
  socket.on('error', () => {
    stats.closed = true;
  });
  socket.on('close', () => {
    stats.closed = true;
  });
  clients.push(stats);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const startedAt = Date.now();
const opener = setInterval(() => {
  const due = rampMs === 0 ? clientCount : Math.min(clientCount, Math.ceil(((Date.now() - startedAt) / rampMs) * clientCount));
  while (clients.length < due) open();
  if (clients.length >= clientCount) clearInterval(opener);
}, 20);

const reporter = setInterval(() => {
  const connected = clients.filter((c) => !c.closed).length;
  perSecond.push({ t: Math.round((Date.now() - startedAt) / 1_000), clients: connected, ...window });
  console.error(`${String(perSecond.length).padStart(4)} s  clients ${connected}  msgs/s ${window.messages}  frames/s ${window.frames}  KiB/s ${(window.bytes / 1_024).toFixed(1)}`);
  window.messages = window.frames = window.bytes = 0;
}, 1_000);

setTimeout(() => {
  clearInterval(reporter);
  clearInterval(opener);
  for (const socket of sockets) socket.terminate();
  const snapshotMs = clients.map((c) => c.snapshotMs).filter((ms): ms is number => ms !== null).sort((a, b) => a - b);
  const steady = perSecond.slice(Math.ceil(rampMs / 1_000) + 1);
  const avg = (key: 'messages' | 'frames' | 'bytes') => steady.reduce((sum, s) => sum + s[key], 0) / Math.max(1, steady.length);
  const perClientMessages = clients.map((c) => c.messages).sort((a, b) => a - b);
  const report = {
    url: values.url,
    clients: clientCount,
    connectedWithSnapshot: snapshotMs.length,
    refused: failures,
    durationS,
    snapshotMs: { p50: percentile(snapshotMs, 50), p99: percentile(snapshotMs, 99), max: snapshotMs.at(-1) ?? null },
    steadyPerSecond: { messages: avg('messages'), frames: avg('frames'), bytes: avg('bytes'), messagesPerClient: avg('messages') / Math.max(1, clientCount) },
    perClientMessages: { min: perClientMessages[0] ?? 0, p50: percentile(perClientMessages, 50), max: perClientMessages.at(-1) ?? 0 },
    node: process.version,
  };
  console.log(JSON.stringify(report, null, 2));
  process.exit(0);
}, rampMs + durationS * 1_000);
