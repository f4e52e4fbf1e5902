// The wall page in real headless Chromium against a fake source: numbers from the snapshot, a pushed alert,
// acknowledging it with a click, the stale marker and the disconnected banner. Leaves screenshots in tests/artifacts/.
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { createWallServer } from '../../src/wall/server.js';
import { silentLogger } from '../../src/shared/logger.js';
import { FakeWallSource } from '../helpers/wallFakeSource.js';
import { buildAlert, buildExperienceCell, buildStats, buildWallConfig, demoScene, experienceScene, labelsFor } from '../helpers/wallFixtures.js';

const RESPONDER = 'responder-token-0001';
const VIEWER = 'viewer-token-0001';
const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: 3 });

let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

async function openWall(page: Page, url: string): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(url);
  await page.locator('[data-testid=connection-status][data-state=live]').waitFor({ timeout: 10_000 });
  return errors;
}

/** What staleness must not change: the body's shape and where the panels sit. */
async function layoutOf(page: Page): Promise<Record<string, unknown>> {
  // A string, evaluated in the page: this file is compiled without the DOM's types.
  return page.evaluate(`(() => {
    const body = getComputedStyle(document.body);
    const box = (selector) => {
      const r = document.querySelector(selector)?.getBoundingClientRect();
      return r ? [Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)] : null;
    };
    return {
      bodyRadius: body.borderRadius,
      bodyBackground: body.backgroundColor,
      bodyPadding: body.padding,
      tiles: box('.tiles'),
      wall: box('main.wall'),
      header: box('header.top'),
      experience: box('.experience'),
    };
  })()`);
}

describe.each(['uws', 'ws'] as const)('the wall page over %s', (transport) => {
  it('shows the snapshot, a pushed alert, an acknowledgement, staleness and disconnection', async () => {
    const scene = demoScene();
    const source = new FakeWallSource(scene);
    const wall = createWallServer({
      config: buildWallConfig({ transport, tokens: { viewer: [VIEWER], responder: [RESPONDER] } }),
      source,
      logger: silentLogger,
    });
    const port = await wall.listen();
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    try {
      const errors = await openWall(page, `http://127.0.0.1:${port}/?token=${RESPONDER}&by=dana`);

      // Header tiles carry the snapshot's numbers.
      const eps = page.getByTestId('tile-events-per-sec');
      await page.locator(`[data-testid=tile-events-per-sec][data-value="${scene.stats.eventsPerSec}"]`).waitFor();
      expect(await eps.locator('.tile-value').textContent()).toBe(compact.format(scene.stats.eventsPerSec));
      expect(await page.getByTestId('tile-active-customers').getAttribute('data-value')).toBe(String(scene.stats.activeCustomers));
      expect(await page.getByTestId('tile-rejected').locator('.tile-value').textContent()).toBe(scene.stats.rejectedTotal.toLocaleString('en-US'));
      expect(await page.getByTestId('tile-lag').getAttribute('data-value')).toBe(String(scene.stats.lagMs));
      expect(await page.getByTestId('tile-clickhouse-buffer').getAttribute('data-value')).toBe(String(scene.stats.clickhouseBufferedRows));
      // The churn model: the version scoring, its fit date, the holdout's choice and the last refit's drift.
      const model = page.getByTestId('tile-model');
      expect(await model.getAttribute('data-value')).toBe(scene.stats.model!.version);
      expect(await model.getAttribute('data-drift')).toBe('drifted');
      expect(await model.locator('.tile-value').textContent()).toBe('11-23 06:00UTC');
      expect(await model.locator('.tile-sub').textContent()).toBe('chose Pareto/NBD; drift: r 0.243 → 0.610 (+151 %, limit ±50 %)');
      expect(await model.getAttribute('class')).toContain('level-warning');
      expect(await page.getByTestId('role').textContent()).toBe('responder');

      // Lists: at-risk customers with risk as a percentage, the overload table coloured by surge, the alert feed.
      const riskRows = page.getByTestId('at-risk-row');
      expect(await riskRows.count()).toBe(scene.atRisk.length);
      expect(await riskRows.first().getByTestId('at-risk-customer').textContent()).toBe(scene.atRisk[0].customerId);
      expect(await riskRows.first().getByTestId('at-risk-pct').textContent()).toBe(`${Math.round(scene.atRisk[0].risk * 100)}%`);
      // how sure: the value at risk's 90 % interval under the value, P(alive)'s in the risk cell's tooltip; none without
      const sure = scene.atRisk[0].intervals!;
      expect(await riskRows.first().getByTestId('at-risk-value-range').textContent()).toBe(`90 % ${sure.valueAtRisk!.lower.toLocaleString('en-US')}–${sure.valueAtRisk!.upper.toLocaleString('en-US')}`);
      expect(await riskRows.first().locator('td.num').first().getAttribute('title')).toContain(`P(alive) ${sure.pAlive.estimate.toFixed(2)}, 90 % ${sure.pAlive.lower.toFixed(2)}–${sure.pAlive.upper.toFixed(2)}`);
      expect(scene.atRisk[2].intervals).toBeUndefined();
      expect(await riskRows.nth(2).getByTestId('at-risk-value-range').isHidden()).toBe(true);
      expect(await riskRows.nth(2).getByTestId('at-risk-value-range').textContent()).toBe('');
      expect(await riskRows.nth(2).locator('td.num').first().getAttribute('title')).toBe('');
      expect(await page.getByTestId('overload-row').count()).toBe(scene.overload.length);
      expect(await page.locator('[data-testid=overload-row][data-key="campaign:spring-sale"] [data-testid=overload-surge]').getAttribute('data-level')).toBe('critical');
      // what the contact budget held back, of the sends it was asked about; a dash where no sender asks
      const heldBack = page.locator('[data-testid=overload-row][data-key="campaign:spring-sale"] [data-testid=overload-held-back]');
      expect(await heldBack.textContent()).toBe('312');
      expect(await heldBack.getAttribute('title')).toBe('312 of 1,200 checked: email 300, push 12');
      expect(await page.locator('[data-testid=overload-row][data-key="channel:sms"] [data-testid=overload-held-back]').textContent()).toBe('–');
      expect(await page.getByTestId('alert-card').count()).toBe(scene.alerts.length);
      await expect.poll(() => page.locator('#chart-events canvas').count()).toBeGreaterThan(0);

      // An alert pushed by the source appears in the feed, worst first.
      source.push({
        type: 'alert',
        alert: buildAlert({
          id: 'a-new',
          rule: 'campaign_negative_surge',
          severity: 'critical',
          subject: { kind: 'campaign', key: 'winback-q2' },
          value: 7.2,
          threshold: 4,
          reasons: ['complaints ×7 baseline in 10 min'],
          summary: 'Complaints on winback-q2 are surging',
          startsAt: Date.now() - 4_000,
        }),
      });
      const card = page.locator('[data-testid=alert-card][data-alert-id="a-new"]');
      await card.waitFor();
      expect(await card.getByTestId('alert-state').textContent()).toBe('firing');

      // Acknowledge: the click reaches the source, and the feed shows who acknowledged.
      await card.getByTestId('alert-ack-button').click();
      await expect.poll(() => source.acknowledgements).toContainEqual({ alertId: 'a-new', by: 'dana' });
      await card.getByTestId('alert-acknowledged').filter({ hasText: 'Acknowledged by dana' }).waitFor();
      expect(await card.getByTestId('alert-ack-button').isVisible()).toBe(false);

      await page.mouse.move(0, 0);
      await page.screenshot({ path: new URL(`wall-${transport}.png`, ARTIFACTS).pathname });

      // Nothing arrives for a few seconds: the page says its numbers are stale, and recovers on the next frame.
      const liveLayout = await layoutOf(page);
      await page.getByTestId('stale-marker').waitFor({ state: 'visible', timeout: 10_000 });
      // Stale dims the numbers and nothing else: the page keeps its shape (the body once took the pill's style).
      expect(await page.evaluate("document.body.classList.contains('stale')")).toBe(true);
      expect(await layoutOf(page)).toEqual(liveLayout);
      await page.screenshot({ path: new URL(`wall-${transport}-stale.png`, ARTIFACTS).pathname });
      source.push({ type: 'stats', stats: buildStats({ ...scene.stats, ts: Date.now(), eventsPerSec: 12_345 }) });
      await page.locator('[data-testid=tile-events-per-sec][data-value="12345"]').waitFor();
      await page.getByTestId('stale-marker').waitFor({ state: 'hidden' });

      // The server goes away: the disconnected banner shows, and the page keeps trying.
      expect(await page.getByTestId('banner-disconnected').isVisible()).toBe(false);
      await wall.close();
      await page.getByTestId('banner-disconnected').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.getByTestId('connection-status').getAttribute('data-state')).toBe('offline');
      await page.screenshot({ path: new URL(`wall-${transport}-disconnected.png`, ARTIFACTS).pathname });
      // Refused reconnects show up as console errors in Chromium; only page errors before the close count.
      expect(errors.filter((message) => !message.includes('WebSocket'))).toEqual([]);
    } finally {
      await page.close();
      await wall.close();
    }
  });

  it('shows a viewer the feed without Acknowledge buttons', async () => {
    const source = new FakeWallSource(demoScene());
    const wall = createWallServer({
      config: buildWallConfig({ transport, tokens: { viewer: [VIEWER], responder: [RESPONDER] } }),
      source,
      logger: silentLogger,
    });
    const port = await wall.listen();
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    try {
      await openWall(page, `http://127.0.0.1:${port}/?token=${VIEWER}`);
      await page.getByTestId('alert-card').first().waitFor();
      expect(await page.getByTestId('role').textContent()).toBe('viewer');
      expect(await page.locator('[data-testid=alert-ack-button]:visible').count()).toBe(0);
      // No empty button row either: only acknowledged alerts keep a footer, to say by whom.
      expect(await page.locator('[data-alert-id="a-channel-sms-surge"] .alert-foot').isVisible()).toBe(false);
      expect(await page.locator('[data-alert-id="a-customer-c-104823"] [data-testid=alert-acknowledged]').textContent()).toContain('maria');
      await page.screenshot({ path: new URL(`wall-${transport}-viewer-laptop.png`, ARTIFACTS).pathname });
    } finally {
      await page.close();
      await wall.close();
    }
  });
});

describe('the alert feed under a storm of customer alerts', () => {
  it('groups them by rule and campaign, with the processor\'s totals, and silences or acknowledges a group from its card', async () => {
    const now = Date.now();
    const campaignAlert = buildAlert({ id: 'a-camp', rule: 'campaign_overload', severity: 'critical', subject: { kind: 'campaign', key: 'spring-sale' }, value: 312, threshold: 50 });
    const tired = Array.from({ length: 5 }, (_, i) => {
      const base = { rule: 'customer_contact_fatigue', severity: 'warning' as const, subject: { kind: 'customer' as const, key: `c-${100 + i}` } };
      return buildAlert({ ...base, id: `a-tired-${i}`, value: 2 + i / 10, threshold: 1.5, labels: labelsFor(base, { campaign: 'spring-sale', channel: 'email' }), startsAt: now - i * 1_000 });
    });
    const lonely = buildAlert({ id: 'a-lonely', rule: 'customer_churn_risk', subject: { kind: 'customer', key: 'c-900' } });
    // The processor counts 312 tired customers in spring-sale; this screen holds only five of them.
    const stats = buildStats({
      alerts: {
        firing: 314,
        pending: 0,
        acknowledged: 0,
        silenced: 0,
        unattended: 314,
        customerGroups: [{ rule: 'customer_contact_fatigue', campaign: 'spring-sale', firing: 312, pending: 0, acknowledged: 0, silenced: 0 }],
      },
    });
    const source = new FakeWallSource({ stats, alerts: [campaignAlert, ...tired, lonely], experience: experienceScene() });
    const wall = createWallServer({ config: buildWallConfig({ tokens: { viewer: [VIEWER], responder: [RESPONDER] } }), source, logger: silentLogger });
    const port = await wall.listen();
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    try {
      const errors = await openWall(page, `http://127.0.0.1:${port}/?token=${RESPONDER}&by=lee`);
      const group = page.getByTestId('alert-group');
      await group.waitFor();
      expect(await group.count()).toBe(1);
      // The campaign alert and the lone churn alert keep their own cards; the five tired customers are one card.
      expect(await page.getByTestId('alert-card').count()).toBe(2);
      expect(await page.locator('#alert-feed > *').first().getAttribute('data-alert-id')).toBe('a-camp');
      expect(await group.getByTestId('alert-group-count').textContent()).toBe('312 customers');
      expect(await group.getByTestId('alert-group-title').textContent()).toBe('customer contact fatigue · campaign spring-sale');
      expect(await group.getByTestId('alert-group-summary').textContent()).toBe('312 firing · 5 listed here');
      expect(await page.getByTestId('alert-counts').textContent()).toBe('314 firing · 0 pending');

      await group.getByTestId('alert-group-toggle').click();
      // The toggle re-renders on the next animation frame: wait for it rather than race it.
      await expect.poll(() => group.getByTestId('alert-member').count()).toBe(5);
      await group.getByTestId('alert-group-ack').click();
      await expect.poll(() => source.acknowledgements.map((a) => a.alertId).sort()).toEqual(tired.map((a) => a.id).sort());

      await group.getByTestId('alert-group-silence').click();
      const dialog = page.getByTestId('silence-dialog');
      expect(await dialog.getByTestId('silence-matcher-alertname').isChecked()).toBe(true);
      expect(await dialog.getByTestId('silence-matcher-campaign').isChecked()).toBe(true);
      expect(await dialog.getByTestId('silence-preview').getAttribute('data-count')).toBe('5');
      await dialog.getByTestId('silence-comment').fill('spring-sale send paused at 14:05');
      await dialog.getByTestId('silence-submit').click();
      await dialog.waitFor({ state: 'hidden' });
      expect(source.silenceRequests).toEqual([
        expect.objectContaining({
          matchers: [
            { name: 'alertname', op: '=', value: 'customer_contact_fatigue' },
            { name: 'campaign', op: '=', value: 'spring-sale' },
          ],
          createdBy: 'lee',
          comment: 'spring-sale send paused at 14:05',
        }),
      ]);
      const request = source.silenceRequests[0];
      expect(request.endsAt - request.startsAt).toBeGreaterThan(2 * 3_600_000 - 60_000);
      expect(request.endsAt - request.startsAt).toBeLessThan(2 * 3_600_000 + 60_000);

      // Every listed member is marked silenced, the lone churn alert is not, and the list says what the silence covers.
      await group.locator('[data-testid=alert-member].silenced').nth(4).waitFor();
      expect(await page.locator('[data-alert-id="a-lonely"]').getAttribute('data-silenced')).toBe('false');
      const item = page.getByTestId('silence-item');
      await item.waitFor();
      expect(await item.getByTestId('silence-meta').textContent()).toMatch(/^lee · ends in (1h 59m|2h 00m) .* · covers 312 alerts$/);
      // The storm stays in the feed: the experience panel keeps its rows and its place.
      expect(await page.getByTestId('experience-row').count()).toBe(experienceScene().length);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: new URL('wall-grouped.png', ARTIFACTS).pathname });

      await item.getByTestId('silence-expire').click();
      await page.locator('[data-testid=silence-item][data-state=expired]').waitFor();
      expect(await group.locator('[data-testid=alert-member].silenced').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await wall.close();
    }
  });
});

/** The experience rows as the page shows them: key, index, its level, the trend and its direction, volume, reason. */
async function experienceRows(page: Page, list: 'products' | 'segments'): Promise<string[][]> {
  const rows = page.getByTestId(`experience-${list}`).getByTestId('experience-row');
  const out: string[][] = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    const text = async (id: string) => (await row.getByTestId(id).textContent()) ?? '';
    out.push([
      await text('experience-key'),
      await text('experience-index'),
      (await row.getByTestId('experience-index').getAttribute('data-level')) ?? '',
      await text('experience-trend'),
      (await row.getByTestId('experience-trend').getAttribute('data-direction')) ?? '',
      await text('experience-volume'),
      await text('experience-reason'),
    ]);
  }
  return out;
}

/** Whether two panels overlap on screen (they share more than their borders). */
const overlaps = (a: number[], b: number[]) => a[0] < b[0] + b[2] - 1 && b[0] < a[0] + a[2] - 1 && a[1] < b[1] + b[3] - 1 && b[1] < a[1] + a[3] - 1;

describe('the brand experience panel', () => {
  it('shows the worst products and segments with index, trend, volume and reason, follows experience frames, and keeps them when stale or offline', async () => {
    const scene = demoScene();
    const source = new FakeWallSource(scene);
    const wall = createWallServer({ config: buildWallConfig({ tokens: { viewer: [VIEWER], responder: [RESPONDER] } }), source, logger: silentLogger });
    const port = await wall.listen();
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    try {
      const errors = await openWall(page, `http://127.0.0.1:${port}/?token=${VIEWER}`);
      await page.getByTestId('experience-row').first().waitFor();
      // Worst first within each kind; below 35 critical, below 50 warning; the arrow by the trend's sign.
      expect(await experienceRows(page, 'products')).toEqual([
        ['sku-blender-x200', '22', 'critical', '▼ 24.3', 'down', '212', '14 refunds in 7 days; rated 1.8 by 212; 9 defects reported'],
        ['sku-kettle-k7', '41', 'warning', '▼ 6.8', 'down', '96', '5 returns in 7 days; 3 deliveries delayed'],
        ['sku-toaster-t1', '49', 'warning', '→ 0.6', 'flat', '310', 'rated 3.1 by 310'],
        ['sku-grinder-g3', '58', 'ok', '▲ 1.9', 'up', '88', 'rated 4.2 by 88'],
        ['sku-mixer-m5', '66', 'ok', '→ 0.3', 'flat', '140', 'rated 4.5 by 140'],
        ['sku-press-p9', '72', 'ok', '▲ 3.4', 'up', '52', 'rated 4.7 by 52; 2 tickets resolved in under 1 h'],
      ]);
      expect((await experienceRows(page, 'segments')).map((r) => r.slice(0, 6))).toEqual([
        ['kitchen-enthusiasts', '34', 'critical', '▼ 14.1', 'down', '4,820'],
        ['new-customers', '45', 'warning', '▼ 5.2', 'down', '12.4K'],
        ['vip', '52', 'ok', '▼ 1.1', 'down', '2,310'],
        ['regular', '58', 'ok', '→ 0.2', 'flat', '88.1K'],
      ]);
      expect(await page.getByTestId('experience-count').textContent()).toBe('2 below 35');
      const blender = page.locator('[data-testid=experience-products] [data-key="product:sku-blender-x200"]');
      expect(await blender.getByTestId('experience-trend').getAttribute('title')).toBe('−24.3 index points against its own baseline');
      // The bar is as long as the index.
      const [fill, track] = await Promise.all([blender.locator('.bar > i').boundingBox(), blender.locator('.bar').boundingBox()]);
      expect(fill!.width / track!.width).toBeCloseTo(0.216, 2);

      // The panel has its own place: it overlaps neither the charts, the lists nor the alert feed.
      const boxes = (await page.evaluate(`(() => Object.fromEntries(['.experience', '.chart-events', '.chart-lag', '.risk', '.overload', '.side'].map((s) => {
        const r = document.querySelector(s).getBoundingClientRect();
        return [s, [r.x, r.y, r.width, r.height]];
      })))()`)) as Record<string, number[]>;
      for (const other of ['.chart-events', '.chart-lag', '.risk', '.overload', '.side']) expect(overlaps(boxes['.experience'], boxes[other]), other).toBe(false);
      expect(boxes['.experience'][3]).toBeGreaterThan(150);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: new URL('wall-experience.png', ARTIFACTS).pathname });

      // An experience frame replaces the table: a new defect tops the products, the blender recovers.
      source.push({
        type: 'experience',
        experience: [
          ...scene.experience.filter((c) => c.key !== 'sku-blender-x200'),
          buildExperienceCell({ kind: 'product', key: 'sku-airfryer-a2', index: 12.4, trend: -31, volume: 1_480, reason: '31 defects reported in 2 days' }),
          buildExperienceCell({ kind: 'product', key: 'sku-blender-x200', index: 55, trend: 4.2, volume: 230, reason: 'rated 3.9 by 230' }),
        ],
      });
      await page.locator('[data-testid=experience-products] [data-testid=experience-row]').first().and(page.locator('[data-key="product:sku-airfryer-a2"]')).waitFor();
      expect((await experienceRows(page, 'products')).find((r) => r[0] === 'sku-blender-x200')).toEqual(['sku-blender-x200', '55', 'ok', '▲ 4.2', 'up', '230', 'rated 3.9 by 230']);
      expect(await page.getByTestId('experience-count').textContent()).toBe('2 below 35');

      // No frame for a while: stale; the panel keeps its rows and its place.
      const liveLayout = await layoutOf(page);
      await page.getByTestId('stale-marker').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await layoutOf(page)).toEqual(liveLayout);
      expect(await page.getByTestId('experience-row').count()).toBe(scene.experience.length + 1);
      await page.screenshot({ path: new URL('wall-experience-stale.png', ARTIFACTS).pathname });

      // The server goes away: the last known experience stays under the banner.
      await wall.close();
      await page.getByTestId('banner-disconnected').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.getByTestId('experience-row').count()).toBe(scene.experience.length + 1);
      await page.screenshot({ path: new URL('wall-experience-offline.png', ARTIFACTS).pathname });
      expect(errors.filter((message) => !message.includes('WebSocket'))).toEqual([]);
    } finally {
      await page.close();
      await wall.close();
    }
  });

  it('says so when nothing is measured yet, and fits a laptop screen', async () => {
    const source = new FakeWallSource({ ...demoScene(), experience: [] });
    const wall = createWallServer({ config: buildWallConfig({ tokens: { viewer: [VIEWER], responder: [RESPONDER] } }), source, logger: silentLogger });
    const port = await wall.listen();
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    try {
      const errors = await openWall(page, `http://127.0.0.1:${port}/?token=${VIEWER}`);
      await page.getByTestId('alert-card').first().waitFor();
      expect(await page.getByTestId('experience-row').count()).toBe(0);
      expect(await page.locator('#experience-products-empty').isVisible()).toBe(true);
      expect(await page.locator('#experience-segments-empty').isVisible()).toBe(true);
      expect(await page.getByTestId('experience-count').textContent()).toBe('');
      // Segments only (a processor whose events name no product): the products side still says so.
      source.push({ type: 'experience', experience: experienceScene().filter((c) => c.kind === 'segment') });
      await page.getByTestId('experience-row').first().waitFor();
      expect(await page.locator('#experience-products-empty').isVisible()).toBe(true);
      expect(await page.locator('#experience-segments-empty').isVisible()).toBe(false);
      // One screen without scrolling, as on the big wall.
      expect(await page.evaluate('document.documentElement.scrollHeight <= window.innerHeight')).toBe(true);
      await page.mouse.move(0, 0);
      await page.screenshot({ path: new URL('wall-experience-laptop.png', ARTIFACTS).pathname });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await wall.close();
    }
  });
});

describe("an alert's link (Alertmanager's generatorURL)", () => {
  it('opens the wall filtered to that alert, with a way back to all of them', async () => {
    const scene = demoScene();
    const source = new FakeWallSource({ ...scene, alerts: scene.alerts.map((a) => ({ ...a, fingerprint: `fp-${a.id}` })) });
    const wall = createWallServer({ config: buildWallConfig({ tokens: { viewer: [VIEWER], responder: [RESPONDER] } }), source, logger: silentLogger });
    const port = await wall.listen();
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    try {
      const errors = await openWall(page, `http://127.0.0.1:${port}/?token=${VIEWER}&alert=fp-a-channel-sms-surge`);
      await page.getByTestId('alert-card').first().waitFor();
      expect(await page.getByTestId('alert-card').count()).toBe(1);
      expect(await page.locator('[data-alert-id="a-channel-sms-surge"]').count()).toBe(1);
      expect(await page.getByTestId('alert-filter').isVisible()).toBe(true);
      expect(await page.getByTestId('alert-filter').locator('a').getAttribute('href')).toBe(`?token=${VIEWER}`);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await wall.close();
    }
  });
});
