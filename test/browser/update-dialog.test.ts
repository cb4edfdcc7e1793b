import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, seriousViolations, shots } from '../helpers/browser.js';
import { RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { addMonitorUser, type MonitorProcess, startMonitor } from '../helpers/monitor-process.js';
import { type PrivateRegistry, pushImage, startPrivateRegistry } from '../helpers/private-registry.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 26 in a real browser: the container page's Update dialog (the plan, the live progress,
 * the outcome), its rollback message with the new container's last lines, and the bulk update of
 * a compose project that stops at the first rollback — signed in with a session (the CSRF token
 * rides along with the streamed POST).
 */
const client = testClient();
const { runId } = testEngine();
const cleanup: string[] = [];
const PASSWORD = 'update dialog password';
let browser: Browser;
let registry: PrivateRegistry & { remove(): Promise<void> };
let monitor: MonitorProcess;

async function run(name: string, image: string, project: string, service: string): Promise<string> {
  const created = await client.json<{ Id: string }>('POST', '/containers/create', {
    query: { name },
    body: {
      Image: image,
      Cmd: ['sleep', '600'],
      StopTimeout: 1,
      Labels: {
        [RUN_LABEL]: runId,
        'com.docker.compose.project': project,
        'com.docker.compose.service': service,
      },
      HostConfig: { NetworkMode: 'none' },
    },
  });
  cleanup.push(created.Id);
  await client.containers.start(created.Id);
  return created.Id;
}

before(async () => {
  browser = await launchBrowser();
  registry = await startPrivateRegistry();
  const data = mkdtempSync(join(tmpdir(), 'dockgate-update-ui-'));
  await addMonitorUser(data, 'olga', 'operator', PASSWORD);
  const config = join(data, 'monitor.yaml');
  writeFileSync(
    config,
    `version: 1\nengines:\n  - name: local\n    url: ${testEngine().host}\nregistries:\n  - host: ${registry.host}\n    insecure: true\nupdates:\n  settle: 1s\n`,
  );
  monitor = await startMonitor(['--config', config, '--data', data, '--anonymous-role', 'none']);
});

after(async () => {
  await browser?.close();
  await monitor?.stop();
  await registry?.remove();
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

describe('the Update dialog (a real browser)', () => {
  it('shows the plan, then the progress and the outcome; a bad image: the rollback and its last lines; bulk stops at the first rollback', async () => {
    const tag = `${registry.host}/dockgate-test/ui:live`;
    const project = `ui${runId}`;
    await pushImage(client, tag, ['ENV APP_VERSION=1']);
    const appId = await run(`${project}-app-1`, tag, project, 'app');
    const workers = [
      await run(`${project}-worker-1`, tag, project, 'worker'),
      await run(`${project}-worker-2`, tag, project, 'worker'),
    ];
    await pushImage(client, tag, ['ENV APP_VERSION=2']);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${monitor.url}/`);
    await page.fill('input[name="name"]', 'olga');
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await page.locator('.live.live').waitFor();
    // The registry asked now (the session's CSRF token from /api/v1/me).
    const checked = (await page.evaluate(`fetch('/api/v1/me').then((r) => r.json()).then((me) =>
      fetch('/api/v1/updates/check', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf } })).then((r) => r.status)`)) as number;
    assert.equal(checked, 200);

    await page.goto(`${monitor.url}/containers/local/${appId}`);
    await page.locator('.update-status[data-update="outdated"]').waitFor();
    await page.click('button.update-button');
    const dialog = page.locator('dialog.update-dialog[open]');
    await dialog.locator('tr[data-effect="changed"]', { hasText: 'Env APP_VERSION' }).waitFor();
    assert.match((await dialog.textContent()) ?? '', /APP_VERSION=1 → APP_VERSION=2/);
    assert.deepEqual(await seriousViolations(page), [], 'axe on the update dialog');
    await page.screenshot({ path: join(shots, 'update-plan.png') });
    await dialog.locator('button.primary', { hasText: 'Update' }).click();
    await dialog.locator('[data-outcome="ok"]', { hasText: 'Updated' }).waitFor({ timeout: 60_000 });
    const progress = (await dialog.locator('.update-progress li').allTextContents()).join('\n');
    assert.match(progress, /gate: /, progress);
    assert.match(progress, /done: /, progress);
    await page.screenshot({ path: join(shots, 'update-done.png') });
    await dialog.locator('button[type="submit"]', { hasText: 'Close' }).click();
    // The updated container is a new one: its page.
    await waitFor(async () => !page.url().endsWith(appId), { what: 'the new container page' });
    const newId = page.url().split('/').at(-1) ?? '';
    cleanup.push(newId);
    await page
      .locator(`article.container-page[data-container="${project}-app-1"][data-state="running"]`)
      .waitFor();

    // v3 cannot start: the dialog says it was rolled back, why, and what the new container said.
    await pushImage(client, tag, ['ENTRYPOINT ["sh", "-c", "echo v3 is broken >&2; exit 1"]']);
    await page.click('button.update-button');
    await dialog.locator('tr[data-effect], details').first().waitFor();
    await dialog.locator('button.primary', { hasText: 'Update' }).click();
    const bad = dialog.locator('[data-outcome="bad"]');
    await bad.waitFor({ timeout: 60_000 });
    assert.match((await bad.textContent()) ?? '', /Rolled back: exited with code 1|Rolled back: restarted/);
    assert.match((await bad.locator('.update-logs').textContent()) ?? '', /v3 is broken/);
    await page.screenshot({ path: join(shots, 'update-rolled-back.png') });
    await dialog.locator('button[type="submit"]', { hasText: 'Close' }).click();
    assert.ok(page.url().endsWith(newId), 'still the same container');

    // Bulk: the project's outdated containers, one at a time; the first rollback stops the rest.
    await page.evaluate(`fetch('/api/v1/me').then((r) => r.json()).then((me) =>
      fetch('/api/v1/updates/check', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf } }))`);
    await page.goto(`${monitor.url}/?group=project&q=${project}`);
    const bulk = page.locator('button.bulk-update');
    await waitFor(async () => /update 3 outdated/.test((await bulk.textContent()) ?? ''), {
      what: 'three outdated in the project',
    });
    await bulk.click();
    const bulkDialog = page.locator('dialog.update-dialog[open]');
    await bulkDialog.locator('button.primary', { hasText: 'Update all' }).click();
    await bulkDialog.locator('li', { hasText: 'not tried' }).first().waitFor({ timeout: 60_000 });
    const rows = await bulkDialog.locator('.bulk-rows li').allTextContents();
    assert.match(rows[0] ?? '', /Rolled back/, rows.join('\n'));
    assert.ok(
      rows.slice(1).every((r) => /not tried/.test(r)),
      rows.join('\n'),
    );
    await page.screenshot({ path: join(shots, 'update-bulk.png') });
    // Nothing changed for those not tried, and the rolled-back one is itself again.
    for (const id of workers) assert.equal((await client.containers.inspect(id)).State?.Running, true);
  });
});
