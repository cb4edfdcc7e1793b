import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { assertNoHorizontalScroll, launchBrowser, seriousViolations, shots } from '../helpers/browser.js';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startMonitor } from '../helpers/monitor-process.js';

/**
 * Issue 25 in a real browser: the Logs page finds a line logged a second ago across two engines
 * (the test engine, and the same engine through a relay under another name), opens its context,
 * and live follow shows a new match without a reload.
 */
const client = testClient();
const cleanup: string[] = [];
let browser: Browser;
const relay = new EngineRelay();

before(async () => {
  browser = await launchBrowser();
  await relay.start();
});

after(async () => {
  await browser?.close();
  await relay.stop();
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

describe('the Logs page (a real browser)', () => {
  it('search across two engines among other lines (logs_page_stale_answer_regression), context, live follow', async () => {
    const data = mkdtempSync(join(tmpdir(), 'dockgate-logs-page-'));
    const monitor = await startMonitor([
      '--engine',
      `east=${testEngine().host}`,
      '--engine',
      `west=${relay.url}`,
      '--data',
      data,
    ]);
    try {
      const id = await createContainer(client, [
        'sh',
        '-c',
        'echo "before the hit"; echo "quokkaword found it"; echo "after the hit"; sleep 300',
      ]);
      cleanup.push(id);
      // Other lines around, as on a shared engine: the page's first, unfiltered answer is long.
      const noise = await createContainer(client, [
        'sh',
        '-c',
        'i=0; while [ $i -lt 300 ]; do echo "noise line $i"; i=$((i+1)); done; sleep 300',
      ]);
      cleanup.push(noise);
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await page.goto(`${monitor.url}/logs`);
      await page.locator('nav a', { hasText: 'Logs' }).waitFor();
      await page.fill('input[type="search"]', 'quokkaword');
      await page.locator('input[type="search"]').press('Enter');
      // Collected within a second or so: searching again until both engines' copies are there.
      // The page first lists every line (the whole suite's, on a shared engine): only the
      // search's own answer counts (logs_page_stale_answer_regression: a slow first answer
      // arriving after the search's replaced its hits).
      const hits = (): Promise<string[]> => page.locator('ol.hits > li pre').allTextContents();
      for (let i = 0; i < 30; i++) {
        const texts = await hits();
        if (texts.length >= 2 && texts.every((t) => t.includes('quokkaword'))) break;
        await page.waitForTimeout(500);
        await page.click('button[type="submit"]');
      }
      assert.ok(new URL(page.url()).searchParams.get('q') === 'quokkaword');
      assert.deepEqual(await hits(), ['quokkaword found it', 'quokkaword found it']);
      const engines = await page.locator('ol.hits > li a').allTextContents();
      assert.deepEqual(engines.sort(), ['east', 'west']);
      assert.deepEqual(await seriousViolations(page), [], 'axe on the Logs page');
      await assertNoHorizontalScroll(page, 'the Logs page at 390 px');

      await page.locator('ol.hits > li').first().locator('button', { hasText: 'context' }).click();
      const context = page.locator('pre.context');
      await context.waitFor();
      const text = await context.textContent();
      assert.match(text ?? '', /before the hit[\s\S]*quokkaword found it[\s\S]*after the hit/);
      await page.screenshot({ path: join(shots, 'logs-390.png') });

      await page.locator('label', { hasText: 'live' }).locator('input').check();
      await page.waitForTimeout(500);
      const exec = await client.json<{ Id: string }>('POST', `/containers/${id}/exec`, {
        body: { Cmd: ['sh', '-c', 'echo "quokkaword live one" > /proc/1/fd/1'] },
      });
      await client.json('POST', `/exec/${exec.Id}/start`, { body: { Detach: true } });
      await page
        .locator('ol.hits > li pre', { hasText: 'quokkaword live one' })
        .first()
        .waitFor({ timeout: 15_000 });
      await page.close();
    } finally {
      await monitor.stop();
    }
  });
});
