import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { type MonitorProcess, startMonitor } from '../helpers/monitor-process.js';
import { type PromServer, startAlertmanager } from '../helpers/prometheus.js';
import { waitFor } from '../helpers/wait.js';
import { startWebhook, type Webhook } from '../helpers/webhook.js';

/**
 * Issue 27, Alertmanager: the `alertmanager+` notifier against Debian's prometheus-alertmanager
 * 0.25 (API v2) on 127.0.0.1 — one Alertmanager (a crash and an OOM kill appear with the expected
 * labels and are resolved when the containers are removed), then two clustered ones behind one
 * notify entry with a webhook receiver: one notification per alert.
 */
const client = testClient();
const { runId } = testEngine();
const cleanup: string[] = [];

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorURL: string;
  endsAt: string;
  status: { state: string };
}

async function run(name: string, cmd: string[], host: Record<string, unknown> = {}): Promise<string> {
  const created = await client.json<{ Id: string }>('POST', '/containers/create', {
    query: { name },
    body: {
      Image: testEngine().image,
      Cmd: cmd,
      Labels: { [RUN_LABEL]: runId },
      HostConfig: { NetworkMode: 'none', ...host },
    },
  });
  cleanup.push(created.Id);
  await client.containers.start(created.Id);
  return created.Id;
}

function monitorConfig(notify: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dockgate-am-')), 'monitor.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'engines:',
      '  - name: local',
      `    url: ${testEngine().host}`,
      'notify:',
      `  - url: ${notify}`,
      'alerts:',
      `  died: { scope: { names: ["am-${runId}-*"] } }`,
      `  oom: { scope: { names: ["am-${runId}-*"] } }`,
      '  restart-loop: { enabled: false }',
      '  engine-down: { enabled: false }',
      '  unhealthy: { enabled: false }',
      '',
    ].join('\n'),
  );
  return file;
}

const alertsOf = async (am: PromServer): Promise<AmAlert[]> =>
  (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as AmAlert[];

after(async () => {
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

describe('one Alertmanager 0.25', () => {
  let am: PromServer;
  let monitor: MonitorProcess;
  before(async () => {
    am = await startAlertmanager('route: { receiver: none }\nreceivers: [{ name: none }]\n');
    monitor = await startMonitor([
      '--config',
      monitorConfig(`alertmanager+${am.url}`),
      '--data',
      mkdtempSync(join(tmpdir(), 'dockgate-am-data-')),
    ]);
  });
  after(async () => {
    await monitor?.stop();
    await am?.stop();
  });

  it('a crash and an OOM kill appear with their labels, the container page as generatorURL; removed → resolved', async () => {
    const crashName = `am-${runId}-crash`;
    const oomName = `am-${runId}-oom`;
    const crashed = await run(crashName, ['sh', '-c', 'echo going down >&2; exit 3']);
    const oomed = await run(oomName, ['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done'], {
      Memory: 16 * 1024 * 1024,
    });
    await waitFor(
      async () => {
        const names = (await alertsOf(am)).map((a) => a.labels.alertname);
        return names.includes('dockgate_died') && names.includes('dockgate_oom');
      },
      { what: 'both alerts in Alertmanager', timeout: 60_000 },
    );
    const all = await alertsOf(am);
    const died = all.find((a) => a.labels.alertname === 'dockgate_died');
    assert.deepEqual(died?.labels, {
      alertname: 'dockgate_died',
      severity: 'critical',
      engine: 'local',
      container: crashName,
      container_id: crashed,
    });
    assert.equal(died?.status.state, 'active');
    assert.equal(died?.generatorURL, `${monitor.url}/containers/local/${crashed}`);
    assert.match(died?.annotations.description ?? '', /exit code 3[\s\S]*going down/);
    assert.ok(Date.parse(died?.endsAt ?? '') > Date.now() + 3 * 60_000, 'endsAt 4 minutes ahead');
    const oom = all.find((a) => a.labels.alertname === 'dockgate_oom');
    assert.equal(oom?.labels.container, oomName);
    assert.equal(oom?.labels.container_id, oomed);

    await removeContainer(client, crashed);
    await removeContainer(client, oomed);
    await waitFor(async () => (await alertsOf(am)).length === 0, { what: 'both resolved in Alertmanager' });
  });
});

describe('two clustered Alertmanagers, one notify entry listing both', () => {
  let hook: Webhook<{ status: string; alerts: { labels: Record<string, string>; status: string }[] }>;
  let ams: PromServer[] = [];
  let monitor: MonitorProcess;
  before(async () => {
    hook = await startWebhook();
    const config = [
      'route:',
      '  receiver: hook',
      '  group_by: [alertname, container]',
      '  group_wait: 1s',
      '  group_interval: 2s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: hook',
      `    webhook_configs: [{ url: "${hook.url}", send_resolved: true }]`,
      '',
    ].join('\n');
    const first = await startAlertmanager(config, []);
    const second = await startAlertmanager(config, [first.clusterPort as number]);
    ams = [first, second];
    // Both see each other before an alert comes.
    await waitFor(
      async () => {
        const status = (await (await fetch(`${first.url}/api/v2/status`)).json()) as {
          cluster: { peers: unknown[] };
        };
        return status.cluster.peers.length === 2;
      },
      { what: 'the cluster formed' },
    );
    const hosts = ams.map((a) => new URL(a.url).host).join(',');
    monitor = await startMonitor([
      '--config',
      monitorConfig(`alertmanager+http://${hosts}`),
      '--data',
      mkdtempSync(join(tmpdir(), 'dockgate-am-data-')),
    ]);
  });
  after(async () => {
    await monitor?.stop();
    for (const am of ams) await am.stop();
    hook?.close();
  });

  it('the alert reaches both; the receiver gets one notification, not one per Alertmanager', async () => {
    const name = `am-${runId}-ha`;
    await run(name, ['sh', '-c', 'exit 4']);
    for (const am of ams)
      await waitFor(async () => (await alertsOf(am)).some((a) => a.labels.container === name), {
        what: `the alert in ${am.url}`,
        timeout: 60_000,
      });
    const firing = () =>
      hook.received.filter((n) => n.status === 'firing' && n.alerts.some((a) => a.labels.container === name));
    await waitFor(() => firing().length >= 1, { what: 'a notification', timeout: 60_000 });
    // The second Alertmanager waits its position × peer timeout (3 s here), then finds the first's
    // notification in the gossiped log and sends nothing.
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    assert.equal(firing().length, 1, JSON.stringify(firing()));
  });
});
