import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { DockerClient } from '../../src/client/index.js';
import { databaseFile } from '../../src/monitor/config/monitor-config.js';
import type { ContainerItem } from '../../src/monitor/model/container.js';
import type { EngineView } from '../../src/monitor/state/live-state.js';
import type { TimelineEntry } from '../../src/monitor/store/history.js';
import { startDockgate } from '../helpers/dockgate-process.js';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { SseReader, startMonitor } from '../helpers/monitor-process.js';
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

async function tokenAdd(data: string, name: string, role: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'monitor', 'token', 'add', name, '--role', role, '--data', data],
    {
      cwd: root,
    },
  );
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'the token alone on its own line');
  return lines[0] as string;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
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
      const exited = stream.events.find((e) => (e.data as ContainerItem).state === 'exited')
        ?.data as ContainerItem;
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
      const viewer = await tokenAdd(data, 'watcher', 'viewer');
      const operator = await tokenAdd(data, 'oncall', 'operator');
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

      await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'monitor', 'token', 'revoke', 'oncall', '--data', data],
        { cwd: root },
      );
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
    const args = ['--engine', `local=${engineUrl}`, '--data', data, '--interval', '1s'];
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
