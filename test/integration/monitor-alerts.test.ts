import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';
import type { Alert, Delivery } from '../../src/monitor/alerts/alert-store.js';
import { startDockgate } from '../helpers/dockgate-process.js';
import { RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { type MonitorProcess, monitorToken, startMonitor } from '../helpers/monitor-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Alerts end to end (issue 13): the real private engine, a real `dockgate monitor`, and real
 * receivers on 127.0.0.1 — an HTTP server standing in for a webhook, Slack, Discord, ntfy and
 * Alertmanager (recording what each got), and an SMTP server (the smtp-server package). No clock
 * is mocked: short `for` values in the config keep it quick.
 */
const client = testClient();
/**
 * Other test files run beside this one on the same engine: the rules are scoped to this file's
 * containers (a label), or their crashes would be alerted here too.
 */
const SCOPE = `dockgate.test.alerts=${process.pid}`;
const scopeLabel = { 'dockgate.test.alerts': String(process.pid) };
const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const engineUrl = testEngine().host;
const cleanup: string[] = [];

interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}
const received: Received[] = [];
const mails: string[] = [];
let flakyCalls = 0;
let http: Server;
let smtp: SMTPServer;
let base = '';
let smtpPort = 0;

async function json<T>(url: string, init: RequestInit = {}): Promise<T> {
  return (await (await fetch(url, init)).json()) as T;
}

before(async () => {
  http = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.url === '/flaky') {
        flakyCalls++;
        if (flakyCalls <= 2) {
          res.writeHead(500).end('try again');
          return;
        }
      }
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  base = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      let text = '';
      stream.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      stream.on('end', () => {
        mails.push(text);
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as { port: number }).port;
});

after(async () => {
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
  http.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

function config(dir: string, engines: string, extra = ''): string {
  const file = join(dir, 'monitor.yaml');
  writeFileSync(
    file,
    `version: 1
engines:
${engines}
alerts:
  unhealthy: { for: 2s, scope: { labels: ["${SCOPE}"] } }
  engine-down: { for: 2s }
  restart-loop: { restarts: 3, window: 2m, settle: 5s, scope: { labels: ["${SCOPE}"] } }
  died: { for: 3s, scope: { labels: ["${SCOPE}"] } }
  oom: { for: 3s, scope: { labels: ["${SCOPE}"] } }
  missing: { containers: ["must-run-${process.pid}"], for: 2s, scope: { engines: [local] } }
notify:
  # One message per incident here (these tests follow each one); grouping has its own test.
  - { url: "${base}/hook", ${ALONE} }
  - { url: "slack+${base}/slack", ${ALONE} }
  - { url: "discord+${base}/discord", ${ALONE} }
  - { url: "ntfy+${base}/ntfy/alerts", ${ALONE} }
  - alertmanager+${base}/am
  - { url: "smtp://127.0.0.1:${smtpPort}/?from=monitor@example.test&to=oncall@example.test", ${ALONE} }
  - { url: "${base}/flaky", kinds: [died], ${ALONE} }
${extra}`,
  );
  return file;
}

/** A notify entry's grouping that sends each incident alone, at once. */
const ALONE = 'group_by: [container], group_wait: 0s, group_interval: 0s';

const hooks = (name: string): { status: string; alert: Alert }[] =>
  received
    .filter((r) => r.path === '/hook')
    .map((r) => JSON.parse(r.body) as { status: string; alert: Alert })
    .filter((m) => m.alert.container?.name === name || m.alert.engine === name);

async function named(
  prefix: string,
  cmd: string[],
  hostConfig: Record<string, unknown> = {},
  config: Record<string, unknown> = {},
): Promise<{ id: string; name: string }> {
  const name = `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
  const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
    query: { name },
    body: {
      Image: testEngine().image,
      Cmd: cmd,
      Labels: { [RUN_LABEL]: testEngine().runId, ...scopeLabel },
      HostConfig: { NetworkMode: 'none', ...hostConfig },
      ...config,
    },
  });
  cleanup.push(Id);
  await client.json('POST', `/containers/${Id}/start`);
  return { id: Id, name };
}

describe('alerts: one message per incident', () => {
  let monitor: MonitorProcess;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dockgate-alerts-'));
    monitor = await startMonitor([
      '--config',
      config(dir, `  - name: local\n    url: ${engineUrl}\n`),
      '--data',
      join(dir, 'data'),
    ]);
  });
  after(() => monitor.stop());

  it('a --restart always container that exits 1 every second: exactly one restart-loop firing (no died), then removed: exactly one resolved — on every notifier', async () => {
    const { id, name } = await named('loop', ['sh', '-c', 'sleep 1; exit 1'], {
      RestartPolicy: { Name: 'always' },
    });
    await waitFor(() => hooks(name).some((m) => m.status === 'firing'), { what: 'the loop alert' });
    await waitFor(
      async () =>
        (await json<{ restartCount: number }>(`${monitor.url}/api/v1/containers/local/${id}`)).restartCount >=
        5,
      {
        what: 'more crashes after the loop opened',
      },
    );
    await removeContainer(client, id);
    await waitFor(() => hooks(name).some((m) => m.status === 'resolved'), { what: 'resolved once removed' });
    const messages = hooks(name);
    assert.deepEqual(
      messages.map((m) => [m.status, m.alert.kind]),
      [
        ['firing', 'restart-loop'],
        ['resolved', 'restart-loop'],
      ],
      'one firing, one resolved, no died',
    );
    const fired = messages[0]?.alert as Alert;
    assert.match(fired.summary, /restarting in a loop: \d+ restarts/);
    const resolved = messages[1]?.alert as Alert;
    assert.ok(resolved.count > 1, 'later crashes folded into the same incident');
    assert.match(resolved.summary, /resolved after/);
    // The same two messages on Slack, Discord, ntfy, Alertmanager and by mail, in their shapes.
    const mine = (path: string): Received[] =>
      received.filter((r) => r.path === path && r.body.includes(name));
    await waitFor(() => mails.filter((m) => m.includes(name)).length === 2, { what: 'two mails' });
    const slack = mine('/slack').map((r) => JSON.parse(r.body) as { text: string; blocks: unknown[] });
    assert.equal(slack.length, 2);
    assert.match(slack[0]?.text ?? '', /\[restart-loop\]/);
    assert.ok(Array.isArray(slack[0]?.blocks));
    const discord = mine('/discord').map(
      (r) => JSON.parse(r.body) as { content: string; embeds: { title: string }[] },
    );
    assert.equal(discord.length, 2);
    assert.match(discord[1]?.content ?? '', /✅/);
    const ntfy = mine('/ntfy/alerts');
    assert.equal(ntfy.length, 2);
    assert.match(String(ntfy[0]?.headers.title), /Alert: restart-loop/);
    assert.equal(ntfy[0]?.headers.priority, 'high');
    const am = mine('/am/api/v2/alerts').map(
      (r) => JSON.parse(r.body) as { labels: Record<string, string>; endsAt?: string }[],
    );
    // Alertmanager's client contract: a firing alert ends 4 minutes ahead (re-sent every minute,
    // so a re-send may be among them), a resolved one at its resolution.
    const sent = am.flat().filter((a) => a.labels.container === name);
    assert.ok(sent.length >= 2);
    assert.equal(sent[0]?.labels.alertname, 'dockgate_restart_loop');
    assert.equal(
      sent[0]?.labels.dockgate_alert,
      undefined,
      'no incident id: the same labels from every monitor',
    );
    assert.ok(Date.parse(sent[0]?.endsAt ?? '') > Date.now() + 3 * 60_000, 'firing: endsAt 4 minutes ahead');
    assert.ok(Date.parse(sent.at(-1)?.endsAt ?? '') <= Date.now(), 'resolved: endsAt its resolution');
    assert.match(mails.find((m) => m.includes(name)) ?? '', /Subject: .*restart-loop/);
  });

  it('exit 3: one died with code 3 and the last log lines; a receiver that answers 500 twice gets it on the third attempt', async () => {
    const { id, name } = await named('crash', ['sh', '-c', 'echo about to fail; echo boom >&2; exit 3']);
    await waitFor(() => hooks(name).some((m) => m.status === 'firing'), { what: 'the died alert' });
    const message = hooks(name)[0];
    assert.ok(message);
    assert.equal(message.alert.kind, 'died');
    assert.equal((message.alert.details as { exitCode: number }).exitCode, 3);
    // Both lines; their order across stdout and stderr is the engine's (separate pipes, timestamped apart).
    assert.deepEqual([...(message.alert.details as { logs: string[] }).logs].sort(), [
      'about to fail',
      'boom',
    ]);
    await waitFor(() => received.some((r) => r.path === '/flaky' && r.body.includes(name)), {
      what: 'the flaky receiver',
    });
    const detail = await json<Alert & { deliveries: Delivery[] }>(
      `${monitor.url}/api/v1/alerts/${message.alert.id}`,
    );
    const flaky = detail.deliveries.filter((d) => d.notifier.endsWith('/flaky'));
    assert.deepEqual(
      flaky.map((d) => [d.attempt, d.ok, d.status]),
      [
        [1, false, 500],
        [2, false, 500],
        [3, true, 200],
      ],
    );
    assert.ok(detail.deliveries.filter((d) => d.ok).length >= 6, 'the others delivered on the first attempt');
    const open = await json<Alert[]>(`${monitor.url}/api/v1/alerts?state=open&container=${name}`);
    assert.equal(open.length, 1);
    // Acknowledge (operator; anonymous on loopback is a viewer → 403).
    assert.equal(
      (await fetch(`${monitor.url}/api/v1/alerts/${open[0]?.id}/ack`, { method: 'POST' })).status,
      403,
    );
    void id;
  });

  it('missing: a container named in the config that is not running — one firing, resolved once it runs', async () => {
    const selector = `must-run-${process.pid}`;
    await waitFor(() => received.some((r) => r.path === '/hook' && r.body.includes(`"kind":"missing"`)), {
      what: 'the missing alert',
    });
    const { Id: id } = await client.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: selector },
      body: {
        Image: testEngine().image,
        Cmd: ['sleep', '300'],
        Labels: { [RUN_LABEL]: testEngine().runId },
        HostConfig: { NetworkMode: 'none' },
      },
    });
    cleanup.push(id);
    await client.json('POST', `/containers/${id}/start`);
    const missing = (): { status: string }[] =>
      received
        .filter((r) => r.path === '/hook')
        .map((r) => JSON.parse(r.body) as { status: string; alert: Alert })
        .filter((m) => m.alert.kind === 'missing');
    await waitFor(() => missing().some((m) => m.status === 'resolved'), { what: 'resolved once running' });
    assert.deepEqual(
      missing().map((m) => m.status),
      ['firing', 'resolved'],
    );
  });

  it('an operator acknowledges; `notify test` reaches a receiver and prints its answer', async () => {
    const token = await monitorToken(join(dir, 'data'), 'oncall', 'operator');
    const { name } = await named('ack', ['sh', '-c', 'exit 2']);
    await waitFor(() => hooks(name).length === 1, { what: 'the died alert' });
    const id = hooks(name)[0]?.alert.id ?? '';
    const acked = await fetch(`${monitor.url}/api/v1/alerts/${id}/ack`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(acked.status, 200);
    assert.match(((await acked.json()) as Alert).acknowledgedAt ?? '', /^\d{4}-/);
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'monitor', 'notify', 'test', `${base}/hook`],
      { cwd: root },
    );
    assert.match(stdout, /\/hook: 200 ok/);
    assert.ok(received.some((r) => r.path === '/hook' && r.body.includes('dockgate test message')));
  });

  it('docker stop: the die is expected — nothing is sent; dockgate.alerts=off silences a crash', async () => {
    const silenced = await named(
      'silenced',
      ['sh', '-c', 'exit 7'],
      {},
      { Labels: { [RUN_LABEL]: testEngine().runId, ...scopeLabel, 'dockgate.alerts': 'off' } },
    );
    const { id, name } = await named('stopped', ['sleep', '300']);
    await waitFor(
      async () =>
        (await json<{ state: string }>(`${monitor.url}/api/v1/containers/local/${id}`)).state === 'running',
    );
    await client.json('POST', `/containers/${id}/stop`, { query: { t: 1 } });
    await waitFor(async () =>
      (
        await json<{ timeline: { action: string; expected?: boolean }[] }>(
          `${monitor.url}/api/v1/containers/local/${id}`,
        )
      ).timeline.some((t) => t.action === 'die' && t.expected === true),
    );
    // A crash of another container afterwards proves the pipeline ran past this one.
    const probe = await named('probe', ['sh', '-c', 'exit 9']);
    await waitFor(() => hooks(probe.name).length > 0, { what: 'the probe alert' });
    assert.deepEqual(hooks(name), []);
    assert.deepEqual(hooks(silenced.name), []);
  });

  it('OOM: one oom (not also a died)', async () => {
    const { name } = await named('oom', ['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done'], {
      Memory: 16 * 1024 * 1024,
      MemorySwap: 16 * 1024 * 1024,
    });
    await waitFor(() => hooks(name).some((m) => m.status === 'firing'), { what: 'the oom alert' });
    await waitFor(
      async () =>
        (await json<{ oomKilled: boolean }[]>(`${monitor.url}/api/v1/containers?q=${name}`))[0]?.oomKilled ===
        true,
    );
    const probe = await named('probe', ['sh', '-c', 'exit 9']);
    await waitFor(() => hooks(probe.name).length > 0);
    assert.deepEqual(
      hooks(name).map((m) => m.alert.kind),
      ['oom'],
    );
  });

  it('a failing healthcheck: one unhealthy after `for`, resolved when it passes', async () => {
    const { id, name } = await named(
      'health',
      ['sleep', '300'],
      {},
      {
        Healthcheck: {
          Test: ['CMD-SHELL', 'test -f /tmp/ok'],
          Interval: 500_000_000,
          Timeout: 1_000_000_000,
          Retries: 1,
        },
      },
    );
    await waitFor(() => hooks(name).some((m) => m.status === 'firing'), { what: 'unhealthy' });
    assert.equal(hooks(name)[0]?.alert.kind, 'unhealthy');
    const exec = await client.json<{ Id: string }>('POST', `/containers/${id}/exec`, {
      body: { Cmd: ['touch', '/tmp/ok'] },
    });
    await client.json('POST', `/exec/${exec.Id}/start`, { body: { Detach: true } });
    await waitFor(() => hooks(name).some((m) => m.status === 'resolved'), { what: 'resolved once healthy' });
    assert.deepEqual(
      hooks(name).map((m) => m.status),
      ['firing', 'resolved'],
    );
  });

  it('a restart of the monitor during an open incident sends nothing again; it still resolves once', async () => {
    const { id, name } = await named('open', ['sh', '-c', 'exit 4']);
    await waitFor(() => hooks(name).length === 1, { what: 'the died alert' });
    await monitor.stop();
    monitor = await startMonitor(['--config', join(dir, 'monitor.yaml'), '--data', join(dir, 'data')]);
    const open = await json<Alert[]>(`${monitor.url}/api/v1/alerts?state=open&container=${name}`);
    assert.equal(open.length, 1, 'the open incident is still open');
    await removeContainer(client, id);
    await waitFor(() => hooks(name).some((m) => m.status === 'resolved'), {
      what: 'resolved after the restart',
    });
    assert.deepEqual(
      hooks(name).map((m) => m.status),
      ['firing', 'resolved'],
    );
    const metrics = await (await fetch(`${monitor.url}/metrics`)).text();
    assert.match(metrics, /# TYPE dockgate_alerts_open gauge/);
  });
});

describe('alerts: an engine that goes away', () => {
  it('one engine-down, nothing for its containers while it is down, one resolved when it returns', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createNetServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const args = ['--listen', `tcp://127.0.0.1:${port}`, '--profile', 'read-only', '--shutdown-grace', '0'];
    let gateway = await startDockgate(args);
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-alerts-down-'));
    const monitor = await startMonitor([
      '--config',
      config(dir, `  - name: via\n    url: tcp://127.0.0.1:${port}\n`),
      '--data',
      join(dir, 'data'),
    ]);
    try {
      const { name } = await named('dies-while-away', ['sh', '-c', 'sleep 3; exit 6']);
      gateway.child.kill('SIGTERM');
      await once(gateway.child, 'exit');
      await waitFor(() => hooks('via').some((m) => m.status === 'firing'), { what: 'engine-down' });
      assert.equal(hooks('via')[0]?.alert.kind, 'engine-down');
      await new Promise((r) => setTimeout(r, 4000)); // the container dies while the engine is away
      gateway = await startDockgate(args);
      await waitFor(() => hooks('via').some((m) => m.status === 'resolved'), { what: 'engine back' });
      await waitFor(
        async () =>
          (await json<{ state: string }[]>(`${monitor.url}/api/v1/containers?q=${name}`))[0]?.state ===
          'exited',
      );
      assert.deepEqual(
        hooks('via')
          .filter((m) => m.alert.kind === 'engine-down')
          .map((m) => m.status),
        ['firing', 'resolved'],
      );
      assert.deepEqual(hooks(name), [], 'no storm for what happened while the engine was away');
    } finally {
      await monitor.stop();
      gateway.child.kill('SIGTERM');
    }
  });
});

describe('alerts: resources and reminders', () => {
  it('cpu and memory above their thresholds for `for` fire (off by default); an open incident reminds until acknowledged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-alerts-res-'));
    const file = join(dir, 'monitor.yaml');
    writeFileSync(
      file,
      `version: 1
engines:
  - name: local
    url: ${engineUrl}
interval: 1s
alerts:
  cpu: { enabled: true, above: 50, for: 2s, scope: { labels: ["${SCOPE}"] } }
  memory: { enabled: true, above: 1MiB, for: 2s, scope: { labels: ["${SCOPE}"] } }
  died: { repeat: 2s, scope: { labels: ["${SCOPE}"] } }
  oom: { enabled: false }
  unhealthy: { enabled: false }
  restart-loop: { enabled: false }
notify:
  - { url: "${base}/res", ${ALONE} }
`,
    );
    const monitor = await startMonitor(['--config', file, '--data', join(dir, 'data')]);
    const res = (): { status: string; alert: Alert }[] =>
      received
        .filter((r) => r.path === '/res')
        .map((r) => JSON.parse(r.body) as { status: string; alert: Alert });
    try {
      const busy = await named('busy', ['sh', '-c', 'while true; do :; done']);
      const big = await named('big', ['sh', '-c', 'head -c 4000000 /dev/zero > /dev/shm/hold; sleep 300']);
      await waitFor(
        () => res().some((m) => m.alert.kind === 'cpu' && m.alert.container?.name === busy.name),
        { what: 'the cpu alert' },
      );
      await waitFor(
        () => res().some((m) => m.alert.kind === 'memory' && m.alert.container?.name === big.name),
        { what: 'the memory alert' },
      );
      assert.equal(res().filter((m) => m.alert.kind === 'cpu').length, 1, 'one message while it stays high');

      const token = await monitorToken(join(dir, 'data'), 'ops', 'operator');
      const crashed = await named('remind', ['sh', '-c', 'exit 5']);
      await waitFor(() => res().some((m) => m.alert.container?.name === crashed.name), {
        what: 'the died alert',
      });
      const id = res().find((m) => m.alert.container?.name === crashed.name)?.alert.id ?? '';
      const reminders = async (): Promise<number> =>
        (await json<{ deliveries: Delivery[] }>(`${monitor.url}/api/v1/alerts/${id}`)).deliveries.filter(
          (d) => d.event === 'reminder',
        ).length;
      await waitFor(async () => (await reminders()) >= 2, { what: 'two reminders' });
      const acked = await fetch(`${monitor.url}/api/v1/alerts/${id}/ack`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(acked.status, 200);
      const after = await reminders();
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal(await reminders(), after, 'no reminders once acknowledged');
    } finally {
      await monitor.stop();
    }
  });
});
