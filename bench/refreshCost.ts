// What a touch of a customer in the suppressed set costs the contact budget (ContactBudget.onEvent: the reservation,
// then the refresh of the customer's entries by scope, whose reasons carry counts and so change with every touch),
// with no I/O: 200,000 customers pushed over the email allowance, then each touched again, four rounds. CPU per
// touch, the fastest and the median round. Compare two versions by running it from each tree; with
// VIGIL_BENCH_DIST (a tsc build of src) it runs the compiled modules, as the processor does.
//
//   node --import tsx bench/refreshCost.ts [customers=200000] [rounds=4]
import type { VigilEvent } from '../src/contract/event.js';
import { loadSource } from './source.js';

const customers = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 4);
const { parseConfig, quietPipeline } = await loadSource();
const NOW = Date.parse('2026-12-07T12:00:00Z');
const config = parseConfig({ log: { level: 'silent' }, budget: { quietHours: { start: 0, end: 0 } } });
const pipeline = quietPipeline(config, { now: () => NOW });
const { budget, windows } = pipeline;
let changes = 0;
budget.onChange(() => changes++);
const ids = Array.from({ length: customers }, (_, i) => `customer-${i}`);
let seq = 0;
const touch = (customerId: string, ts: number) => {
  const e: VigilEvent = { id: `e${++seq}`, customerId, type: 'email_sent', ts, channel: 'email', value: null, segment: null, campaignId: null, props: null };
  const slot = windows.slotFor(customerId);
  windows.record(slot, e, 1);
  budget.onEvent(e, slot, false);
};
// Three emails an hour ago: over the default allowance, every customer in the set.
for (let k = 0; k < 3; k++) for (const id of ids) touch(id, NOW - 3_600_000 + k * 60_000);
const us: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = process.cpuUsage();
  for (const id of ids) touch(id, NOW - 600_000 + r * 60_000);
  const d = process.cpuUsage(t0);
  us.push(Math.round(((d.user + d.system) / customers) * 100) / 100);
}
const sorted = [...us].sort((a, b) => a - b);
console.log(JSON.stringify({ customers, suppressed: budget.suppressedCount, changes, usPerTouchMin: sorted[0], usPerTouchMedian: sorted[Math.floor(rounds / 2)], rounds: us }));
