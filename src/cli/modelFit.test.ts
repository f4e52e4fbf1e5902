import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOLDOUT_EXAMPLE, purchaseLogCsv, simulateCustomers, type SimulatedCustomer } from '../signals/models/simulate.js';
import type { ComparisonReport } from './modelComparison.js';
import { fitFromSummaries, runModelFit } from './modelFit.js';
import { inThisThread } from './fitTasks.js';
import { FitThread } from './fitThread.js';
import { fitSegments, type ModelFitSummary } from './modelFitClickHouse.js';
import { COUNT_MODELS } from '../signals/models/countModels.js';

const CDNOW_WEEKS = { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 };
const SPEND = { p: 6.25, q: 3.74, gamma: 15.44 };

/** A --summary CSV of simulated customers, with monetary_value when they have spend. */
function summaryCsv(customers: readonly SimulatedCustomer[], withSpend: boolean): string {
  const header = withSpend ? 'customer_id,frequency,recency,T,monetary_value' : 'customer_id,frequency,recency,T';
  const lines = customers.map((c) => {
    const base = `${c.id},${c.x},${c.tx.toFixed(4)},${c.T.toFixed(4)}`;
    return withSpend ? `${base},${(c.mValue ?? 0).toFixed(2)}` : base;
  });
  return [header, ...lines].join('\n');
}

describe('vigil model fit', () => {
  let dir: string;
  const write = async (name: string, text: string) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const run = async (argv: string[]) => {
    let out = '';
    const code = await runModelFit(argv, { stdout: (s) => (out += s) });
    return { code, out };
  };
  const rejection = async (argv: string[]) => {
    try {
      await run(argv);
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error('runModelFit did not reject');
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-model-fit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--summary prints JSON with both models’ fitted parameters', async () => {
    const customers = simulateCustomers({
      customers: 1500,
      bgNbd: CDNOW_WEEKS,
      gammaGamma: SPEND,
      observationEnd: 78,
      acquisition: [0, 12],
      seed: 31,
    });
    const file = await write('summary.csv', summaryCsv(customers, true));
    const { code, out } = await run(['--summary', file, '--unit', 'weeks']);
    expect(code).toBe(0);
    const result = JSON.parse(out) as ModelFitSummary;
    expect(result.unit).toBe('weeks');
    expect(result.customers).toBe(1500);
    expect(result.bgnbd.converged).toBe(true);
    // a sanity check only: recovery itself is specified in the models' tests
    expect(Math.abs(result.bgnbd.params.r / CDNOW_WEEKS.r - 1)).toBeLessThan(0.25);
    expect(result.gammaGamma?.customers).toBe(customers.filter((c) => c.x > 0).length);
    const { p, q, gamma } = result.gammaGamma?.params ?? { p: 0, q: 0, gamma: 0 };
    expect(Math.abs((p * gamma) / (q - 1) / ((SPEND.p * SPEND.gamma) / (SPEND.q - 1)) - 1)).toBeLessThan(0.15);
  });

  it('--summary without monetary_value fits BG/NBD only, in days by default', async () => {
    const customers = simulateCustomers({ customers: 500, bgNbd: CDNOW_WEEKS, observationEnd: 39, seed: 32 });
    const { out } = await run(['--summary', await write('plain.csv', summaryCsv(customers, false))]);
    const result = JSON.parse(out) as ModelFitSummary;
    expect(result.unit).toBe('days');
    expect(result.gammaGamma).toBeUndefined();
    expect(result).toEqual(fitFromSummaries(customers.map((c) => ({ customerId: c.id, frequency: c.x, recency: Number(c.tx.toFixed(4)), T: Number(c.T.toFixed(4)) }))));
  });

  it('--holdout prints the expected-against-actual table for a dated purchase log', async () => {
    // the CDNOW process in days: rates per day are rates per week / 7
    const customers = simulateCustomers({
      customers: 2000,
      bgNbd: { ...CDNOW_WEEKS, alpha: CDNOW_WEEKS.alpha * 7 },
      gammaGamma: SPEND,
      observationEnd: 546,
      acquisition: [0, 84],
      seed: 33,
      keepPurchases: true,
    });
    const file = await write('log.csv', purchaseLogCsv(customers, '2024-01-01'));
    const { code, out } = await run(['--holdout', file, '--calibration-end', '2024-09-27', '--unit', 'weeks']);
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/purchases by 2000 customers, 2024-01-01 to .*; calibration ends at 2024-09-27$/);
    expect(lines[1]).toMatch(/^BG\/NBD holdout check: calibration up to 38\.\d+, holdout \d+\.\d+ weeks/);
    expect(lines.filter((l) => /^(\d|7\+)\s/.test(l))).toHaveLength(8);
    expect(lines.find((l) => l.startsWith('total'))).toMatch(/^total\s+2000\s/);
    expect(lines.filter((l) => /^expected total is [+-]\d+\.\d% off the actual$/.test(l))).toHaveLength(1);
    // then the three models compared on the same split, with standard errors and example intervals
    const at = lines.findIndex((l) => l.startsWith('Model comparison: fitted on 2000 customers'));
    expect(at).toBeGreaterThan(0);
    for (const label of ['BG/NBD', 'Pareto/NBD', 'MBG/NBD']) expect(lines.slice(at).filter((l) => l.startsWith(label))).toHaveLength(1);
    expect(lines.find((l) => l.startsWith('chosen: '))).toMatch(/^chosen: (BG\/NBD|Pareto\/NBD|MBG\/NBD) \(best holdout log-likelihood/);
    expect(out).toMatch(/ r=\d\.\d+ ±\d/);
    expect(out).toMatch(/P\(alive\) \d\.\d\d, 90 % \d\.\d\d–\d\.\d\d; expected purchases in \d+\.?\d* weeks \d+\.\d\d, 90 % /);
  });

  it('--holdout --json --plot on CDNOW: the comparison as JSON, the tracking plot as SVG', async () => {
    const cdnow = fileURLToPath(new URL('../../tests/fixtures/cdnow/cdnow_sample_log.csv', import.meta.url));
    const plot = join(dir, 'tracking.svg');
    const { code, out } = await run(['--holdout', cdnow, '--calibration-end', '1997-09-30', '--unit', 'weeks', '--json', '--plot', plot]);
    expect(code).toBe(0);
    const { comparison } = JSON.parse(out) as { comparison: ComparisonReport };
    expect(comparison.customers).toBe(2357);
    expect(comparison.models.map((m) => m.model)).toEqual(['bgnbd', 'pareto_nbd', 'mbg_nbd']);
    const pareto = comparison.models.find((m) => m.model === 'pareto_nbd')!;
    expect(pareto.logLikelihood).toBeCloseTo(-9595.0, 0);
    expect(pareto.standardErrors?.r).toBeGreaterThan(0);
    expect(comparison.chosen).toBe('mbg_nbd');
    expect(comparison.examples[0].phrases[0]).toMatch(/^P\(alive\) \d\.\d\d, 90 % /);
    const svg = await readFile(plot, 'utf8');
    expect(svg).toMatch(/^<\?xml[^>]*>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('data-series="predicted-cumulative"');
    expect(svg).toContain('MBG/NBD');
  }, 60_000);

  it('--holdout on the README’s simulated log: the expected total within 10% of the actual, busy groups within 20%', async () => {
    // 8,000 customers; over seeds the total's error has a standard deviation of about 3.5% at this size (holdout.test.ts)
    const file = await write('readme-log.csv', purchaseLogCsv(HOLDOUT_EXAMPLE.simulate(), HOLDOUT_EXAMPLE.startDate));
    const { out } = await run(['--holdout', file, '--calibration-end', HOLDOUT_EXAMPLE.calibrationEnd, '--unit', 'weeks']);
    const error = Number(/expected total is ([+-]\d+\.\d)% off the actual/.exec(out)?.[1]);
    expect(Math.abs(error)).toBeLessThan(10);
    const groups = out.split('\n').filter((l) => /^(\d|7\+)\s/.test(l)).map((l) => l.trim().split(/\s+/).map(Number));
    // columns: frequency, customers, actual/cust, expected/cust, actual, expected
    const busy = groups.filter((g) => g[4] >= 200);
    expect(busy.length).toBeGreaterThanOrEqual(3);
    for (const g of busy) expect(Math.abs(g[5] - g[4]) / g[4]).toBeLessThan(0.2);
  }, 60_000);

  it('refuses data the model cannot fit, naming the problem', async () => {
    const zeros = ['customer_id,frequency,recency,T', ...Array.from({ length: 20 }, (_, i) => `c${i},0,0,30`)].join('\n');
    const err = await rejection(['--summary', await write('zeros.csv', zeros)]);
    expect(err.code).toBe('MODEL_INPUT_INVALID');
    expect(err.message).toMatch(/every frequency is zero/);
  });

  it('names the file, line and column of a value that is not a number', async () => {
    const file = await write('bad.csv', 'customer_id,frequency,recency,T\nc1,2,10,30\nc2,1,ten,30\n');
    expect((await rejection(['--summary', file])).message).toBe(`${file} line 3: recency "ten" is not a number`);
  });

  it('names missing columns', async () => {
    const file = await write('cols.csv', 'customer_id,frequency,T\nc1,2,30\n');
    expect((await rejection(['--summary', file])).message).toMatch(/lacks column recency/);
  });

  it.each([
    [['--summary', 'a.csv', '--holdout', 'b.csv'], /give one of --summary or --holdout, or neither to fit from ClickHouse/],
    [['--summary', 'a.csv', '--min-customers', '50'], /--config, --min-customers, --min-segment-buyers, --holdout-days and --threads are for the fit from ClickHouse/],
    [['--summary', 'a.csv', '--min-segment-buyers', '50'], /--holdout-days and --threads are for the fit from ClickHouse/],
    [['--holdout', 'a.csv', '--threads', '2'], /--threads are for the fit from ClickHouse/],
    [['--threads', '3'], /--threads must be 1 or 2, got "3"/],
    [['--min-segment-buyers', '5'], /--min-segment-buyers must be 0 or a whole number ≥ 10, got "5"/],
    [['--min-customers', '5'], /--min-customers must be a whole number ≥ 10/],
    [['--unit', 'weeks'], /--unit is for --summary and --holdout/],
    [['--summary', 'a.csv', '--unit', 'months'], /--unit must be days or weeks/],
    [['--holdout', 'a.csv'], /--holdout needs --calibration-end/],
    [['--sumary', 'a.csv'], /Unknown option '--sumary'/],
    [['--summary', 'a.csv', '--plot', 'x.svg'], /--json and --plot are for --holdout/],
    [['--json'], /--json and --plot are for --holdout/],
    [['--holdout-days', 'many'], /--holdout-days must be a whole number ≥ 0, got "many"/],
    [['--holdout', 'a.csv', '--holdout-days', '30'], /--holdout-days and --threads are for the fit from ClickHouse/],
    [['--summary', '/nonexistent/x.csv'], /cannot read \/nonexistent\/x.csv/],
  ])('rejects %j with a usage message', async (argv, message) => {
    const err = await rejection(argv);
    expect(err.code).toBe('MODEL_INPUT_INVALID');
    expect(err.message).toMatch(message);
  });

  it('prints usage for --help', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: vigil model fit \[--config FILE\] \[--min-customers N\] \[--min-segment-buyers N\] \[--holdout-days N\] \[--threads 1\|2\] \[--quiet\]\n.*vigil model fit --summary FILE.csv/);
  });
});

describe('fitSegments', () => {
  it('fits each segment with enough buyers on its own customers, leaves the rest (and no segment) to the pooled fit', async () => {
    // two purchase processes: frequent buyers who stay (vip) against the CDNOW one (basic)
    const vip = simulateCustomers({ customers: 1500, bgNbd: { r: 2, alpha: 4, a: 0.3, b: 6 }, observationEnd: 39, acquisition: [0, 12], seed: 7 });
    const basic = simulateCustomers({ customers: 1500, bgNbd: CDNOW_WEEKS, observationEnd: 39, acquisition: [0, 12], seed: 8 });
    const few = simulateCustomers({ customers: 40, bgNbd: CDNOW_WEEKS, observationEnd: 39, seed: 9 });
    const inputs = [
      ...vip.map((c) => ({ segment: 'vip', x: c.x, tx: c.tx, T: c.T })),
      ...basic.map((c) => ({ segment: 'basic', x: c.x, tx: c.tx, T: c.T })),
      ...few.map((c) => ({ segment: 'few', x: c.x, tx: c.tx, T: c.T })),
      ...few.map((c) => ({ segment: '', x: c.x, tx: c.tx, T: c.T })),
    ];
    const { fits, skipped } = await fitSegments(inputs, 1000);
    expect(fits.map((f) => [f.segment, f.customers, f.converged])).toEqual([['vip', 1500, true], ['basic', 1500, true]]);
    expect(skipped).toEqual({ few: '40 buyers, at least 1000 needed (minSegmentBuyers)' });
    // each segment's fit finds its own process: the vip rate r / alpha near 0.5 a week, basic near CDNOW's 0.055
    const rate = (segment: string) => fits.find((f) => f.segment === segment)!.params.r / fits.find((f) => f.segment === segment)!.params.alpha;
    expect(rate('vip')).toBeGreaterThan(0.35);
    expect(rate('vip')).toBeLessThan(0.65);
    expect(rate('basic')).toBeGreaterThan(0.035);
    expect(rate('basic')).toBeLessThan(0.08);
  });

  it('fits the segments with the count model the version scores with', async () => {
    const vip = simulateCustomers({ customers: 600, bgNbd: { r: 2, alpha: 4, a: 0.3, b: 6 }, observationEnd: 39, acquisition: [0, 12], seed: 7 });
    const inputs = vip.map((c) => ({ segment: 'vip', x: c.x, tx: c.tx, T: c.T }));
    const { fits } = await fitSegments(inputs, 500, 'mbg_nbd');
    expect(fits).toHaveLength(1);
    expect(fits[0].model).toBe('mbg_nbd');
    // the same maximum a direct MBG/NBD fit of the segment reaches, with its covariance for the live intervals
    const direct = COUNT_MODELS.mbg_nbd.fit(inputs, { minCustomers: 500 });
    expect(fits[0].logLikelihood).toBeCloseTo(direct.logLikelihood, 6);
    expect(fits[0].logCovariance).toHaveLength(4);
  });

  it('with a second fitting thread, fits the same segments to the same numbers, and reports a failed one as skipped', async () => {
    const simulate = (seed: number, bgNbd: { r: number; alpha: number; a: number; b: number }) => simulateCustomers({ customers: 800, bgNbd, observationEnd: 39, acquisition: [0, 12], seed });
    const inputs = [
      ...simulate(7, { r: 2, alpha: 4, a: 0.3, b: 6 }).map((c) => ({ segment: 'vip', x: c.x, tx: c.tx, T: c.T })),
      ...simulate(8, CDNOW_WEEKS).map((c) => ({ segment: 'basic', x: c.x, tx: c.tx, T: c.T })),
      ...simulate(9, CDNOW_WEEKS).map((c) => ({ segment: 'lapsed', x: 0, tx: 0, T: c.T })),
    ];
    const thread = FitThread.start({ nice: 0 });
    try {
      const [one, two] = [await fitSegments(inputs, 500), await fitSegments(inputs, 500, 'bgnbd', [inThisThread, thread])];
      expect(two.fits.map((f) => f.segment)).toEqual(['vip', 'basic']);
      expect(two.fits).toEqual(one.fits);
      // no repeat buyer in the segment: the fit refuses in the other thread, and its reason comes back with the segment
      expect(two.skipped).toEqual(one.skipped);
      expect(two.skipped.lapsed).toMatch(/every frequency is zero/);
    } finally {
      await thread.close();
    }
  });
});
