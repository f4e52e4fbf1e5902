import { beforeAll, describe, expect, it } from 'vitest';
import { cdnowPurchases } from './cdnow.testing.js';
import { COUNT_MODELS, type ModelParams } from './countModels.js';
import { trackingData, trackingSvg, type TrackingData } from './trackingPlot.js';

const PARETO: ModelParams = { r: 0.553, alpha: 10.578, s: 0.606, beta: 11.669 };

/** Well-formed XML, checked by hand: every tag closed in order, attributes quoted, no stray '<' or '&'. */
function wellFormed(xml: string): boolean {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  let roots = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const text = body.slice(i, lt < 0 ? body.length : lt);
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) return false;
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (!m) return false;
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      if (stack.pop() !== name) return false;
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    }
    i = tag.lastIndex;
  }
  return stack.length === 0 && roots === 1;
}

describe('tracking plot on CDNOW (Pareto/NBD, weeks)', () => {
  let data: TrackingData;
  let svg: string;
  const events = cdnowPurchases();
  beforeAll(() => {
    data = trackingData(events, 'pareto_nbd', PARETO, { calibrationEnd: 272 / 7, holdoutEnd: 545 / 7, period: 1 });
    svg = trackingSvg(data, { model: 'Pareto/NBD', unit: 'weeks' });
  });

  it('counts every repeat purchase of the cohort once (CDNOW: 2,457 in calibration, 1,882 in holdout)', () => {
    expect(data.times).toHaveLength(78);
    expect(data.actualCumulative[data.actualCumulative.length - 1]).toBe(2457 + 1882);
    // the split (day 272) falls inside week 39, which also holds 1997-10-01's purchases
    expect(data.actualCumulative[37]).toBeLessThan(2457);
    expect(data.actualCumulative[38]).toBeGreaterThanOrEqual(2457);
  });

  it('predicts the cumulative curve as the model’s E[X(t)] summed over customers from each one’s first purchase', () => {
    const firsts = new Map<string, number>();
    for (const e of events) firsts.set(e.customerId, Math.min(e.time, firsts.get(e.customerId) ?? Infinity));
    for (const k of [5, 38, 77]) {
      const at = data.times[k];
      let sum = 0;
      for (const first of firsts.values()) if (at > first) sum += COUNT_MODELS.pareto_nbd.expectedPurchases(PARETO, at - first, 0, 0, 0);
      expect(data.expectedCumulative[k]).toBeCloseTo(sum, 6);
    }
    // per period is the difference of the cumulative
    expect(data.expectedPerPeriod[10]).toBeCloseTo(data.expectedCumulative[10] - data.expectedCumulative[9], 9);
  });

  it('is a well-formed SVG with the actual and predicted series in both panels and a line at the split', () => {
    expect(wellFormed(svg)).toBe(true);
    for (const series of ['actual-cumulative', 'predicted-cumulative', 'actual-per-period', 'predicted-per-period', 'split']) {
      expect(svg).toContain(`data-series="${series}"`);
    }
    const values = svg.match(/data-series="predicted-cumulative" data-values="([^"]*)"/)![1].split(' ').map(Number);
    expect(values).toHaveLength(78);
    expect(values[38]).toBeCloseTo(data.expectedCumulative[38], 3);
    const points = svg.match(/data-series="predicted-cumulative"[^>]*points="([^"]*)"/)![1].split(' ');
    expect(points).toHaveLength(78);
  });

  it('the checker itself rejects broken XML', () => {
    expect(wellFormed('<svg><g></svg>')).toBe(false);
    expect(wellFormed('<svg><text>a & b</text></svg>')).toBe(false);
    expect(wellFormed('<svg><text>a &amp; b</text></svg>')).toBe(true);
  });
});
