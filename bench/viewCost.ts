// What the layout of the per-customer state costs: CustomerWindows.record and .view for customers taken at random,
// at a size that fits the CPU's caches and at the bench's sizes. Each ring and each per-customer field is an array of
// its own (about thirty arrays), so one customer's record or view touches as many cache lines and pages; the gap
// between the small size and the large ones is what they cost in misses, the share an interleaved layout (one record
// per customer) could take back. view() reads one value of each array first, back to back (touchAll), so that its
// misses overlap rather than come one after another. The arrays are on SharedArrayBuffers and a record is written
// inside a sequence lock (shared/sharedArrays.ts): `readNs` is what the contact budget's read of one customer costs
// another thread (windowsReader.ts: the id looked up, four channels' bucket series, the lock words checked), read
// here in the same thread, against `ownerReadNs`, the same read through the owner's accessors (ContactBudget's).
// CPU time of the main thread, no I/O.
//
//   node --max-old-space-size=8000 --import tsx bench/viewCost.ts [sizes=10000,250000,1000000]
import type { VigilEvent } from '../src/contract/event.js';
import { CustomerWindows, emptyView, TOUCH_CHANNELS } from '../src/windows/customerWindows.js';
import { WindowsReader } from '../src/windows/windowsReader.js';

const sizes = (process.argv[2] ?? '10000,250000,1000000').split(',').map(Number);
const END = Date.parse('2026-11-23T12:00:00Z');
const nowMin = Math.floor(END / 60_000);
const TYPES = ['email_sent', 'email_open', 'page_view', 'push_sent', 'purchase', 'email_click'] as const;
const PICKS = 2_000_000;
/** Reads by id: each makes its id's bytes and four channels' series, so fewer. */
const READS = 300_000;

/** Four events a customer, spread over the last seven days: every ring of every customer has buckets in use. */
function filled(customers: number): { windows: CustomerWindows; slots: Int32Array } {
  const windows = new CustomerWindows({ maxCustomers: customers * 2, idleEvictMin: 1e9, initialCapacity: customers });
  const slots = new Int32Array(customers);
  let seed = 1;
  const random = () => ((seed = (Math.imul(seed, 48271) >>> 0) % 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < customers; i++) {
    const customerId = `customer-${i}`;
    slots[i] = windows.slotFor(customerId);
    for (let k = 0; k < 4; k++) {
      const ev = { id: `e${i}-${k}`, customerId, type: TYPES[(i + k) % TYPES.length], ts: END - Math.floor(random() * 7 * 86_400_000), channel: 'email' } as VigilEvent;
      windows.record(slots[i], ev, 1);
    }
  }
  return { windows, slots };
}

const nsPer = (u: NodeJS.CpuUsage, n: number) => Math.round(((u.user + u.system) * 1000) / n);

for (const customers of sizes) {
  const { windows, slots } = filled(customers);
  const picks = new Int32Array(PICKS);
  for (let i = 0; i < PICKS; i++) picks[i] = slots[Math.floor(Math.random() * customers)];
  const into = emptyView();
  const ev = { id: 'x', customerId: 'x', type: 'email_open', ts: END, channel: 'email' } as VigilEvent;
  const views: number[] = [];
  const records: number[] = [];
  const reads: number[] = [];
  const ownerReads: number[] = [];
  const reader = new WindowsReader(windows.share(() => undefined), () => undefined);
  const ids = Array.from({ length: READS }, () => `customer-${Math.floor(Math.random() * customers)}`);
  const now = END;
  let sink = 0;
  for (let round = 0; round < 4; round++) {
    let r = process.cpuUsage();
    for (let i = 0; i < READS; i++) sink += reader.read(ids[i], now)!.touches.responses7d;
    reads.push(nsPer(process.cpuUsage(r), READS));
    r = process.cpuUsage();
    for (let i = 0; i < READS; i++) {
      const slot = windows.find(ids[i]);
      for (const ch of TOUCH_CHANNELS) sink += windows.touchBuckets(slot, ch, nowMin).h24.length;
      sink += windows.responses7d(slot, nowMin) + (windows.lastResponseMin(slot) ?? 0) + (windows.lastNegativeOf(slot)?.min ?? 0) + (windows.zoneOf(slot)?.length ?? 0);
    }
    ownerReads.push(nsPer(process.cpuUsage(r), READS));
    let t = process.cpuUsage();
    for (let i = 0; i < PICKS; i++) sink += windows.view(picks[i], nowMin, into, 'x').engagement.h24;
    views.push(nsPer(process.cpuUsage(t), PICKS));
    t = process.cpuUsage();
    for (let i = 0; i < PICKS; i++) windows.record(picks[i], ev, 1);
    records.push(nsPer(process.cpuUsage(t), PICKS));
  }
  console.log(JSON.stringify({ customers, viewNs: Math.min(...views), recordNs: Math.min(...records), readNs: Math.min(...reads), ownerReadNs: Math.min(...ownerReads), views, records, reads, ownerReads, sink: sink > 0 }));
}
