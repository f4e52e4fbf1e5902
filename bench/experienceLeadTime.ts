// Does the brand experience index earn its place? The seeded population with a defect wave on one product runs through
// an in-process Pipeline (manual clock in event time, no NATS), each customer's experience index and churn risk are
// sampled every few hours of event time and the alerts recorded as they fire, and the report says how long before the
// churn model's risk rises the experience flag names the wave's buyers, how precise the flag is, and when the product
// rule names the product.
//
//   npm run bench:experience -- [--customers 5000] [--days 84] [--seed 7] [--wave-start 35] [--wave-days 7]
//                               [--sample-hours 6] [--churn-weight 0] [--trend-flag 15] [--json FILE]
//
// --churn-weight is signals.experience.churnWeight: 0 (the default here) scores churn as the model did before it took a
// bad experience as a reason, which is what the flag is meant to lead; the configured default lets the index raise the
// risk itself. Beside the configured flag (index under signals.experience.churnThreshold, or customer_experience_decline
// firing) the report scores, for comparison, the signal's own trend at or under -trend-flag points, and the product
// rule's flag passed on to the product's recent buyers.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MemoryAlertStore } from '../src/alerts/alertStore.js';
import { parseConfig } from '../src/config/load.js';
import type { AlertView } from '../src/contract/frames.js';
import type { PipelineOutputs } from '../src/contract/outputs.js';
import { Pipeline } from '../src/pipeline.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, ManualClock } from '../src/shared/clock.js';
import { liveEngagementTrend } from '../src/signals/models/trend.js';
import { configuredPurchaseModel } from '../src/signals/purchaseModel.js';
import { Population } from '../src/simulate/population.js';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '5000' },
    days: { type: 'string', default: '84' },
    seed: { type: 'string', default: '7' },
    'wave-start': { type: 'string', default: '35' },
    'wave-days': { type: 'string', default: '7' },
    'sample-hours': { type: 'string', default: '6' },
    'churn-weight': { type: 'string', default: '0' },
    'trend-flag': { type: 'string', default: '15' },
    json: { type: 'string' },
  },
});
const customers = Number(values.customers);
const days = Number(values.days);
const seed = Number(values.seed);
const waveStart = Number(values['wave-start']);
const waveDays = Number(values['wave-days']);
const sampleMs = Number(values['sample-hours']) * HOUR_MS;
const churnWeight = Number(values['churn-weight']);
/** The second flag scored beside the configured one: the index this many points under the customer's own slow baseline. */
const trendFlag = Number(values['trend-flag']);
const T0 = Date.parse('2026-01-05T00:00:00Z');
const enc = new TextEncoder();
const TICK_MS = 15 * MINUTE_MS;

const config = parseConfig({
  log: { level: 'silent' },
  // A day's events come sorted, but a session that starts before midnight ends after it.
  ingest: { allowedLatenessMs: HOUR_MS },
  signals: { experience: { churnWeight } },
});
const churnRule = config.alerts.rules.find((r) => r.name === 'customer_churn_risk');
const declineRule = config.alerts.rules.find((r) => r.name === 'customer_experience_decline');
if (!churnRule || !declineRule) throw new Error('the default rules customer_churn_risk and customer_experience_decline are needed');
const churnThreshold = churnRule.threshold;
const experienceThreshold = config.signals.experience.churnThreshold;

const waveStartTs = T0 + waveStart * DAY_MS;
/** Customers flagged (index under the threshold, or the decline rule firing) before the wave: false alarms in calm weeks. */
const flaggedBefore = new Set<string>();
/** First firing from the wave's start on, per customer (decline, churn) or product. */
const firstDecline = new Map<string, number>();
const firstChurnAlert = new Map<string, number>();
const productAlerts = new Map<string, number>();
/** Every product's product_experience_drop firings, [from, to) (to: Infinity while it fires at the end). */
const productFirings = new Map<string, { from: number; to: number }[]>();
const noteAlert = (a: AlertView) => {
  if (a.rule === 'product_experience_drop') {
    const spans = productFirings.get(a.subject.key) ?? [];
    const open = spans.length > 0 && spans[spans.length - 1].to === Infinity;
    if (a.state === 'firing' && !open) spans.push({ from: clock.now(), to: Infinity });
    else if (a.state === 'resolved' && open) spans[spans.length - 1].to = clock.now();
    productFirings.set(a.subject.key, spans);
  }
  if (a.state !== 'firing') return;
  const at = clock.now();
  if (a.rule === declineRule.name && at < waveStartTs) flaggedBefore.add(a.subject.key);
  if (at < waveStartTs) return;
  const first = (m: Map<string, number>) => {
    if (!m.has(a.subject.key)) m.set(a.subject.key, at);
  };
  if (a.rule === declineRule.name) first(firstDecline);
  else if (a.rule === churnRule.name) first(firstChurnAlert);
  else if (a.rule === 'product_experience_drop') first(productAlerts);
};
const outputs: PipelineOutputs = { event() {}, customerActivity() {}, entityActivity() {}, signals() {}, alert: noteAlert, rejected() {} };

const clock = new ManualClock(T0);
const pipeline = new Pipeline({ config, clock, outputs, model: configuredPurchaseModel(config.signals.model), trend: liveEngagementTrend, alertStore: new MemoryAlertStore() });
const pop = new Population({ customers, seed, faderShare: 0.2, experience: { wave: { productId: null, startDay: waveStart, days: waveDays } } });
const ids = pop.customers.map((c) => c.id);
const wave = pop.wave!;
/** Customers who bought the wave's product at any time (the others' voice reaches them too). */
const boughtProduct = new Set<string>();
/** Every customer's purchases (product, time), for the flag a product's alert passes on to its recent buyers. */
const purchases = new Map<string, { product: string; ts: number }[]>();

/** Per customer (by index in `ids`): first sample with the index under the threshold, first with churn risk at or over its threshold. */
const firstLowIndex = new Float64Array(customers).fill(NaN);
const firstLowTrend = new Float64Array(customers).fill(NaN);
const firstHighRisk = new Float64Array(customers).fill(NaN);
/** The same for a wave buyer who fades, from the first day of the fade on: the rise the fade brings. */
const firstHighRiskFaded = new Float64Array(customers).fill(NaN);
/** Churn risk already at or over the threshold at the last sample before the wave (not a rise the wave could cause). */
const riskAtWaveStart = new Uint8Array(customers);
/** The lowest experience index each customer reached from the wave's start on (where the flag's threshold stands). */
const lowestIndex = new Float64Array(customers).fill(NaN);
/** Wave buyers held at one sample and gone at a later one (evicted after `windows.idleEvictMs` without events). */
const held = new Uint8Array(customers);
const evicted = new Set<string>();
let samples = 0;

function sample(at: number): void {
  const nowMin = Math.floor(pipeline.watermark(at) / MINUTE_MS);
  for (let i = 0; i < ids.length; i++) {
    const slot = pipeline.windows.find(ids[i]);
    if (slot === -1) {
      if (held[i] && wave.buyers.has(ids[i])) evicted.add(ids[i]);
      continue;
    }
    held[i] = 1;
    const s = pipeline.customerSignals(slot, nowMin);
    if (at < waveStartTs) {
      if (s.experience.index < experienceThreshold) flaggedBefore.add(ids[i]);
      riskAtWaveStart[i] = s.churn.risk >= churnThreshold ? 1 : 0;
      continue;
    }
    const index = s.experience.index;
    if (!(lowestIndex[i] <= index)) lowestIndex[i] = index;
    if (Number.isNaN(firstLowIndex[i]) && index < experienceThreshold) firstLowIndex[i] = at;
    if (Number.isNaN(firstLowTrend[i]) && s.experience.trend <= -trendFlag) firstLowTrend[i] = at;
    if (Number.isNaN(firstHighRisk[i]) && s.churn.risk >= churnThreshold) firstHighRisk[i] = at;
    const fadeFrom = wave.buyers.get(ids[i])?.fadeFromDay ?? null;
    if (fadeFrom !== null && at >= T0 + fadeFrom * DAY_MS && Number.isNaN(firstHighRiskFaded[i]) && s.churn.risk >= churnThreshold) firstHighRiskFaded[i] = at;
  }
  samples++;
}

const started = process.hrtime.bigint();
let seq = 0;
let events = 0;
let nextTick = T0 + TICK_MS;
let nextSample = T0 + sampleMs;
for (let d = 0; d < days; d++) {
  for (const e of pop.day(T0 + d * DAY_MS)) {
    // The periodic work comes due in event time: ticks every 15 minutes (for-durations, entity and product rules; a tick sweeps up to 50,000 slots for idle customers, so ticking as often as the processor does would only measure that sweep), samples.
    while (nextTick <= e.ts || nextSample <= e.ts) {
      const at = Math.min(nextTick, nextSample);
      if (at > clock.now()) clock.set(at);
      if (at === nextTick) {
        pipeline.tick(at);
        pipeline.drainActivity(at);
        nextTick += TICK_MS;
      } else {
        pipeline.derive(at);
        sample(at);
        nextSample += sampleMs;
      }
    }
    if (e.ts > clock.now()) clock.set(e.ts);
    if (e.type === 'purchase' && typeof e.props?.productId === 'string') {
      if (e.props.productId === wave.productId) boughtProduct.add(e.customerId);
      const list = purchases.get(e.customerId) ?? [];
      list.push({ product: e.props.productId, ts: e.ts });
      purchases.set(e.customerId, list);
    }
    pipeline.handle({ subject: `events.${e.type}`, data: enc.encode(JSON.stringify(e)), streamSeq: ++seq, receivedAt: clock.now() });
    if (++events % 200 === 0) pipeline.derive();
  }
}
pipeline.tick();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

// Scoring against the ground truth: the wave's buyers (bought the product during it).
const earliest = (a: number, b: number) => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b));
const churnAt = (i: number): number => earliest(firstChurnAlert.get(ids[i]) ?? NaN, firstHighRisk[i]);

interface FlagScore {
  flagged: number;
  flaggedInWave: number;
  precision: number;
  recall: number;
  falsePositives: { boughtProductOutsideWave: number; other: number };
  /** Flag to churn risk, wave buyers flagged and not at risk when the wave started (Infinity: risk never rose in the run). */
  leads: number[];
  churnFirst: number;
  neverChurned: number;
  alreadyAtRisk: number;
  /** Flag to the rise the fade brings (from the fade's first day on), wave buyers who fade. */
  fadeLeads: number[];
  fadingFlagged: number;
  /** Flag after the buyer's first wave purchase. */
  detection: number[];
}

/** Scores one flag (its first time per customer from the wave's start on, NaN: never) against the ground truth. */
function scoreFlag(flagAt: (i: number) => number): FlagScore {
  const r: FlagScore = { flagged: 0, flaggedInWave: 0, precision: 0, recall: 0, falsePositives: { boughtProductOutsideWave: 0, other: 0 }, leads: [], churnFirst: 0, neverChurned: 0, alreadyAtRisk: 0, fadeLeads: [], fadingFlagged: 0, detection: [] };
  for (let i = 0; i < ids.length; i++) {
    const f = flagAt(i);
    if (Number.isNaN(f)) continue;
    r.flagged++;
    const buyer = wave.buyers.get(ids[i]);
    if (!buyer) {
      if (boughtProduct.has(ids[i])) r.falsePositives.boughtProductOutsideWave++;
      else r.falsePositives.other++;
      continue;
    }
    r.flaggedInWave++;
    r.detection.push(f - buyer.firstPurchaseTs);
    if (riskAtWaveStart[i]) {
      r.alreadyAtRisk++;
      continue;
    }
    const c = churnAt(i);
    if (Number.isNaN(c)) r.neverChurned++;
    else if (c < f) r.churnFirst++;
    r.leads.push(Number.isNaN(c) ? Infinity : c - f);
    if (buyer.fadeFromDay !== null) {
      r.fadingFlagged++;
      if (!Number.isNaN(firstHighRiskFaded[i])) r.fadeLeads.push(firstHighRiskFaded[i] - f);
    }
  }
  r.precision = r.flagged === 0 ? 0 : r.flaggedInWave / r.flagged;
  r.recall = r.flaggedInWave / wave.buyers.size;
  return r;
}

const configured = scoreFlag((i) => earliest(firstDecline.get(ids[i]) ?? NaN, firstLowIndex[i]));
const byTrend = scoreFlag((i) => firstLowTrend[i]);
/**
 * The product's flag passed on to its buyers: a customer who bought a product within `RECENT_BUYER_MS` before its
 * product_experience_drop fired, or while it fires, is flagged then (not a customer signal: what the product rule
 * already knows, scored the same way for comparison).
 */
const RECENT_BUYER_MS = 14 * DAY_MS;
const byProduct = scoreFlag((i) => {
  let at = NaN;
  for (const buy of purchases.get(ids[i]) ?? []) {
    for (const span of productFirings.get(buy.product) ?? []) {
      if (span.from < waveStartTs || buy.ts < span.from - RECENT_BUYER_MS || buy.ts >= span.to) continue;
      at = earliest(at, Math.max(buy.ts, span.from));
    }
  }
  return at;
});

/** What the churn model alone makes of the wave: its buyers' first churn risk at or over the threshold, after their wave purchase. */
const churnOfBuyers: number[] = [];
const churnOfFading: number[] = [];
let churnOthers = 0;
for (let i = 0; i < ids.length; i++) {
  const c = churnAt(i);
  if (Number.isNaN(c) || riskAtWaveStart[i]) continue;
  const buyer = wave.buyers.get(ids[i]);
  if (!buyer) churnOthers++;
  else {
    churnOfBuyers.push(c - buyer.firstPurchaseTs);
    if (buyer.fadeFromDay !== null) churnOfFading.push(c - buyer.firstPurchaseTs);
  }
}

/** The product flag's lead over the churn model: from its first firing to each wave buyer's churn risk reaching the threshold. */
const productFlag = productAlerts.get(wave.productId);
const productToChurn: number[] = [];
if (productFlag !== undefined) {
  for (let i = 0; i < ids.length; i++) {
    const c = churnAt(i);
    if (wave.buyers.has(ids[i]) && !riskAtWaveStart[i] && !Number.isNaN(c)) productToChurn.push(c - productFlag);
  }
}

const lowest = (pick: (id: string) => boolean) => quartiles(ids.flatMap((id, i) => (pick(id) && !Number.isNaN(lowestIndex[i]) ? [lowestIndex[i]] : [])));
const lowestDefective = lowest((id) => wave.buyers.get(id)?.defective === true);
const lowestOthers = lowest((id) => !wave.buyers.has(id));
const otherProducts = [...productAlerts.keys()].filter((p) => p !== wave.productId);

function quartiles(xs: number[]): { n: number; q1: number; median: number; q3: number } | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  return { n: s.length, q1: q(0.25), median: q(0.5), q3: q(0.75) };
}
const inHours = (x: ReturnType<typeof quartiles>) => x && { n: x.n, q1: x.q1 / HOUR_MS, median: x.median / HOUR_MS, q3: x.q3 / HOUR_MS };
const summary = (r: FlagScore) => ({
  flagged: r.flagged, flaggedInWave: r.flaggedInWave, precision: r.precision, recall: r.recall, falsePositives: r.falsePositives,
  leadHours: inHours(quartiles(r.leads)), churnFirst: r.churnFirst, neverChurnedInRun: r.neverChurned, alreadyAtRiskAtWaveStart: r.alreadyAtRisk,
  fadeLeadHours: inHours(quartiles(r.fadeLeads)), fadingFlagged: r.fadingFlagged, detectionHours: inHours(quartiles(r.detection)),
});

const result = {
  customers, days, seed, waveStartDay: waveStart, waveDays, product: wave.productId, sampleHours: sampleMs / HOUR_MS, churnWeight,
  experienceThreshold, trendFlag, churnThreshold, events, seconds: Math.round(seconds), samples,
  waveBuyers: wave.buyers.size, defective: [...wave.buyers.values()].filter((b) => b.defective).length,
  fading: [...wave.buyers.values()].filter((b) => b.fadeFromDay !== null).length,
  configuredFlag: summary(configured), trendFlagScore: summary(byTrend), productBuyersFlag: summary(byProduct),
  productFlagToBuyersChurnHours: inHours(quartiles(productToChurn)), flaggedBeforeWave: flaggedBefore.size,
  productFlagHoursAfterWaveStart: productFlag === undefined ? null : (productFlag - waveStartTs) / HOUR_MS,
  churnOfBuyersHoursAfterPurchase: inHours(quartiles(churnOfBuyers)), churnOfFadingHoursAfterPurchase: inHours(quartiles(churnOfFading)), churnOthers,
  otherProductsFlagged: otherProducts, waveBuyersEvicted: evicted.size, lowestIndexDefective: lowestDefective, lowestIndexOthers: lowestOthers,
};
if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);

const hours = (ms: number) => (Number.isFinite(ms) ? `${(ms / HOUR_MS).toFixed(0)} h (${(ms / DAY_MS).toFixed(1)} d)` : 'beyond the run');
const spread = (xs: number[]) => {
  const x = quartiles(xs);
  return x ? `${hours(x.median)} [${hours(x.q1)}, ${hours(x.q3)}], n = ${x.n}` : 'none';
};
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const q = (x: ReturnType<typeof quartiles>) => (x ? `${x.median.toFixed(0)} [${x.q1.toFixed(0)}, ${x.q3.toFixed(0)}]` : 'none');
const row = (what: string, f: (r: FlagScore) => string) => console.log(`| ${what} | ${f(configured)} | ${f(byTrend)} | ${f(byProduct)} |`);

console.log(`${customers.toLocaleString('en-US')} customers, ${days} days, seed ${seed}: defect wave on ${wave.productId} from day ${waveStart} for ${waveDays} days; ${events.toLocaleString('en-US')} events in ${seconds.toFixed(0)} s; samples every ${sampleMs / HOUR_MS} h`);
console.log(`churn: risk >= ${churnThreshold} (${churnRule.name}) with signals.experience.churnWeight ${churnWeight}; wave buyers: ${wave.buyers.size} (${result.defective} defective units, ${result.fading} fade later)`);
console.log('');
console.log(`| from the wave's start on | flag: index < ${experienceThreshold} or ${declineRule.name} | flag: experience trend <= -${trendFlag} | flag: bought a product within ${RECENT_BUYER_MS / DAY_MS} days before or while its product_experience_drop fires |`);
console.log('| --- | --- | --- | --- |');
row('lead time, flag to churn risk (median [q1, q3])', (r) => spread(r.leads));
row('of them: churn risk rose first / never rose in the run', (r) => `${r.churnFirst} / ${r.neverChurned}`);
row('already at churn risk when the wave started (left out)', (r) => String(r.alreadyAtRisk));
row('lead time to the rise the fade brings, buyers who fade', (r) => `${spread(r.fadeLeads)} of ${r.fadingFlagged} flagged`);
row("flag after the buyer's first wave purchase", (r) => spread(r.detection));
row('precision (flagged who were wave buyers)', (r) => `${pct(r.precision)} (${r.flaggedInWave} of ${r.flagged})`);
row('recall (wave buyers flagged)', (r) => `${pct(r.recall)} (${r.flaggedInWave} of ${wave.buyers.size})`);
row(`false positives: bought ${wave.productId} outside the wave / not at all`, (r) => `${r.falsePositives.boughtProductOutsideWave} / ${r.falsePositives.other}`);
console.log('');
console.log(`${wave.productId}: product_experience_drop ${productFlag === undefined ? 'never fired' : `fired ${hours(productFlag - waveStartTs)} after the wave start`}; other products that fired it: ${otherProducts.length === 0 ? 'none' : otherProducts.join(', ')}`);
console.log(`from ${wave.productId}'s product_experience_drop to the churn model's risk >= ${churnThreshold}, wave buyers: ${spread(productToChurn)}`);
console.log(`customers under index ${experienceThreshold} or with ${declineRule.name} firing before the wave (${waveStart} calm days): ${flaggedBefore.size}`);
console.log(`the churn model alone, from the wave's start on: wave buyers at risk >= ${churnThreshold} ${churnOfBuyers.length} of ${wave.buyers.size} (${spread(churnOfBuyers)} after their wave purchase; of them fading ${churnOfFading.length} of ${result.fading}), other customers ${churnOthers}`);
console.log(`lowest index from the wave start on, median [q1, q3]: buyers of a defective unit ${q(lowestDefective)}, everyone else ${q(lowestOthers)}`);
console.log(`wave buyers evicted from live state (idle past windows.idleEvictMs) during the run: ${evicted.size}`);
