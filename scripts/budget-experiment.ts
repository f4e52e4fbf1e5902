// The contact-budget experiment: one seeded population and campaign schedule simulated twice, with senders that ask
// Vigil's budget before each send (an in-process Pipeline, no NATS) and with senders that do not.
//   npx tsx scripts/budget-experiment.ts [--customers 5000] [--days 14] [--seed 42]
import { parseArgs } from 'node:util';
import { MemoryAlertStore } from '../src/alerts/alertStore.js';
import { parseConfig } from '../src/config/load.js';
import type { PipelineOutputs } from '../src/contract/outputs.js';
import { Pipeline } from '../src/pipeline.js';
import { ManualClock } from '../src/shared/clock.js';
import type { PurchaseModel } from '../src/signals/churn.js';
import { Population, type SendGate, type SimEvent } from '../src/simulate/population.js';

const { values } = parseArgs({ options: { customers: { type: 'string', default: '5000' }, days: { type: 'string', default: '14' }, seed: { type: 'string', default: '42' } } });
const customers = Number(values.customers);
const days = Number(values.days);
const seed = Number(values.seed);
const DAY = 86_400_000;
const T0 = Date.parse('2026-01-05T00:00:00Z');
const enc = new TextEncoder();

const noOutputs: PipelineOutputs = { event: () => {}, customerActivity: () => {}, entityActivity: () => {}, signals: () => {}, alert: () => {}, rejected: () => {} };
const model: PurchaseModel = { name: 'experiment', pAlive: () => 1, expectedPurchases: () => 0, customerValue: () => 0 };

interface Outcome {
  sends: number;
  suppressed: number;
  reached: number;
  engagedReached: number;
  opens: number;
  complaints: number;
  unsubscribes: number;
}

function run(askVigil: boolean): Outcome {
  const pop = new Population({ customers, seed, faderShare: 0.2 });
  const clock = new ManualClock(T0);
  // Lateness of a day: a day's sessions are fed after its campaigns, out of order by hours.
  const config = parseConfig({ ingest: { allowedLatenessMs: 2 * DAY }, log: { level: 'silent' } });
  const pipeline = new Pipeline({ config, clock, outputs: noOutputs, model, trend: () => null, alertStore: new MemoryAlertStore() });
  let seq = 0;
  const fed = new Set<string>();
  const feed = (e: SimEvent) => {
    if (fed.has(e.id)) return;
    fed.add(e.id);
    if (e.ts > clock.now()) clock.set(e.ts);
    pipeline.handle({ subject: `events.${e.type}`, data: enc.encode(JSON.stringify(e)), streamSeq: ++seq, receivedAt: clock.now() });
  };
  let suppressed = 0;
  let cursor = 0;
  // The day's events not yet fed (a send's touches and reactions come after its moment); fed once their time is past.
  let waiting: SimEvent[] = [];
  let lastFedAt = 0;
  const gate: SendGate = askVigil
    ? (customerId, channel, campaignId, at, emitted) => {
        // Vigil has seen every touch and reaction of the day's earlier sends before it is asked about this one.
        if (cursor < emitted.length) {
          waiting.push(...emitted.slice(cursor));
          cursor = emitted.length;
        }
        if (waiting.length > 0 && at > lastFedAt) {
          lastFedAt = at;
          waiting.sort((a, b) => a.ts - b.ts);
          let n = 0;
          while (n < waiting.length && waiting[n].ts <= at) feed(waiting[n++]);
          waiting.splice(0, n);
        }
        if (at > clock.now()) clock.set(at);
        const d = pipeline.budget.check({ customerId, channel: channel as 'email' | 'push', campaignId, priority: 'marketing' });
        if (!d.allow) suppressed++;
        return d.allow;
      }
    : () => true;

  const all: SimEvent[] = [];
  for (let d = 0; d < days; d++) {
    cursor = 0;
    waiting = [];
    const events = pop.day(T0 + d * DAY, 2, undefined, gate);
    if (askVigil) events.forEach(feed);
    for (const e of events) all.push({ id: e.id, customerId: e.customerId, type: e.type, ts: e.ts });
    if (askVigil) pipeline.budget.sweep();
  }
  const reached = new Set<string>();
  const openers = new Set<string>();
  const o: Outcome = { sends: 0, suppressed, reached: 0, engagedReached: 0, opens: 0, complaints: 0, unsubscribes: 0 };
  for (const e of all) {
    if (e.type === 'email_sent' || e.type === 'push_sent') {
      o.sends++;
      reached.add(e.customerId);
    } else if (e.type === 'email_open' || e.type === 'push_open') {
      o.opens++;
      openers.add(e.customerId);
    } else if (e.type === 'complaint') o.complaints++;
    else if (e.type === 'unsubscribe') o.unsubscribes++;
  }
  o.reached = reached.size;
  o.engagedReached = openers.size;
  return o;
}

const started = Date.now();
const without = run(false);
const withVigil = run(true);
const rows: [string, keyof Outcome][] = [
  ['messages sent', 'sends'],
  ['sends held back by the budget', 'suppressed'],
  ['customers reached', 'reached'],
  ['engaged customers reached (opened at least one)', 'engagedReached'],
  ['opens', 'opens'],
  ['complaints', 'complaints'],
  ['unsubscribes', 'unsubscribes'],
];
const fmt = (n: number) => n.toLocaleString('en-US');
const change = (a: number, b: number) => (a === 0 ? '' : `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(0)}%`);
console.log(`${customers} customers, ${days} days, seed ${seed}, 2 campaigns a day (30% of days one sends 4 times), fatigue model of src/simulate/population.ts`);
console.log('');
console.log('| | senders that do not ask | senders that ask Vigil | change |');
console.log('| --- | ---: | ---: | ---: |');
for (const [label, k] of rows) console.log(`| ${label} | ${fmt(without[k])} | ${fmt(withVigil[k])} | ${k === 'suppressed' ? '' : change(without[k], withVigil[k])} |`);
console.log('');
console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
