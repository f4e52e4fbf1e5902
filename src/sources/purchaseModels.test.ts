// The stored-model watch on the manual clock: read at start, again every refreshMs, nothing after stop.
import { describe, expect, it } from 'vitest';
import { settle } from '../../tests/helpers/wait.js';
import { parseConfig } from '../config/load.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/logger.js';
import type { PurchaseModel } from '../signals/churn.js';
import type { ClickHouseClient } from '../sinks/clickhouse/client.js';
import { watchStoredModel } from './purchaseModels.js';

/** model_params as ClickHouse answers it: the newest converged fit, or nothing yet. */
function fakeClickHouse() {
  const db = { reads: 0, fittedS: 0 };
  const ch = {
    database: 'vigil',
    async query() {
      db.reads++;
      if (db.fittedS === 0) return [];
      return [{ model: 'bgnbd', params: JSON.stringify({ r: 0.24, alpha: 4.4, a: 0.79, b: 2.4 }), fitted_s: String(db.fittedS), converged: 1 }];
    },
  };
  return { db, ch: ch as unknown as ClickHouseClient };
}

describe('watchStoredModel', () => {
  it('reads at start and every refreshMs, swaps the model when a newer fit is stored, and stops reading on stop', async () => {
    const config = parseConfig({ signals: { model: { refreshMs: 60_000 } } }).signals.model;
    const clock = new ManualClock(0);
    const { db, ch } = fakeClickHouse();
    const models: string[] = [];
    const target = { model: { name: 'bgnbd-gg:config' } as PurchaseModel, setModel(m: PurchaseModel) { target.model = m; models.push(m.name); } };
    const watch = watchStoredModel({ ch, config, log: silentLogger, target, clock });
    await watch.ready;
    expect(db.reads).toBe(1);
    expect(models).toEqual([]);

    db.fittedS = 1_800_000_000;
    clock.advance(59_999);
    await settle();
    expect(db.reads).toBe(1);
    clock.advance(1);
    await settle();
    expect(db.reads).toBe(2);
    expect(models).toHaveLength(1);
    expect(models[0]).not.toBe('bgnbd-gg:config');

    // The same fit again: read, not swapped.
    clock.advance(60_000);
    await settle();
    expect(db.reads).toBe(3);
    expect(models).toHaveLength(1);

    watch.stop();
    expect(clock.pending()).toBe(0);
    clock.advance(10 * 60_000);
    await settle();
    expect(db.reads).toBe(3);
  });
});
