import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, seriousViolations, shots } from '../helpers/browser.js';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { addMonitorUser, type MonitorProcess, startMonitor } from '../helpers/monitor-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 24 in Debian's chromium: the Terminal tab of a container page, signed in as an admin
 * (the cookie, the CSRF token and the page's own Origin are what the browser sends), against a
 * real monitor and the real engine.
 */
const client = testClient();
const PASSWORD = 'correct horse battery';
const cleanup: string[] = [];
let browser: Browser;
let monitor: MonitorProcess;
let box: string;

before(async () => {
  browser = await launchBrowser();
  const data = mkdtempSync(join(tmpdir(), 'dockgate-terminal-browser-'));
  await addMonitorUser(data, 'root', 'admin', PASSWORD);
  await addMonitorUser(data, 'watcher', 'viewer', PASSWORD);
  monitor = await startMonitor([
    '--engine',
    `local=${testEngine().host}`,
    '--data',
    data,
    '--anonymous-role',
    'none',
  ]);
  box = await createContainer(client, ['sleep', '600']);
  cleanup.push(box);
});

after(async () => {
  await browser?.close();
  await monitor?.stop();
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

async function signedIn(name: string, width: number, height: number): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  await page.goto(`${monitor.url}/login?next=/containers/local/${box}`);
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('button[type="submit"]');
  await page.locator('article.container-page[data-state="running"]').waitFor({ timeout: 15_000 });
  return page;
}

/** The terminal's screen as text: xterm.js's DOM renderer draws one element per row. */
async function rowsText(page: Page, where: string): Promise<string> {
  const rows = await page.locator(`${where} .xterm-rows > div`).allTextContents();
  return rows.map((row) => row.replace(/\u00a0/g, ' ').trimEnd()).join('\n');
}

const screen = (page: Page): Promise<string> => rowsText(page, '.terminal-tab');

async function openShell(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'open a shell' }).click();
  await page.locator('.terminal-status', { hasText: 'running' }).waitFor({ timeout: 15_000 });
  await page.locator('.terminal-tab .xterm').click();
}

describe('the Terminal tab in a real browser (issue 24)', () => {
  it('an admin: echo $((6*7)) shows 42; stty size follows a resized page; exit 3 shows exit code 3 and a reconnect button', async () => {
    const page = await signedIn('root', 1280, 900);
    await openShell(page);
    await page.keyboard.type('echo $((6*7))');
    await page.keyboard.press('Enter');
    await waitFor(async () => /^42$/m.test(await screen(page)), { what: '42 on the screen' });
    // A smaller page: the terminal fits its box again and the exec is resized.
    await page.setViewportSize({ width: 900, height: 700 });
    await waitFor(
      async () => {
        await page.keyboard.type('clear; stty size');
        await page.keyboard.press('Enter');
        const rows = await page.locator('.terminal-tab .xterm-rows > div').count();
        const text = await screen(page);
        const size = /^(\d+) (\d+)$/m.exec(text);
        return size !== null && Number(size[1]) === rows && Number(size[2]) < 110;
      },
      { what: 'stty size: the rows and columns of the resized terminal' },
    );
    await page.screenshot({ path: join(shots, 'terminal-900.png'), fullPage: true });
    assert.deepEqual(await seriousViolations(page), [], 'axe with the terminal open');
    await page.keyboard.type('exit 3');
    await page.keyboard.press('Enter');
    await page
      .locator('[data-exit-code="3"]', { hasText: 'exited with code 3' })
      .waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'reconnect' }).waitFor();
    // The session is on the admin's list, with its recording.
    await page.goto(`${monitor.url}/terminals`);
    const row = page.locator('[data-session]', { hasText: 'exit 3' }).first();
    await row.waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'replay' }).first().click();
    // The replay plays in real time: "42" was on the screen only until the next `clear` (a few
    // hundred ms, which a poll on a loaded machine can miss); the last screen stays — it ends with
    // the `exit 3` typed. The recording itself holds the 42.
    await waitFor(async () => /exit 3/.test(await rowsText(page, '.replay')), {
      what: 'the replay plays the session to its last screen',
    });
    const id = await row.getAttribute('data-session');
    const cast = (await page.evaluate(
      `fetch('/api/v1/terminals/${id}/cast').then((r) => r.text())`,
    )) as string;
    const shown = cast
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => JSON.parse(line) as [number, string, string])
      .filter(([, kind]) => kind === 'o')
      .map(([, , data]) => data)
      .join('')
      .replace(/\r/g, '');
    assert.match(shown, /^42$/m, 'the recording has what the session showed');
    await page.close();
  });

  it('at 375 px: the key bar is there and its Tab completes a path', async () => {
    const page = await signedIn('root', 375, 812);
    await openShell(page);
    const bar = page.getByRole('toolbar', { name: 'Keys' });
    assert.ok(await bar.isVisible(), 'the key bar on a phone');
    for (const key of ['Esc (Escape)', 'Tab', 'Ctrl (for the next key)', 'Up', 'Pipe', 'Tilde', 'Slash'])
      assert.ok(await bar.getByRole('button', { name: key, exact: true }).isVisible(), key);
    await page.keyboard.type('ls /bin/busyb');
    await bar.getByRole('button', { name: 'Tab', exact: true }).click();
    await page.locator('.terminal-tab .xterm').click();
    await page.keyboard.press('Enter');
    await waitFor(async () => /^\/bin\/busybox$/m.test(await screen(page)), {
      what: 'Tab completed /bin/busybox',
    });
    await page.screenshot({ path: join(shots, 'terminal-375.png'), fullPage: true });
    assert.deepEqual(await seriousViolations(page), [], 'axe at 375 px with the terminal');
    await page.close();
  });

  it('a viewer sees no Terminal tab and no Terminals page link', async () => {
    const page = await signedIn('watcher', 1280, 900);
    assert.equal(await page.locator('section[aria-label="Terminal"]').count(), 0);
    assert.equal(await page.locator('nav a[href="/terminals"]').count(), 0);
    await page.close();
  });
});
