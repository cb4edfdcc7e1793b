import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Alert } from '../../src/monitor/alerts/alert-store.js';
import { RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { type MonitorProcess, startMonitor } from '../helpers/monitor-process.js';
import { waitFor } from '../helpers/wait.js';
import { startWebhook, type Webhook } from '../helpers/webhook.js';

/**
 * Issue 27, grouping: a batch job under new names, each exiting 3 — what gave one Slack message
 * per container before — leaves as a handful of messages, grouped as Alertmanager groups (rule,
 * engine, compose project or image; group_wait, group_interval); each incident stays its own in
 * the API.
 */
const client = testClient();
const { runId, image } = testEngine();
const ids: string[] = [];
let hook: Webhook<{ status: string; alert: Alert }>;
let monitor: MonitorProcess;

before(async () => {
  hook = await startWebhook();
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-groups-'));
  const file = join(dir, 'monitor.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'engines:',
      '  - name: local',
      `    url: ${testEngine().host}`,
      'alerts:',
      `  died: { scope: { names: ["grp-${runId}-*"] } }`,
      '  restart-loop: { enabled: false }',
      '  engine-down: { enabled: false }',
      'notify:',
      `  - { url: "${hook.url}", group_wait: 5s, group_interval: 20s }`,
      '',
    ].join('\n'),
  );
  monitor = await startMonitor(['--config', file, '--data', join(dir, 'data')]);
});

after(async () => {
  await monitor?.stop();
  hook?.close();
  for (const id of ids) await removeContainer(client, id).catch(() => {});
});

/** Containers a message speaks for: a group's members, or the one alert's. */
const covered = (status: string): number =>
  hook.received
    .filter((m) => m.status === status && m.alert.kind === 'died')
    .reduce((n, m) => n + ((m.alert.details as { alerts?: string[] }).alerts?.length ?? 1), 0);

describe('grouped notifications (the built-in notifiers)', () => {
  it('30 containers crashing within seconds: at most 3 messages, one incident each in the API; removed: resolutions grouped too', async () => {
    // Started in batches of five (dockerd 20.10 can deadlock when many containers exit at once).
    for (let batch = 0; batch < 6; batch++) {
      for (let i = 0; i < 5; i++) {
        const n = batch * 5 + i;
        const created = await client.json<{ Id: string }>('POST', '/containers/create', {
          query: { name: `grp-${runId}-${n}` },
          body: {
            Image: image,
            Cmd: ['sh', '-c', `sleep 2; exit ${n === 0 ? 5 : 3}`],
            Labels: { [RUN_LABEL]: runId },
            HostConfig: { NetworkMode: 'none' },
          },
        });
        ids.push(created.Id);
        await client.containers.start(created.Id);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await waitFor(() => covered('firing') >= 30, {
      what: 'all 30 crashes told',
      timeout: 90_000,
      interval: 250,
    });
    const firing = hook.received.filter((m) => m.status === 'firing');
    assert.ok(
      firing.length <= 3,
      `${firing.length} messages: ${firing.map((m) => m.alert.summary).join(' | ')}`,
    );
    const group = firing.find((m) => m.alert.count > 1);
    assert.match(
      group?.alert.summary ?? '',
      new RegExp(
        `^\\d+ containers of ${image.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} died on local: exit codes 3 ×\\d+`,
      ),
    );
    assert.equal(covered('firing'), 30, 'each crash in exactly one message');
    // Each incident its own in the API.
    const open = (await (await fetch(`${monitor.url}/api/v1/alerts?state=open`)).json()) as Alert[];
    assert.equal(
      open.filter((a) => a.kind === 'died' && a.container?.name.startsWith(`grp-${runId}-`)).length,
      30,
    );

    for (let i = 0; i < ids.length; i += 5)
      await Promise.all(ids.slice(i, i + 5).map((id) => removeContainer(client, id)));
    await waitFor(() => covered('resolved') >= 30, {
      what: 'all 30 resolutions told',
      timeout: 90_000,
      interval: 250,
    });
    const resolved = hook.received.filter((m) => m.status === 'resolved');
    assert.ok(resolved.length <= 3, `${resolved.length} resolved messages`);
  });
});
