import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Where screenshots go: test-results/ (not committed), to be looked at. */
export const shots = join(new URL('../..', import.meta.url).pathname, 'test-results');
const require = createRequire(import.meta.url);

/** Debian's chromium (never a downloaded browser), headless, with nothing phoning home. */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(shots, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * axe-core's serious and critical violations on the page as it is now. Evaluated through the
 * DevTools protocol, which the page's Content-Security-Policy (no inline script) does not cover.
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const violations = (await page.evaluate(
    "axe.run().then((r) => r.violations.map((v) => v.impact + ': ' + v.id + ' (' + v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ') + ')'))",
  )) as string[];
  return violations.filter((v) => v.startsWith('serious') || v.startsWith('critical'));
}

/** Asserts the page does not scroll sideways at its viewport's width. */
export async function assertNoHorizontalScroll(page: Page, what: string): Promise<void> {
  // Expressions run in the page (strings: tests are compiled for Node, without DOM types).
  const overflow = (await page.evaluate(
    'document.documentElement.scrollWidth - window.innerWidth',
  )) as number;
  assert.ok(overflow <= 0, `${what}: ${overflow} px of horizontal scrolling`);
}
