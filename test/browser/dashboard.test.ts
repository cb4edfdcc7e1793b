import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { assertNoHorizontalScroll, launchBrowser, seriousViolations, shots } from '../helpers/browser.js';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { type MonitorProcess, startMonitor } from '../helpers/monitor-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The dashboard in a real browser (issue 14): Debian's chromium driven by playwright-core (never
 * a downloaded browser), against a real monitor on the private engine. Screenshots go to
 * test-results/ (not committed) to be looked at.
 */
const client = testClient();
const cleanup: string[] = [];
let browser: Browser;
let monitor: MonitorProcess;

before(async () => {
  browser = await launchBrowser();
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-dashboard-'));
  monitor = await startMonitor(['--engine', `local=${testEngine().host}`, '--data', dir, '--interval', '2s']);
});

after(async () => {
  await browser?.close();
  await monitor?.stop();
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

async function open(width: number, height: number, path = '/'): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  // Nothing may be fetched from anywhere but the monitor.
  const outside: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(monitor.url)) outside.push(request.url());
  });
  await page.goto(`${monitor.url}${path}`);
  await page.waitForSelector('.live.live');
  assert.deepEqual(outside, [], 'no request leaves the monitor');
  return page;
}

const row = (page: Page, name: string) => page.locator(`tr[data-container="${name}"]`);

describe('dashboard (a real browser)', () => {
  it('a container started in the test appears without reload; a kill elsewhere shows exited, live', async () => {
    const page = await open(1440, 900);
    const id = await createContainer(client, ['sleep', '300']);
    cleanup.push(id);
    const { Name } = await client.json<{ Name: string }>('GET', `/containers/${id}/json`);
    const name = Name.slice(1);
    await row(page, name).waitFor({ timeout: 15_000 });
    assert.equal(await row(page, name).getAttribute('data-state'), 'running');
    await client.json('POST', `/containers/${id}/kill`);
    const killedAt = Date.now();
    // Shown live, without a reload. How fast is a benchmark's business (bench:monitor measures the
    // stream at a few ms); the deadline only bounds a failure on a loaded machine.
    await page.locator(`tr[data-container="${name}"][data-state="exited"]`).waitFor({ timeout: 15_000 });
    process.stdout.write(`# the row showed exited ${Date.now() - killedAt} ms after the kill returned\n`);
    await page.screenshot({ path: join(shots, 'overview-1440.png'), fullPage: true });
    await page.close();
  });

  it('a crash-looping container is a problem at the top, with its open alert', async () => {
    const id = await createContainer(client, ['sh', '-c', 'sleep 1; exit 1'], {
      hostConfig: { RestartPolicy: { Name: 'always' } },
    });
    cleanup.push(id);
    const { Name } = await client.json<{ Name: string }>('GET', `/containers/${id}/json`);
    const page = await open(1440, 900);
    await page
      .locator('.problems li[data-alert="restart-loop"]')
      // Three restarts with Docker's restart backoff: seconds, more on a loaded machine.
      .filter({ hasText: Name.slice(1) })
      .waitFor({ timeout: 60_000 });
    await removeContainer(client, id);
    await page.close();
  });

  it('at 375×812 (a phone) and 1440×900: no horizontal scrolling; filter in the URL; axe finds no serious violation', async () => {
    for (const [width, height] of [
      [375, 812],
      [1440, 900],
    ] as const) {
      const page = await open(width, height);
      await waitFor(async () => (await page.locator('tbody tr').count()) > 0);
      await assertNoHorizontalScroll(page, `${width} px`);
      await page.fill('input[type="search"]', 'sleep-nothing-matches');
      await page.waitForFunction("location.search === '?q=sleep-nothing-matches'", undefined, {
        timeout: 2000,
      });
      assert.equal(await page.locator('tbody tr').count(), 0, 'the filter applies');
      await page.fill('input[type="search"]', '');
      await page.screenshot({ path: join(shots, `overview-${width}.png`), fullPage: true });
      assert.deepEqual(await seriousViolations(page), [], `axe at ${width} px`);
      await page.close();
    }
  });
});

describe('dashboard pages (a real browser)', () => {
  it('a viewer: the container page has summary, timeline and chart, and no action buttons; alerts and engines pages', async () => {
    const id = await createContainer(client, ['sleep', '300']);
    cleanup.push(id);
    const page = await open(1440, 900, `/containers/local/${id}`);
    await page.locator('article.container-page[data-state="running"]').waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('fieldset.actions').count(), 0, 'a viewer sees no actions');
    await page.locator('.timeline li').filter({ hasText: 'start' }).waitFor();
    await page.locator('.chart[data-points]:not([data-points="0"])').waitFor({ timeout: 15_000 });
    await page.locator('.chart canvas').waitFor();
    await page.screenshot({ path: join(shots, 'container-1440.png'), fullPage: true });
    assert.deepEqual(await seriousViolations(page), [], 'axe on the container page');
    await page.click('nav a[href="/engines"]');
    await page.locator('tr[data-engine="local"]').waitFor();
    assert.match((await page.locator('tr[data-engine="local"]').textContent()) ?? '', /up/);
    assert.deepEqual(await seriousViolations(page), [], 'axe on the engines page');
    await page.screenshot({ path: join(shots, 'engines-1440.png'), fullPage: true });
    await page.click('nav a[href="/alerts"]');
    await page.locator('h2', { hasText: 'Open alerts' }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the alerts page');
    await page.screenshot({ path: join(shots, 'alerts-1440.png'), fullPage: true });
    await page.close();
  });

  it('an operator: stop from the container page (confirmed in a dialog) changes the state; logs follow live', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-dashboard-op-'));
    const operator = await startMonitor([
      '--engine',
      `local=${testEngine().host}`,
      '--data',
      dir,
      '--anonymous-role',
      'operator',
    ]);
    try {
      const id = await createContainer(client, [
        'sh',
        '-c',
        'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done',
      ]);
      cleanup.push(id);
      const page = await browser.newPage({ viewport: { width: 375, height: 812 } });
      await page.goto(`${operator.url}/containers/local/${id}`);
      await page.locator('article.container-page[data-state="running"]').waitFor({ timeout: 15_000 });
      const ticks = (): Promise<number> => page.locator('pre.logs span.stdout').count();
      await waitFor(async () => (await ticks()) >= 2, { what: 'log lines' });
      const before = await ticks();
      await waitFor(async () => (await ticks()) > before, { what: 'more lines, live' });
      await page.click('fieldset.actions button:text("stop")');
      await page.locator('dialog[open]').waitFor();
      await page.screenshot({ path: join(shots, 'confirm-375.png') });
      assert.deepEqual(await seriousViolations(page), [], 'axe with the logs and the confirm dialog');
      await page.click('dialog button.danger');
      await page.locator('article.container-page[data-state="exited"]').waitFor({ timeout: 20_000 });
      await assertNoHorizontalScroll(page, '375 px');
      await page.close();
    } finally {
      await operator.stop();
    }
  });
});
