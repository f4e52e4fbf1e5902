// Admission parsing alone: the byte scanner (parseEvent) against the generic path (parseEventGeneric) on the bench's
// own event shapes, in one process, rounds alternating so that machine noise falls on both. CPU time per event.
//
//   node --import tsx bench/parse.ts [events=200000] [rounds=7]
import { parseConfig } from '../src/config/load.js';
import { parseEvent, parseEventGeneric } from '../src/admission/parse.js';
import { WorkloadGenerator } from './workload.js';

const count = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 7);
const END = Date.parse('2026-11-23T12:00:00Z');
const limits = parseConfig({ log: { level: 'silent' } }).ingest;
const enc = new TextEncoder();

// The body of the workload (sessions, purchases, campaign touches and reactions), past the first day.
const gen = new WorkloadGenerator({ customers: 100_000, bodyEvents: 400_000, days: 7, endTs: END, seed: 5, worker: 0, workers: 1 });
const messages: { data: Uint8Array; type: string }[] = [];
for (let m = gen.firstMin + 1440; messages.length < count && m <= gen.lastMin; m++) {
  for (const ev of gen.minute(m)) messages.push({ data: enc.encode(JSON.stringify(ev)), type: ev.type });
}
messages.length = Math.min(messages.length, count);
const bytes = messages.reduce((n, m) => n + m.data.length, 0);

type Parse = typeof parseEvent;
function run(parse: Parse): { us: number; ok: number } {
  let ok = 0;
  const t0 = process.cpuUsage();
  for (const m of messages) if (parse(m.data, m.type, END, limits).ok) ok++;
  const d = process.cpuUsage(t0);
  return { us: d.user + d.system, ok };
}

// Warm both up, and check they agree on what they accept before timing them.
const a = run(parseEvent);
const b = run(parseEventGeneric);
if (a.ok !== b.ok) throw new Error(`the two paths accept different counts: ${a.ok} and ${b.ok}`);
const scanner: number[] = [];
const generic: number[] = [];
for (let r = 0; r < rounds; r++) {
  scanner.push((run(parseEvent).us * 1000) / messages.length);
  generic.push((run(parseEventGeneric).us * 1000) / messages.length);
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const r1 = (v: number) => Math.round(v * 10) / 10;
console.log(
  JSON.stringify({
    events: messages.length,
    accepted: a.ok,
    meanBytes: Math.round(bytes / messages.length),
    scannerNsPerEvent: r1(median(scanner)),
    genericNsPerEvent: r1(median(generic)),
    genericOverScanner: Math.round((median(generic) / median(scanner)) * 100) / 100,
    rounds: { scanner: scanner.map(r1), generic: generic.map(r1) },
  }),
);
