// Debian's Chromium, headless, as every browser test and the analytics renderer start it: no network of its own
// beyond the page's (no QUIC, updates, sync or background requests), so a test sees only the wall's traffic.
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium(executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium'): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}
