import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { DockerClient } from '../../src/client/index.js';
import { assertNoHorizontalScroll, launchBrowser, seriousViolations, shots } from '../helpers/browser.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { addMonitorUser, type MonitorProcess, startMonitor } from '../helpers/monitor-process.js';
import { type PrivateEngine, startPrivateEngine } from '../helpers/private-engine.js';
import { ensureTestImage } from '../helpers/test-image.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 29 in a real browser: an engine's page — the host's facts and charts, the filesystems
 * as bars with the docker root first, Docker's disk use — and the Clean up dialog, which shows
 * the dry run's list before anything is removed. On an engine of its own (a prune there cannot
 * reach another test's images), behind a real gateway with the deploy profile.
 */
const root = new URL('../..', import.meta.url).pathname;
const PASSWORD = 'engine page password';
const dir = mkdtempSync(join(tmpdir(), 'dockgate-engine-page-'));
let browser: Browser;
let engine: PrivateEngine;
let client: DockerClient;
let gateway: TestGateway;
let monitor: MonitorProcess;
let dangling: string;

before(async () => {
  browser = await launchBrowser();
  engine = await startPrivateEngine();
  client = new DockerClient({ engine: engine.host });
  const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
  const { Id: base } = await client.json<{ Id: string }>('POST', '/containers/create', {
    body: { Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } },
  });
  ({ Id: dangling } = await client.json<{ Id: string }>('POST', '/commit', {
    query: { container: base },
    body: {},
  }));
  await client.json('DELETE', `/containers/${base}`);
  gateway = await startGateway({ upstream: engine.host, profile: 'deploy' });
  const data = join(dir, 'data');
  await addMonitorUser(data, 'ada', 'admin', PASSWORD);
  monitor = await startMonitor([
    '--engine',
    `box=${gateway.dockerHost}`,
    '--data',
    data,
    '--interval',
    '1s',
    '--anonymous-role',
    'none',
  ]);
});

after(async () => {
  await browser?.close();
  await monitor?.stop();
  await gateway?.stop();
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the engine page (a real browser)', () => {
  it('shows the host, the filesystems (docker root first), the disk use; Clean up shows the dry run, then removes exactly that', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${monitor.url}/login`);
    await page.fill('input[name="name"]', 'ada');
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await page.locator('.live.live').waitFor();
    await page.goto(`${monitor.url}/engines`);
    // The engine list has each host at a glance: the docker root's use, as the gateway read it.
    await page.locator('tr[data-engine="box"] td[data-docker-root]').waitFor({ timeout: 30_000 });
    const used = Number(
      await page.locator('tr[data-engine="box"] td[data-docker-root]').getAttribute('data-docker-root'),
    );
    assert.ok(used > 0 && used < 100, `docker root ${used}% used`);
    assert.deepEqual(await seriousViolations(page), [], 'axe on the engines page with hosts');
    await page.click('a[href="/engines/box"]');
    await page.locator('.engine-page[data-engine="box"]').waitFor();
    await page.locator('.facts').waitFor();
    assert.match((await page.locator('.facts').textContent()) ?? '', /through a dockgate gateway/);
    const first = page.locator('.filesystems li').first();
    await first.waitFor();
    assert.equal(await first.getAttribute('data-docker-root'), 'true', 'the docker root first');
    assert.match((await first.textContent()) ?? '', /docker root/);
    // Two readings make a point with rates: the chart draws once there is one.
    await page.locator('.chart[data-label="CPU, memory, docker root, network"]').waitFor({ timeout: 30_000 });
    // The disks' I/O from the same readings (this machine has a disk; its sensors, if any).
    await page.locator('.chart[data-label="Disk I/O and temperature"]').waitFor({ timeout: 30_000 });
    assert.match(
      (await page.locator('.chart[data-label="Disk I/O and temperature"]').textContent()) ?? '',
      /Disk write KiB\/s/,
    );
    await page.locator('table.disk tr[data-type="Images"]').waitFor();
    assert.match((await page.locator('table.disk tr[data-type="Images"]').textContent()) ?? '', /Images\s*2/);
    assert.deepEqual(await seriousViolations(page), [], 'axe on the engine page');
    await page.screenshot({ path: join(shots, 'engine-page.png'), fullPage: true });

    await page.click('button.clean-up');
    await page.selectOption('.clean-dialog select', 'dangling');
    await page.uncheck('.clean-dialog label:has-text("Exited containers") input');
    await page.uncheck('.clean-dialog label:has-text("Build cache") input');
    await page.click('.clean-dialog button:has-text("Show what would go")');
    await page.locator('.prune-list[data-phase="preview"]').waitFor();
    const items = page.locator('.prune-list li[data-kind="image"]');
    assert.equal(await items.count(), 1, 'the dangling image, alone');
    assert.match(
      (await page.locator('.prune-list [role="status"]').textContent()) ?? '',
      /1 objects would go/,
    );
    assert.equal(
      (await client.images.list({ all: true })).some((i) => i.Id === dangling),
      true,
      'nothing removed by looking',
    );
    assert.deepEqual(await seriousViolations(page), [], 'axe on the Clean up dialog');
    await page.screenshot({ path: join(shots, 'engine-clean-up.png') });
    await page.click('.clean-dialog button.danger');
    await page.locator('.prune-list[data-phase="done"]').waitFor();
    assert.match(
      (await page.locator('.prune-list [role="status"]').textContent()) ?? '',
      /Removed 1 objects/,
    );
    await waitFor(async () => !(await client.images.list({ all: true })).some((i) => i.Id === dangling), {
      what: 'the dangling image gone',
    });
    await page.close();
  });

  it('fits a phone: no sideways scrolling on the engine page', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${monitor.url}/login`);
    await page.fill('input[name="name"]', 'ada');
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await page.locator('.live.live').waitFor();
    await page.goto(`${monitor.url}/engines/box`);
    await page.locator('.filesystems li').first().waitFor();
    await assertNoHorizontalScroll(page, 'the engine page on a phone');
    await page.screenshot({ path: join(shots, 'engine-page-phone.png'), fullPage: true });
    await page.close();
  });
});
