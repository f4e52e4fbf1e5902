// The wall page matches silences itself (to mark alerts at once): in real Chromium, a regex that backtracks
// catastrophically on 40-character customer ids must not freeze the page, as the page matches on RE2 too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createWallServer } from '../../src/wall/server.js';
import { FakeWallSource } from '../helpers/wallFakeSource.js';
import { buildAlert, buildWallConfig, labelsFor } from '../helpers/wallFixtures.js';

const CATASTROPHIC = '([a-z0-9-]|[a-z0-9-]{2})*!';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('the wall page and a catastrophic silence regex', () => {
  it(
    'shows the silence and its coverage of alerts with 40-character ids without freezing',
    async () => {
      const now = Date.now();
      const alerts = Array.from({ length: 30 }, (_, i) => {
        const subject = { kind: 'customer' as const, key: `${i.toString(36)}-`.padEnd(40, 'a0-b1') };
        return buildAlert({ id: `a-${i}`, fingerprint: `fp-${i}`, subject, labels: labelsFor({ rule: 'customer_churn_risk', severity: 'warning', subject }) });
      });
      const silence = { id: 's-1', matchers: [{ name: 'subject_key', op: '=~' as const, value: CATASTROPHIC }], startsAt: now - 1_000, endsAt: now + 3_600_000, createdBy: 'dana', comment: 'a pattern that backtracks', createdAt: now - 1_000 };
      const source = new FakeWallSource({ alerts, silences: [silence] });
      const wall = createWallServer({ config: buildWallConfig({ transport: 'ws' }), source, logger: silentLogger });
      const port = await wall.listen();
      const page = await browser.newPage();
      try {
        await page.goto(`http://127.0.0.1:${port}/`);
        // A backtracking engine would take tens of seconds per id here, on the page's only thread.
        await page.locator('[data-testid=silence-item]').waitFor({ timeout: 30_000 });
        await page.locator('[data-testid=connection-status][data-state=live]').waitFor({ timeout: 30_000 });
        expect(await page.evaluate(() => 1 + 1, undefined)).toBe(2);
        expect(await page.locator('[data-testid=alert-card][data-silenced=true]').count()).toBe(0);
      } finally {
        await page.close();
        await wall.close();
      }
    },
    120_000,
  );
});
