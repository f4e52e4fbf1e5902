import { describe, expect, it } from 'vitest';
import { splitCalibrationHoldout, summarizePurchases, type PurchaseEvent } from './purchaseLog.js';

const purchase = (customerId: string, time: number, value?: number): PurchaseEvent =>
  value === undefined ? { customerId, time } : { customerId, time, value };

describe('summarizePurchases', () => {
  it('counts repeat purchases, recency and age from the first purchase, in any input order', () => {
    const events = [purchase('a', 10, 5), purchase('b', 3), purchase('a', 2, 7), purchase('a', 6, 9)];
    const summaries = summarizePurchases(events, 20);
    expect(summaries).toContainEqual({ customerId: 'a', x: 2, tx: 8, T: 18, mValue: 7 });
    expect(summaries).toContainEqual({ customerId: 'b', x: 0, tx: 0, T: 17 });
  });

  it('merges purchases at the same time into one, adding their values', () => {
    const events = [purchase('a', 1, 10), purchase('a', 4, 3), purchase('a', 4, 5)];
    expect(summarizePurchases(events, 5)).toEqual([{ customerId: 'a', x: 1, tx: 3, T: 4, mValue: 8 }]);
  });

  it('leaves out purchases after the observation end and customers first seen after it', () => {
    const events = [purchase('a', 1), purchase('a', 9), purchase('b', 12)];
    expect(summarizePurchases(events, 5)).toEqual([{ customerId: 'a', x: 0, tx: 0, T: 4 }]);
  });

  it('refuses a non-finite time with MODEL_INPUT_INVALID', () => {
    expect(() => summarizePurchases([purchase('a', Number.NaN)], 5)).toThrow(
      expect.objectContaining({ code: 'MODEL_INPUT_INVALID', message: expect.stringMatching(/non-finite time/) }),
    );
  });
});

describe('splitCalibrationHoldout', () => {
  const events = [
    purchase('a', 0),
    purchase('a', 3),
    purchase('a', 12),
    purchase('a', 15),
    purchase('b', 4),
    purchase('c', 11), // first seen in the holdout: not in the calibration cohort
    purchase('c', 14),
  ];

  it('summarises the calibration cohort up to its end and counts each one’s holdout purchases', () => {
    const split = splitCalibrationHoldout(events, 10, 20);
    expect(split.calibration).toEqual([
      { customerId: 'a', x: 1, tx: 3, T: 10 },
      { customerId: 'b', x: 0, tx: 0, T: 6 },
    ]);
    expect(split.holdoutPurchases).toEqual([2, 0]);
    expect(split.holdoutEnd).toBe(20);
  });

  it('ends the holdout at the last purchase unless told otherwise', () => {
    expect(splitCalibrationHoldout(events, 10).holdoutEnd).toBe(15);
    expect(splitCalibrationHoldout(events, 10, 13).holdoutPurchases).toEqual([1, 0]);
  });

  it('refuses a holdout that does not come after the calibration period', () => {
    expect(() => splitCalibrationHoldout(events, 15)).toThrow(/no holdout period/);
  });
});
