// Screenshots of a running wall in headless Chromium, as the docs keep them.
// Usage: npx tsx scripts/wall-screenshot.ts --url http://127.0.0.1:8080/ --out docs/screenshots/wall-demo.png [--width 1920 --height 1080]
//        [--wait-ms 3000] (after the page is live, so charts and lists have filled)
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080/' },
    out: { type: 'string', default: 'wall.png' },
    width: { type: 'string', default: '1920' },
    height: { type: 'string', default: '1080' },
    'wait-ms': { type: 'string', default: '3000' },
    'full-page': { type: 'boolean', default: false },
  },
});

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: Number(values.width), height: Number(values.height) } });
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(values.url);
  await page.locator('[data-testid=connection-status][data-state=live]').waitFor({ timeout: 15_000 });
  await page.waitForTimeout(Number(values['wait-ms']));
  await page.mouse.move(0, 0);
  await page.screenshot({ path: values.out, fullPage: values['full-page'] });
  console.error(`saved ${values.out} (${values.width}×${values.height})`);
} finally {
  await browser.close();
}
