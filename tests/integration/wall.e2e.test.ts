// The wall end to end with the real processor, in headless Chromium: events published to NATS make an alert appear
// on the page; a click acknowledges it and a second browser sees that; a silence made on the page shows in the second
// browser; the processor is stopped and started again on the same port and the same Redis keys, both pages reconnect
// by themselves and still show the acknowledgement and the silence; expiring it from the page unmarks the alert.
// Screenshots go to tests/artifacts/.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Locator, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import type { NatsConnection } from 'nats';
import type { VigilConfig } from '../../src/config/schema.js';
import type { RunningProcessor } from '../../src/runtime/processor.js';
import { cleanUp, isolatedConfig, natsConnection, startTestProcessor } from '../helpers/processor.js';

const RESPONDER = 'responder-token-e2e-0001';
const VIEWER = 'viewer-token-e2e-0001';
const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const enc = new TextEncoder();

/** A port that was free a moment ago: both processor runs bind it, because the pages reconnect to the same URL. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the wall with the real processor, in Chromium', () => {
  let browser: Browser;
  let config: VigilConfig;
  let nc: NatsConnection;
  let processor: RunningProcessor | null = null;
  let port: number;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    port = await freePort();
    config = isolatedConfig({ wall: { port, tokens: { viewer: [VIEWER], responder: [RESPONDER] } } });
    nc = await natsConnection();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await processor?.stop();
    await cleanUp(config, nc);
    await nc.close();
  });

  async function openWall(token: string, viewport: { width: number; height: number }, by?: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${port}/?token=${token}${by ? `&by=${by}` : ''}`);
    await live(page);
    // Live is the socket open; the role comes with the server's hello after it (shown once it is there).
    await page.getByTestId('role').waitFor({ state: 'visible' });
    return { page, errors };
  }

  const live = (page: Page, timeout = 10_000) => page.locator('[data-testid=connection-status][data-state=live]').waitFor({ timeout });
  const cardOf = (page: Page, customer: string): Locator => page.locator('[data-testid=alert-card]').filter({ has: page.locator('[data-testid=alert-subject]', { hasText: customer }) });
  const shot = (page: Page, name: string) => page.screenshot({ path: new URL(name, ARTIFACTS).pathname });

  it('shows, acknowledges and silences an alert across two browsers and a processor restart', async () => {
    processor = await startTestProcessor(config);
    expect(processor.wallPort).toBe(port);
    const dana = await openWall(RESPONDER, { width: 1920, height: 1080 }, 'dana');
    const viewer = await openWall(VIEWER, { width: 1366, height: 768 });
    expect(await dana.page.getByTestId('role').textContent()).toBe('responder');
    expect(await viewer.page.getByTestId('role').textContent()).toBe('viewer');

    // Without a token neither frames nor actions: the upgrade and the API answer 401.
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/silences`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);

    // Three emails in a day to one customer is over the cap: contact fatigue fires for that customer.
    const customer = 'e2e-ana';
    const publishedAt = Date.now();
    for (let i = 0; i < 3; i++) {
      nc.publish(
        `${config.nats.subjectPrefix}.email_sent`,
        enc.encode(JSON.stringify({ id: `e2e-${i}`, customerId: customer, type: 'email_sent', ts: publishedAt + i, channel: 'email', campaignId: 'spring-e2e' })),
      );
    }
    await nc.flush();
    const card = cardOf(dana.page, customer);
    await card.waitFor({ timeout: 15_000 });
    const publishToPageMs = Date.now() - publishedAt;
    console.info(`publish to page: ${publishToPageMs} ms`);
    expect(await card.getByTestId('alert-state').textContent()).toBe('firing');
    const alertId = await card.getAttribute('data-alert-id');
    expect(alertId).toBeTruthy();
    const viewerCard = viewer.page.locator(`[data-testid=alert-card][data-alert-id="${alertId}"]`);
    await viewerCard.waitFor();
    // A viewer sees the alert but has no buttons.
    expect(await viewerCard.getByTestId('alert-ack-button').isVisible()).toBe(false);
    expect(await viewerCard.getByTestId('alert-silence-button').isVisible()).toBe(false);

    // Acknowledge with a click; the second browser sees who did it.
    await card.getByTestId('alert-ack-button').click();
    await card.getByTestId('alert-acknowledged').filter({ hasText: 'Acknowledged by dana' }).waitFor();
    await viewerCard.getByTestId('alert-acknowledged').filter({ hasText: 'Acknowledged by dana' }).waitFor();

    // Silence from the page: the form comes prefilled with the rule and the customer; the campaign is offered too.
    await card.getByTestId('alert-silence-button').click();
    const dialog = dana.page.getByTestId('silence-dialog');
    await dialog.waitFor();
    expect(await dialog.getByTestId('silence-matcher-alertname').isChecked()).toBe(true);
    expect(await dialog.getByTestId('silence-matcher-subject_key').isChecked()).toBe(true);
    expect(await dialog.getByTestId('silence-matcher-campaign').isChecked()).toBe(false);
    expect(await dialog.getByTestId('silence-preview').getAttribute('data-count')).toBe('1');
    expect(await dialog.getByTestId('silence-by').inputValue()).toBe('dana');
    // The comment is required: submitting without one says so and sends nothing.
    await dialog.getByTestId('silence-submit').click();
    await dialog.getByTestId('silence-error').filter({ hasText: 'Say why' }).waitFor();
    await dialog.getByTestId('silence-duration').selectOption({ label: '4 hours' });
    await dialog.getByTestId('silence-comment').fill('customer asked for fewer emails; CRM ticket 4411');
    await dana.page.mouse.move(0, 0);
    await shot(dana.page, 'wall-e2e-silence-form.png');
    await dialog.getByTestId('silence-submit').click();
    await dialog.waitFor({ state: 'hidden' });

    const silenceItem = (page: Page) => page.locator('[data-testid=silence-item]').filter({ hasText: customer });
    await silenceItem(dana.page).waitFor();
    await silenceItem(viewer.page).waitFor();
    expect(await silenceItem(viewer.page).getByTestId('silence-meta').textContent()).toMatch(/^dana · ends in (3h 59m|4h 00m)/);
    expect(await silenceItem(viewer.page).getByTestId('silence-comment').textContent()).toBe('customer asked for fewer emails; CRM ticket 4411');
    expect(await silenceItem(viewer.page).getByTestId('silence-expire').isVisible()).toBe(false);
    await viewer.page.locator(`[data-testid=alert-card][data-alert-id="${alertId}"][data-silenced=true]`).waitFor();
    expect(await viewerCard.getByTestId('alert-silenced').isVisible()).toBe(true);
    await shot(viewer.page, 'wall-e2e-viewer-silenced.png');

    // Stop the processor: both pages say they are disconnected.
    await processor.stop();
    processor = null;
    await dana.page.getByTestId('banner-disconnected').waitFor({ state: 'visible', timeout: 10_000 });
    await viewer.page.getByTestId('banner-disconnected').waitFor({ state: 'visible', timeout: 10_000 });

    // Start it again with the same config: same port, same Redis keys. The pages reconnect without a reload.
    const restartedAt = Date.now();
    processor = await startTestProcessor(config);
    expect(processor.wallPort).toBe(port);
    await live(dana.page, 30_000);
    await live(viewer.page, 30_000);
    console.info(`pages live again ${Date.now() - restartedAt} ms after the restart began`);
    const after = dana.page.locator(`[data-testid=alert-card][data-alert-id="${alertId}"]`);
    await after.getByTestId('alert-acknowledged').filter({ hasText: 'Acknowledged by dana' }).waitFor();
    await viewerCard.getByTestId('alert-acknowledged').filter({ hasText: 'Acknowledged by dana' }).waitFor();
    expect(await after.getAttribute('data-silenced')).toBe('true');
    await silenceItem(viewer.page).waitFor();
    expect(await dana.page.getByTestId('banner-disconnected').isVisible()).toBe(false);
    await dana.page.mouse.move(0, 0);
    await shot(dana.page, 'wall-e2e-after-restart.png');

    // Expire from the page: the viewer sees the silence end and the alert unmarked.
    await silenceItem(dana.page).getByTestId('silence-expire').click();
    await viewer.page.locator('[data-testid=silence-item][data-state=expired]').filter({ hasText: customer }).waitFor();
    await viewer.page.locator(`[data-testid=alert-card][data-alert-id="${alertId}"][data-silenced=false]`).waitFor();

    expect(dana.errors).toEqual([]);
    expect(viewer.errors).toEqual([]);
  });
});
