// Brand experience end to end on the real services: experience events published to NATS reach a processor, which
// writes experience_snapshots rows for the customers, the product and the segment, and the wall's Brand experience
// panel in headless Chromium shows the product with the defect worst; an erasure then removes the customer's own rows
// and leaves the product's. Screenshot in tests/artifacts/.
import { mkdirSync } from 'node:fs';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import type { VigilConfig } from '../../src/config/schema.js';
import { startProcessor, type RunningProcessor } from '../../src/runtime/processor.js';
import { OffsetClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/shared/logger.js';
import { eventually } from '../helpers/clickhouse.js';
import { chQuery, cleanUp, isolatedConfig, natsConnection } from '../helpers/processor.js';

const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const enc = new TextEncoder();
const DEFECT = 'sku-e2e-defect';
const FINE = 'sku-e2e-fine';

interface Row {
  scope: string;
  key: string;
  segment: string;
  experience_index: number;
  volume: number;
  reasons: string[];
}

describe('brand experience from NATS to ClickHouse and the wall', () => {
  let browser: Browser;
  let config: VigilConfig;
  let nc: NatsConnection;
  let processor: RunningProcessor | null = null;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Frequent checkpoints: the erasure at the end is carried out at the next one. A checkpoint bucket of its own.
    const base = isolatedConfig({ processor: { checkpointIntervalMs: 300 } });
    config = { ...base, processor: { ...base.processor, checkpointBucket: `cp_${base.nats.consumer}` } };
    nc = await natsConnection();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await processor?.stop();
    await cleanUp(config, nc);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(`OBJ_${config.processor.checkpointBucket}`).catch(() => undefined);
    await nc.close();
  });

  const publish = (ev: Record<string, unknown>) => nc.publish(`${config.nats.subjectPrefix}.${String(ev.type)}`, enc.encode(JSON.stringify(ev)));
  const rows = (where: string) =>
    chQuery<Row>(`SELECT scope, key, segment, experience_index, volume, reasons FROM ${config.clickhouse.database}.experience_snapshots FINAL WHERE ${where} ORDER BY ts_ms DESC`);

  it('turns defects, refunds and bad ratings of one product into its rows and the panel, worst first; erasure keeps the product', async () => {
    // Product and segment rows go out once a wall-clock minute: the processor's clock is moved a minute on once every
    // event is in, instead of the test waiting for the next minute (its timers stay the real ones).
    const clock = new OffsetClock();
    processor = await startProcessor({ config, logger: silentLogger, clock });
    const t0 = Date.now() - 60_000;
    // Twelve kitchen customers buy the defective product and report it; ten others buy a fine one and rate it well.
    for (let i = 0; i < 12; i++) {
      const who = `exp-e2e-bad-${i}`;
      const at = t0 + i * 1_000;
      const base = { customerId: who, segment: 'kitchen', channel: 'web' };
      publish({ ...base, id: `${who}-buy`, type: 'purchase', ts: at, value: 80, props: { productId: DEFECT } });
      publish({ ...base, id: `${who}-defect`, type: 'defect_reported', ts: at + 100, props: { productId: DEFECT } });
      publish({ ...base, id: `${who}-refund`, type: 'refund', ts: at + 200, value: 80, props: { productId: DEFECT } });
      publish({ ...base, id: `${who}-rate`, type: 'product_rating', ts: at + 300, props: { productId: DEFECT, rating: 1 } });
      publish({ ...base, id: `${who}-ticket`, type: 'support_ticket', ts: at + 400, props: { ticketId: `t-${i}` } });
    }
    for (let i = 0; i < 10; i++) {
      const who = `exp-e2e-good-${i}`;
      const at = t0 + i * 1_000 + 500;
      const base = { customerId: who, segment: 'garden', channel: 'web' };
      publish({ ...base, id: `${who}-buy`, type: 'purchase', ts: at, value: 30, props: { productId: FINE } });
      publish({ ...base, id: `${who}-rate`, type: 'product_rating', ts: at + 100, props: { productId: FINE, rating: 5 } });
    }
    await nc.flush();
    await eventually('every event stored', async () => (await chQuery(`SELECT count() AS n FROM ${config.clickhouse.database}.events FINAL WHERE customer_id LIKE 'exp-e2e-%'`))[0].n === '80', 20_000);
    clock.set(60_000);

    // ClickHouse: the product's row, below neutral, with reasons that name the counts; the fine product above it;
    // the segment; and a row of each customer in the wave, keyed by the customer and carrying their segment.
    await eventually('the defective product\'s row', async () => (await rows(`scope = 'product' AND key = '${DEFECT}'`)).length > 0, 20_000);
    await eventually('the fine product\'s row', async () => (await rows(`scope = 'product' AND key = '${FINE}'`)).length > 0, 20_000);
    const [defect] = await rows(`scope = 'product' AND key = '${DEFECT}'`);
    const [fine] = await rows(`scope = 'product' AND key = '${FINE}'`);
    expect(defect.experience_index, JSON.stringify(defect)).toBeLessThan(50);
    expect(fine.experience_index, JSON.stringify(fine)).toBeGreaterThan(defect.experience_index);
    expect(defect.reasons.length).toBeGreaterThan(0);
    await eventually('the kitchen segment\'s row', async () => (await rows(`scope = 'segment' AND key = 'kitchen'`)).length > 0, 20_000);
    await eventually('a row for every wave customer', async () => (await chQuery(`SELECT DISTINCT key FROM ${config.clickhouse.database}.experience_snapshots WHERE scope = 'customer' AND key LIKE 'exp-e2e-bad-%'`)).length === 12, 20_000);
    const [customer] = await rows(`scope = 'customer' AND key = 'exp-e2e-bad-0'`);
    expect(customer).toMatchObject({ segment: 'kitchen' });
    expect(customer.experience_index).toBeLessThan(50);

    // The wall: the defective product tops the products, below the fine one, with its reason.
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    try {
      await page.goto(`http://127.0.0.1:${processor.wallPort}/`);
      await page.locator('[data-testid=connection-status][data-state=live]').waitFor({ timeout: 10_000 });
      const products = page.getByTestId('experience-products').getByTestId('experience-row');
      await page.locator(`[data-testid=experience-products] [data-key="product:${DEFECT}"]`).waitFor({ timeout: 15_000 });
      await page.locator(`[data-testid=experience-products] [data-key="product:${FINE}"]`).waitFor({ timeout: 15_000 });
      expect(await products.first().getAttribute('data-key')).toBe(`product:${DEFECT}`);
      const shown = page.locator(`[data-testid=experience-products] [data-key="product:${DEFECT}"]`);
      expect(['critical', 'warning']).toContain(await shown.getByTestId('experience-index').getAttribute('data-level'));
      expect(await shown.getByTestId('experience-reason').textContent()).not.toBe('');
      await page.locator('[data-testid=experience-segments] [data-key="segment:kitchen"]').waitFor({ timeout: 15_000 });
      await page.mouse.move(0, 0);
      await page.screenshot({ path: new URL('wall-experience-e2e.png', ARTIFACTS).pathname });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }

    // Erasure: the customer's own rows go at the next checkpoint; the product's and the segment's stay.
    publish({ id: 'exp-e2e-erase', customerId: 'exp-e2e-bad-0', type: 'erase_request', ts: Date.now(), props: { requestedBy: 'privacy-desk' } });
    await nc.flush();
    await eventually('the erasure\'s audit row', async () => (await chQuery(`SELECT 1 FROM ${config.clickhouse.database}.erasure_audit WHERE request_id = 'exp-e2e-erase'`)).length === 1, 30_000);
    const [audit] = await chQuery<{ tables: string[]; rows: string[] }>(`SELECT tables, rows FROM ${config.clickhouse.database}.erasure_audit WHERE request_id = 'exp-e2e-erase'`);
    expect(Number(audit.rows[audit.tables.indexOf('experience_snapshots')])).toBeGreaterThan(0);
    expect(await rows(`scope = 'customer' AND key = 'exp-e2e-bad-0'`)).toEqual([]);
    expect((await rows(`scope = 'product' AND key = '${DEFECT}'`)).length).toBeGreaterThan(0);
    expect((await rows(`scope = 'customer' AND key = 'exp-e2e-bad-1'`)).length).toBeGreaterThan(0);
  });
});
