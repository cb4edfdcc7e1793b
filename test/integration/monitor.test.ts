import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Agent, fetch as undiciFetch } from 'undici';
import { DockerClient } from '../../src/client/index.js';
import { databaseFile } from '../../src/monitor/config/monitor-config.js';
import type { ContainerItem } from '../../src/monitor/model/container.js';
import type { EngineView } from '../../src/monitor/state/live-state.js';
import type { TimelineEntry } from '../../src/monitor/store/history.js';
import { makeTestPki } from '../helpers/certs.js';
import { startDockgate } from '../helpers/dockgate-process.js';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { monitorCli, monitorToken, SseReader, startMonitor } from '../helpers/monitor-process.js';
import { freePort } from '../helpers/ports.js';
import { startPrivateEngine } from '../helpers/private-engine.js';
import { ensureTestImage } from '../helpers/test-image.js';
import { waitFor } from '../helpers/wait.js';

/** `dockgate monitor` against the real private engine, as a real process (issue 12). */
const client = testClient();
const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const engineUrl = testEngine().host;
const cleanup: string[] = [];

after(async () => {
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

async function json<T>(url: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

const newData = (): string => mkdtempSync(join(tmpdir(), 'dockgate-monitor-'));

async function container(
  cmd: string[],
  extra: { hostConfig?: Record<string, unknown> } = {},
): Promise<string> {
  const id = await createContainer(client, cmd, extra);
  cleanup.push(id);
  return id;
}

describe('dockgate monitor: live state', () => {
  it('a kill is on the stream at once: container event with state exited and exitCode 137; the timeline has it once', async () => {
    const monitor = await startMonitor([
      '--engine',
      `local=${engineUrl}`,
      '--data',
      newData(),
      '--interval',
      '1s',
    ]);
    try {
      assert.match(
        monitor.stderr(),
        new RegExp(`watching local \\(${engineUrl.replace(/[/.]/g, '\\$&')}\\)`),
      );
      const id = await container(['sleep', '300']);
      await waitFor(
        async () =>
          (await json<ContainerItem>(`${monitor.url}/api/v1/containers/local/${id}`)).body?.state ===
          'running',
      );
      const stream = new SseReader(`${monitor.url}/api/v1/stream`);
      await sleep(100);
      await client.json('POST', `/containers/${id}/kill`);
      await waitFor(() =>
        stream.events.some(
          (e) =>
            e.event === 'container' &&
            (e.data as ContainerItem).id === id &&
            (e.data as ContainerItem).state === 'exited',
        ),
      );
      const exited = stream.events.find(
        (e) =>
          e.event === 'container' &&
          (e.data as ContainerItem).id === id &&
          (e.data as ContainerItem).state === 'exited',
      )?.data as ContainerItem;
      assert.equal(exited.exitCode, 137);
      assert.equal(exited.name.startsWith('/'), false);
      await stream.close();

      const detail = await json<ContainerItem & { timeline: TimelineEntry[] }>(
        `${monitor.url}/api/v1/containers/local/${id.slice(0, 12)}`,
      );
      assert.equal(detail.status, 200);
      assert.equal(detail.body.id, id, 'a prefix resolves to the full id');
      const actions = detail.body.timeline.map((t) => t.action);
      assert.deepEqual(actions, ['create', 'start', 'kill', 'die']);
      const die = detail.body.timeline.find((t) => t.action === 'die');
      assert.equal(die?.exitCode, 137);
      assert.equal(die?.expected, true, "the user's kill made it expected");

      const list = await json<ContainerItem[]>(`${monitor.url}/api/v1/containers?engine=local&state=exited`);
      assert.ok(list.body.some((c) => c.id === id));
      const engines = await json<EngineView[]>(`${monitor.url}/api/v1/engines`);
      assert.equal(engines.body[0]?.status, 'up');
      assert.equal(engines.body[0]?.apiVersion, '1.41');
    } finally {
      await monitor.stop();
    }
  });

  it('errors: unknown engine or container → 404 JSON; a bad query value → 400 naming the parameter', async () => {
    const monitor = await startMonitor(['--engine', `local=${engineUrl}`, '--data', newData()]);
    try {
      const engine = await json<{ message: string }>(`${monitor.url}/api/v1/containers/nope/abc`);
      assert.equal(engine.status, 404);
      assert.match(engine.body.message, /no engine named nope/);
      const missing = await json<{ message: string }>(
        `${monitor.url}/api/v1/containers/local/no-such-container`,
      );
      assert.equal(missing.status, 404);
      const state = await json<{ message: string }>(`${monitor.url}/api/v1/containers?state=sleeping`);
      assert.equal(state.status, 400);
      assert.match(state.body.message, /^state: /);
      const step = await json<{ message: string }>(`${monitor.url}/api/v1/containers/local/x/stats?step=abc`);
      assert.equal(step.status, 404, 'the container is looked up first');
      const route = await json<{ message: string }>(`${monitor.url}/api/v2/nothing`);
      assert.equal(route.status, 404);
      assert.equal(typeof route.body.message, 'string');
    } finally {
      await monitor.stop();
    }
  });
});

describe('dockgate monitor: who may do what', () => {
  it('tokens and roles: a viewer is refused an action (403), an operator is allowed; unknown and revoked tokens get 401', async () => {
    const data = newData();
    const monitor = await startMonitor(['--engine', `local=${engineUrl}`, '--data', data]);
    try {
      const viewer = await monitorToken(data, 'watcher', 'viewer');
      const operator = await monitorToken(data, 'oncall', 'operator');
      const id = await container(['sleep', '300']);
      await waitFor(
        async () =>
          (await json<ContainerItem>(`${monitor.url}/api/v1/containers/local/${id}`)).body?.state ===
          'running',
      );
      const auth = (token: string): RequestInit => ({
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });

      const refused = await json<{ message: string }>(
        `${monitor.url}/api/v1/containers/local/${id}/stop?t=1`,
        auth(viewer),
      );
      assert.equal(refused.status, 403);
      assert.match(refused.body.message, /needs the operator role; watcher is viewer/);
      const anonymous = await json<{ message: string }>(`${monitor.url}/api/v1/containers/local/${id}/stop`, {
        method: 'POST',
      });
      assert.equal(anonymous.status, 403, 'anonymous on loopback is a viewer');
      const unknown = await json<{ message: string }>(`${monitor.url}/api/v1/engines`, {
        headers: { Authorization: 'Bearer dgm_nope' },
      });
      assert.equal(unknown.status, 401);

      const stopped = await json<{ ok: boolean }>(
        `${monitor.url}/api/v1/containers/local/${id}/stop?t=1`,
        auth(operator),
      );
      assert.equal(stopped.status, 200);
      await waitFor(
        async () =>
          (await json<ContainerItem>(`${monitor.url}/api/v1/containers/local/${id}`)).body?.state ===
          'exited',
      );
      const detail = await json<{ timeline: TimelineEntry[] }>(
        `${monitor.url}/api/v1/containers/local/${id}`,
      );
      const asked = detail.body.timeline.find((t) => t.kind === 'action');
      assert.deepEqual([asked?.action, asked?.by], ['stop', 'oncall']);
      assert.equal(detail.body.timeline.find((t) => t.action === 'die')?.expected, true);
      // The audit line (log lines are written in batches).
      await waitFor(
        () =>
          /"msg":"container action".*"by":"oncall"|"by":"oncall".*"msg":"container action"/.test(
            monitor.stdout(),
          ),
        {
          what: 'the action audit line',
        },
      );

      // Logs need the operator role.
      assert.equal(
        (
          await json(`${monitor.url}/api/v1/containers/local/${id}/logs`, {
            headers: { Authorization: `Bearer ${viewer}` },
          })
        ).status,
        403,
      );

      const revoked = await monitorCli(['token', 'revoke', 'oncall', '--data', data]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal(
        (await json(`${monitor.url}/api/v1/engines`, { headers: { Authorization: `Bearer ${operator}` } }))
          .status,
        401,
      );
    } finally {
      await monitor.stop();
    }
  });

  it('safe by default: a non-loopback http listener needs --insecure; --anonymous-role none refuses anonymous reads', async () => {
    await assert.rejects(
      startMonitor(['--engine', `local=${engineUrl}`, '--data', newData(), '--listen', 'http://0.0.0.0:0']),
      /plain http on a non-loopback address/,
    );
    const monitor = await startMonitor([
      '--engine',
      `local=${engineUrl}`,
      '--data',
      newData(),
      '--anonymous-role',
      'none',
    ]);
    try {
      assert.equal((await json(`${monitor.url}/api/v1/containers`)).status, 401);
      assert.equal((await json(`${monitor.url}/healthz`)).status, 200, 'health needs no token');
    } finally {
      await monitor.stop();
    }
  });
});

describe('dockgate monitor: logs and actions', () => {
  it('logs: tail with stdout and stderr apart and timestamps; follow as server-sent events', async () => {
    const data = newData();
    const monitor = await startMonitor([
      '--engine',
      `local=${engineUrl}`,
      '--data',
      data,
      '--anonymous-role',
      'operator',
    ]);
    try {
      const id = await container(['sh', '-c', 'echo out-1; echo err-1 >&2; sleep 300']);
      await waitFor(async () => {
        const { body } = await json<{ lines: { stream: string; text: string; time: string }[] }>(
          `${monitor.url}/api/v1/containers/local/${id}/logs?tail=10`,
        );
        return body.lines.length >= 2;
      });
      const { body } = await json<{ lines: { stream: string; text: string; time: string }[] }>(
        `${monitor.url}/api/v1/containers/local/${id}/logs?tail=10`,
      );
      assert.deepEqual(
        body.lines
          .filter((l) => l.text.endsWith('-1'))
          .map((l) => [l.stream, l.text])
          .sort(),
        [
          ['stderr', 'err-1'],
          ['stdout', 'out-1'],
        ],
      );
      assert.match(body.lines[0]?.time ?? '', /^\d{4}-\d\d-\d\dT/);
      // follow: a container that keeps writing; its next lines arrive as `log` events.
      const ticking = await container([
        'sh',
        '-c',
        'i=0; while true; do i=$((i+1)); echo tick-$i; echo warn-$i >&2; sleep 0.2; done',
      ]);
      const follow = new SseReader(
        `${monitor.url}/api/v1/containers/local/${ticking}/logs?follow=true&tail=0&stderr=false`,
      );
      await waitFor(() => follow.events.filter((e) => e.event === 'log').length >= 3, {
        what: 'three followed lines',
      });
      await follow.close();
      const followed = follow.events
        .filter((e) => e.event === 'log')
        .map((e) => e.data as { stream: string; text: string });
      assert.ok(
        followed.every((l) => l.stream === 'stdout' && l.text.startsWith('tick-')),
        'stderr=false: stdout only',
      );
      assert.equal((await json(`${monitor.url}/api/v1/containers/local/${id}/logs?tail=x`)).status, 400);
    } finally {
      await monitor.stop();
    }
  });
});

describe('dockgate monitor: history that survives', () => {
  it('SIGTERM and a restart keep timelines and samples', async () => {
    const data = newData();
    const args = ['--engine', `local=${engineUrl}`, '--data', data, '--interval', '1s'];
    const first = await startMonitor(args);
    const id = await container(['sleep', '300']);
    try {
      await waitFor(
        async () =>
          (
            await json<{ points: unknown[] }>(
              `${first.url}/api/v1/containers/local/${id}/stats?since=10m&step=1s`,
            )
          ).body?.points?.length >= 2,
        {
          what: 'two samples',
        },
      );
    } finally {
      assert.equal(await first.stop(), 0, 'SIGTERM: exit 0');
    }
    await client.json('POST', `/containers/${id}/stop`, { query: { t: 1 } }); // while the monitor is away
    const second = await startMonitor(args);
    try {
      await waitFor(
        async () =>
          (await json<ContainerItem>(`${second.url}/api/v1/containers/local/${id}`)).body?.state === 'exited',
      );
      const detail = await json<{ timeline: TimelineEntry[] }>(`${second.url}/api/v1/containers/local/${id}`);
      const actions = detail.body.timeline.map((t) => t.action);
      assert.deepEqual(actions.slice(0, 2), ['create', 'start'], "the first run's timeline is kept");
      assert.equal(
        actions.filter((a) => a === 'die').length,
        1,
        'the stop while away is in the history once',
      );
      const stats = await json<{ points: unknown[] }>(
        `${second.url}/api/v1/containers/local/${id}/stats?since=10m&step=1s`,
      );
      assert.ok(stats.body.points.length >= 2, "the first run's samples are kept");
    } finally {
      await second.stop();
    }
  });

  it('regression: SIGKILL under write load leaves a file that passes the integrity check and reopens', async () => {
    const data = newData();
    // The SQLite file itself is what this is about (with PostgreSQL see cluster-failover's restart).
    const args = ['--engine', `local=${engineUrl}`, '--data', data, '--store', 'sqlite:', '--interval', '1s'];
    const monitor = await startMonitor(args);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 6; i++) ids.push(await container(['sleep', '300']));
      // Write load: samples every second for each, and lifecycle events.
      for (let i = 0; i < 4; i++) {
        const id = await container(['true'], {});
        await removeContainer(client, id);
      }
      await sleep(1500);
      monitor.child.kill('SIGKILL');
      await once(monitor.child, 'exit');
    } finally {
      if (monitor.child.exitCode === null) monitor.child.kill('SIGKILL');
    }
    const db = new Database(databaseFile(data), { readonly: false });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const samples = db.prepare('SELECT count(*) AS n FROM samples').get() as { n: number };
      assert.ok(samples.n > 0, 'samples were written before the kill');
    } finally {
      db.close();
    }
    const again = await startMonitor(args);
    assert.equal((await json(`${again.url}/healthz`)).status, 200);
    await again.stop();
  });
});

describe('dockgate monitor: engines', () => {
  it('cut the path to the engine (a gateway in between), stop a container directly, restore: the transition is in the API and the timeline once', async () => {
    const port = await freePort();
    // No shutdown grace: the gateway cuts the monitor's events stream at once when it stops.
    const gatewayArgs = [
      '--listen',
      `tcp://127.0.0.1:${port}`,
      '--profile',
      'read-only',
      '--shutdown-grace',
      '0',
    ];
    let gateway = await startDockgate(gatewayArgs);
    const monitor = await startMonitor([
      '--engine',
      `via=tcp://127.0.0.1:${port}`,
      '--data',
      newData(),
      '--interval',
      '1s',
    ]);
    try {
      const id = await container(['sleep', '300']);
      await waitFor(
        async () =>
          (await json<ContainerItem>(`${monitor.url}/api/v1/containers/via/${id}`)).body?.state === 'running',
      );
      await waitFor(
        async () =>
          (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body[0]?.statsPath === 'gateway',
        {
          what: 'stats through the gateway',
        },
      );
      gateway.child.kill('SIGTERM');
      await once(gateway.child, 'exit');
      await waitFor(
        async () => (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body[0]?.status === 'down',
        { what: 'engine down' },
      );
      const down = (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body[0];
      assert.equal(typeof down?.error, 'string');
      await client.json('POST', `/containers/${id}/stop`, { query: { t: 1 } });
      gateway = await startDockgate(gatewayArgs);
      assert.equal(
        (await json<ContainerItem>(`${monitor.url}/api/v1/containers/via/${id}`)).body.state,
        'running',
        'unseen while down',
      );
      // Backoff is capped at 10 s: the engine is seen again within about that.
      await waitFor(
        async () => (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body[0]?.status === 'up',
        { what: 'engine up again' },
      );
      await waitFor(
        async () =>
          (await json<ContainerItem>(`${monitor.url}/api/v1/containers/via/${id}`)).body?.state === 'exited',
        {
          what: 'the stop seen after the reconnect',
        },
      );
      const detail = await json<{ timeline: TimelineEntry[] }>(`${monitor.url}/api/v1/containers/via/${id}`);
      const dies = detail.body.timeline.filter((t) => t.action === 'die');
      assert.equal(dies.length, 1, JSON.stringify(detail.body.timeline));
      assert.equal(dies[0]?.kind, 'event', 'replayed from the engine, not guessed');
      const view = (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body[0];
      assert.equal(view?.status, 'up', JSON.stringify(view));
    } finally {
      await monitor.stop();
      gateway.child.kill('SIGTERM');
    }
  });

  it('two engines (two private dockerds) in one monitor', async () => {
    const second = await startPrivateEngine();
    const other = new DockerClient({ engine: second.host });
    try {
      const image = await ensureTestImage(other, join(root, '.cache', 'test-image'));
      const { Id } = await other.json<{ Id: string }>('POST', '/containers/create', {
        body: { Image: image, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } },
      });
      await other.json('POST', `/containers/${Id}/start`);
      const mine = await container(['sleep', '300']);
      const monitor = await startMonitor([
        '--engine',
        `a=${engineUrl}`,
        '--engine',
        `b=${second.host}`,
        '--data',
        newData(),
      ]);
      try {
        await waitFor(async () => {
          const engines = (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body;
          return engines.length === 2 && engines.every((e) => e.status === 'up');
        });
        const onB = (await json<ContainerItem[]>(`${monitor.url}/api/v1/containers?engine=b`)).body;
        assert.deepEqual(
          onB.map((c) => c.id),
          [Id],
        );
        const onA = (await json<ContainerItem[]>(`${monitor.url}/api/v1/containers?engine=a`)).body;
        assert.ok(onA.some((c) => c.id === mine));
        await other.json('DELETE', `/containers/${Id}`, { query: { force: 1 } });
      } finally {
        await monitor.stop();
      }
    } finally {
      await other.close();
      await second.stop();
    }
  });
});

describe('dockgate monitor: bad engines never take it down', () => {
  it('an engine that is down, one that answers garbage and one that never answers do not block the others or the API', async () => {
    const garbage = createServer((socket) => {
      socket.on('data', () =>
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\nnot json!'),
      );
    });
    const silent = createServer(() => {}); // accepts, never answers
    garbage.listen(0, '127.0.0.1');
    silent.listen(0, '127.0.0.1');
    await Promise.all([once(garbage, 'listening'), once(silent, 'listening')]);
    const downPort = await freePort();
    const monitor = await startMonitor(
      [
        '--engine',
        `local=${engineUrl}`,
        '--engine',
        `garbage=tcp://127.0.0.1:${(garbage.address() as { port: number }).port}`,
        '--engine',
        `silent=tcp://127.0.0.1:${(silent.address() as { port: number }).port}`,
        '--engine',
        `gone=tcp://127.0.0.1:${downPort}`,
        '--data',
        newData(),
      ],
      {},
      { waitUp: ['local'] },
    );
    try {
      const id = await container(['sleep', '300']);
      await waitFor(
        async () =>
          (await json<ContainerItem>(`${monitor.url}/api/v1/containers/local/${id}`)).body?.state ===
          'running',
        {
          what: 'the good engine served while the others fail',
        },
      );
      const status = async (): Promise<Record<string, EngineView>> =>
        Object.fromEntries(
          (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body.map((e) => [e.name, e]),
        );
      await waitFor(async () => {
        const s = await status();
        return s.garbage?.status === 'down' && s.gone?.status === 'down';
      });
      const s = await status();
      assert.match(s.gone?.error ?? '', /ECONNREFUSED/);
      assert.equal(typeof s.garbage?.error, 'string');
      assert.ok(
        ['connecting', 'down'].includes(s.silent?.status ?? ''),
        'the silent engine is never shown as up',
      );
      // Every finite call has a timeout: the silent engine ends up down with the reason.
      await waitFor(async () => (await status()).silent?.status === 'down', {
        what: 'the silent engine timed out',
      });
      assert.match((await status()).silent?.error ?? '', /timed out/);
      assert.equal(monitor.child.exitCode, null, 'the monitor is still running');
    } finally {
      await monitor.stop();
      garbage.close();
      silent.close();
    }
  });

  it('regression: an engine whose inspect hangs (ping and lists answer) is shown degraded with the reason; events still drive the state', async () => {
    const relay = new EngineRelay();
    await relay.start();
    const monitor = await startMonitor(['--engine', `hung=${relay.url}`, '--data', newData()]);
    try {
      relay.hangOn(/GET \/containers\/[0-9a-f]{64}\/json/);
      const id = await container(['sleep', '300']);
      await waitFor(
        async () =>
          (await json<ContainerItem>(`${monitor.url}/api/v1/containers/hung/${id}`)).body?.state ===
          'running',
        {
          what: 'the state from events alone',
        },
      );
      await waitFor(
        async () =>
          (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body[0]?.status === 'degraded',
        {
          what: 'degraded once the inspect timed out',
        },
      );
      const view = (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body[0];
      assert.match(view?.error ?? '', /inspect timed out after 10 s/);
      assert.equal((await json(`${monitor.url}/api/v1/containers`)).status, 200, 'the API answers meanwhile');
    } finally {
      relay.hangOn(undefined);
      await monitor.stop();
      await relay.stop();
    }
  });
});

describe('dockgate monitor: configuration', () => {
  it('hot reload of the engine list: on file change and on SIGHUP; an invalid file keeps the engines in force', async () => {
    const dir = newData();
    const config = join(dir, 'monitor.yaml');
    writeFileSync(config, `version: 1\nengines:\n  - name: one\n    url: ${engineUrl}\n`);
    const monitor = await startMonitor(['--config', config, '--data', join(dir, 'data')]);
    const names = async (): Promise<string[]> =>
      (await json<EngineView[]>(`${monitor.url}/api/v1/engines`)).body.map((e) => e.name).sort();
    try {
      assert.deepEqual(await names(), ['one']);
      writeFileSync(
        config,
        `version: 1\nengines:\n  - name: one\n    url: ${engineUrl}\n  - name: two\n    url: ${engineUrl}\n`,
      );
      await waitFor(async () => (await names()).join() === 'one,two', { what: 'two added on file change' });
      writeFileSync(config, 'version: 1\nengines: [ { name: "bad name", url: x } ]\n');
      await waitFor(() => monitor.stdout().includes('engine list reload rejected'), {
        what: 'the invalid file logged',
      });
      assert.deepEqual(await names(), ['one', 'two'], 'the engines in force stay');
      writeFileSync(config, `version: 1\nengines:\n  - name: two\n    url: ${engineUrl}\n`);
      monitor.child.kill('SIGHUP');
      await waitFor(async () => (await names()).join() === 'two', { what: 'one removed' });
    } finally {
      await monitor.stop();
    }
  });

  it('https listener with a certificate; metrics and health', async () => {
    const pki = makeTestPki();
    const monitor = await startMonitor(
      [
        '--engine',
        `local=${engineUrl}`,
        '--data',
        newData(),
        '--listen',
        'https://127.0.0.1:0',
        '--tls-cert',
        pki.serverCert,
        '--tls-key',
        pki.serverKey,
      ],
      {},
      { waitUp: false },
    );
    try {
      assert.match(monitor.url, /^https:/);
      const id = await container(['sleep', '300']);
      const agent = new Agent({ connect: { ca: readFileSync(pki.ca) } });
      await waitFor(async () => {
        const response = await undiciFetch(`${monitor.url}/metrics`, { dispatcher: agent });
        // This container, seen running (other tests' containers may be listed before it).
        return new RegExp(`id="/docker/${id}",[^}]*state="running"`).test(await response.text());
      });
      const metrics = await (await undiciFetch(`${monitor.url}/metrics`, { dispatcher: agent })).text();
      assert.match(metrics, /dockgate_engine_up\{engine="local"\} 1/);
      assert.match(
        metrics,
        new RegExp(
          `dockgate_container_info\\{name="[^"]+",image="[^"]+",id="/docker/${id}",engine="local",compose_project="",compose_service="",state="running",health="none",restart_policy="[^"]*"\\} 1`,
        ),
      );
      const health = await (await undiciFetch(`${monitor.url}/healthz`, { dispatcher: agent })).json();
      assert.deepEqual((health as { history: { writing: boolean } }).history.writing, true);
      await agent.close();
    } finally {
      await monitor.stop();
    }
  });
});

describe('dockgate monitor: a full disk', () => {
  it('keeps serving live state, says in /healthz and the log that history is not being written, and recovers', async () => {
    const dir = newData();
    // A real full disk: a 2 MiB tmpfs for the data directory, filled up once the monitor runs.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
    let monitor: Awaited<ReturnType<typeof startMonitor>> | undefined;
    try {
      // A full disk under SQLite (PostgreSQL away: cluster-failover's restart under load).
      monitor = await startMonitor([
        '--engine',
        `local=${engineUrl}`,
        '--data',
        dir,
        '--store',
        'sqlite:',
        '--interval',
        '1s',
      ]);
      const url = monitor.url;
      await run('sh', ['-c', `dd if=/dev/zero of=${dir}/filler bs=64k count=64 2>/dev/null || true`]);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await container(['sleep', '300']));
      await waitFor(async () => (await json(`${url}/healthz`)).status === 503, {
        what: 'healthz says history is failing',
      });
      const health = await json<{ history: { writing: boolean; error: string } }>(`${url}/healthz`);
      assert.equal(health.body.history.writing, false);
      assert.match(health.body.history.error, /history is not being written: .*(full|disk)/i);
      await waitFor(() => monitor?.stdout().includes('history is not being written') === true, {
        what: 'the log line',
      });
      // Live state goes on.
      const listed = (await json<ContainerItem[]>(`${url}/api/v1/containers?state=running`)).body.map(
        (c) => c.id,
      );
      for (const id of ids) assert.ok(listed.includes(id), 'new containers are shown live');
      await run('rm', ['-f', `${dir}/filler`]);
      await waitFor(async () => (await json(`${url}/healthz`)).status === 200, {
        what: 'history written again',
      });
      const detail = await json<{ timeline: TimelineEntry[] }>(`${url}/api/v1/containers/local/${ids[0]}`);
      assert.ok(
        detail.body.timeline.some((t) => t.action === 'start'),
        'what was queued while full is written after',
      );
    } finally {
      await monitor?.stop();
      await run('umount', [dir]).catch(() => {});
    }
  });
});
