import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContainerInspect } from '../../src/client/types.js';
import type { ContainerItem } from '../../src/monitor/model/container.js';
import { RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { type MonitorProcess, monitorToken, SseReader, startMonitor } from '../helpers/monitor-process.js';
import { type PrivateRegistry, pushImage, startPrivateRegistry } from '../helpers/private-registry.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 26, updating: a container updated to its tag's new image on a real registry (Debian's
 * docker-registry on 127.0.0.1) and a real engine — every setting kept but the old image's
 * defaults, gated on health, rolled back by itself, finished or undone after the monitor is
 * killed in the middle, refused by a `deploy` gateway's policy with nothing changed.
 */
const client = testClient();
const { runId } = testEngine();
const containers: string[] = [];
const volumes: string[] = [];
const newDir = (): string => mkdtempSync(join(tmpdir(), 'dockgate-update-'));

interface Progress {
  event: string;
  data: { step?: string; message?: string; status?: number; result?: string } & Record<string, unknown>;
}

async function createNamed(name: string, body: Record<string, unknown>): Promise<string> {
  const created = await client.json<{ Id: string }>('POST', '/containers/create', {
    query: { name },
    body: { Labels: { [RUN_LABEL]: runId }, ...body },
  });
  containers.push(created.Id);
  await client.containers.start(created.Id);
  return created.Id;
}

function configFile(engineUrl: string, registry: string, settle: string): string {
  const file = join(newDir(), 'monitor.yaml');
  writeFileSync(
    file,
    [
      'version: 1',
      'engines:',
      '  - name: local',
      `    url: ${engineUrl}`,
      'registries:',
      `  - host: ${registry}`,
      '    insecure: true',
      'updates:',
      `  settle: ${settle}`,
      '',
    ].join('\n'),
  );
  return file;
}

async function api(
  monitor: MonitorProcess,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(`${monitor.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
}

/** The update as server-sent events, every event kept; `onEvent` may act as they come. */
async function updateWithEvents(
  monitor: MonitorProcess,
  token: string,
  engineId: string,
  onEvent: (e: Progress) => void = () => {},
): Promise<Progress[]> {
  const reader = new SseReader(
    `${monitor.url}/api/v1/containers/local/${engineId}/update`,
    { authorization: `Bearer ${token}` },
    { method: 'POST', onEvent: (e) => onEvent(e as Progress) },
  );
  await reader.ended();
  assert.equal(reader.contentType, 'text/event-stream; charset=utf-8');
  return reader.events as unknown as Progress[];
}

async function named(name: string): Promise<{ Id: string; Names: string[]; State: string }[]> {
  const list = await client.containers.list({ all: true, filters: { name: [name] } });
  return list as unknown as { Id: string; Names: string[]; State: string }[];
}

async function alertsOf(monitor: MonitorProcess, kind: string, id: string): Promise<unknown[]> {
  const all = (await (await fetch(`${monitor.url}/api/v1/alerts`)).json()) as {
    kind: string;
    container: { id: string } | null;
  }[];
  return all.filter((a) => a.kind === kind && a.container?.id === id);
}

/** The inspect answer with what must differ after an update taken out (ids, times, state, paths). */
function comparable(c: ContainerInspect): Record<string, unknown> {
  const {
    Id: _id,
    Created: _created,
    State: _state,
    Image: _image,
    ResolvConfPath: _r,
    HostnamePath: _h,
    HostsPath: _hs,
    LogPath: _l,
    RestartCount: _rc,
    GraphDriver: _g,
    // Runtime state, not a setting: the health check's exec in flight at the moment of inspect
    // (null between checks) — it differed once in a clean-clone run.
    ExecIDs: _execs,
    NetworkSettings,
    Mounts,
    Config,
    HostConfig,
    ...rest
  } = c as Record<string, unknown> & ContainerInspect;
  const { Hostname: _hostname, Env, Labels, Image, ...config } = (Config ?? {}) as Record<string, unknown>;
  const { Mounts: _hostMounts, ...host } = (HostConfig ?? {}) as Record<string, unknown>;
  return {
    rest,
    config,
    image: Image,
    env: [...((Env as string[]) ?? [])].sort(),
    labels: Labels,
    host,
    networks: Object.keys(NetworkSettings?.Networks ?? {}),
    mounts: (Mounts ?? [])
      .map((m) => ({
        Type: m.Type,
        Name: m.Name ?? '',
        Source: m.Source,
        Destination: m.Destination,
        RW: m.RW,
      }))
      .sort((a, b) => String(a.Destination).localeCompare(String(b.Destination))),
  };
}

describe('updating a container (anonymous registry, the engine directly)', () => {
  let registry: PrivateRegistry & { remove(): Promise<void> };
  let monitor: MonitorProcess;
  let token: string;
  const tag = (): string => `${registry.host}/dockgate-test/svc:stable`;
  const name = `upd-${runId}-svc`;
  let v1 = '';
  let v2 = '';
  let updatedId = '';
  before(async () => {
    registry = await startPrivateRegistry();
    const data = newDir();
    token = await monitorToken(data, 'ops', 'operator');
    monitor = await startMonitor([
      '--config',
      configFile(testEngine().host, registry.host, '2s'),
      '--data',
      data,
    ]);
  });
  after(async () => {
    await monitor.stop();
    await registry.remove();
    for (const id of containers) await removeContainer(client, id).catch(() => {});
    for (const v of volumes) await client.volumes.remove(v).catch(() => {});
  });

  it('keeps every setting but the old image defaults, gated on health; the answer streams its progress', async () => {
    v1 = await pushImage(client, tag(), ['ENV APP_VERSION=1 APP_HOME=/srv', 'LABEL app.version=1']);
    const bind = newDir();
    const volume = `upd-${runId}-data`;
    volumes.push(volume);
    const oldId = await createNamed(name, {
      Image: tag(),
      Cmd: ['sh', '-c', 'exec sleep 600'],
      Env: ['APP_MODE=prod', 'APP_VERSION_PINNED=yes'],
      Labels: { [RUN_LABEL]: runId, 'com.example.team': 'ops' },
      Volumes: { '/cache': {} },
      Healthcheck: {
        Test: ['CMD-SHELL', 'test -n "$APP_VERSION"'],
        Interval: 1e9,
        StartPeriod: 5e9,
        Retries: 3,
      },
      StopTimeout: 3,
      HostConfig: {
        NetworkMode: 'none',
        Binds: [`${bind}:/data:ro`, `${volume}:/vol`],
        RestartPolicy: { Name: 'unless-stopped' },
        Memory: 64 * 1024 * 1024,
        CapDrop: ['NET_RAW'],
      },
    });
    await waitFor(async () => (await client.containers.inspect(oldId)).State?.Health?.Status === 'healthy', {
      what: 'the old container healthy',
    });
    v2 = await pushImage(client, tag(), ['ENV APP_VERSION=2 APP_HOME=/srv', 'LABEL app.version=2']);
    const checked = await api(monitor, token, 'POST', '/api/v1/updates/check');
    assert.deepEqual(
      (checked.body as unknown as ContainerItem[]).map((c) => c.id),
      [oldId],
    );

    // What will happen, first: nothing changes.
    const plan = await api(monitor, token, 'POST', `/api/v1/containers/local/${oldId}/update`, {
      dryRun: true,
    });
    assert.equal(plan.status, 200);
    assert.equal(plan.body.result, 'plan');
    assert.equal(plan.body.from, v1);
    assert.equal(plan.body.to, v2);
    const settings = plan.body.settings as { setting: string; effect: string; from?: string; to?: string }[];
    const about = (s: string) => settings.find((x) => x.setting === s);
    assert.deepEqual(
      { ...about('Env APP_VERSION') },
      {
        setting: 'Env APP_VERSION',
        effect: 'changed',
        from: 'APP_VERSION=1',
        to: 'APP_VERSION=2',
        why: "the new image's default",
      },
    );
    assert.equal(about('Env APP_MODE')?.effect, 'kept');
    assert.equal(about('Labels app.version')?.effect, 'changed');
    assert.equal(about('Labels com.example.team')?.effect, 'kept');
    assert.equal(about('HostConfig.Memory')?.effect, 'kept');
    assert.equal(about('Volume /cache')?.effect, 'kept');
    assert.deepEqual(plan.body.gate, { kind: 'health', timeoutMs: 8000 });
    assert.equal((await named(name)).length, 1);

    const before = await client.containers.inspect(oldId);
    const events = await updateWithEvents(monitor, token, oldId);
    const result = events.at(-1);
    assert.equal(result?.event, 'result', JSON.stringify(events));
    assert.equal(result?.data.status, 200);
    assert.equal(result?.data.result, 'updated');
    assert.equal(result?.data.from, v1);
    assert.equal(result?.data.to, v2);
    const steps = [...new Set(events.filter((e) => e.event === 'progress').map((e) => e.data.step))];
    assert.deepEqual(steps, ['pull', 'plan', 'rename', 'create', 'stop', 'start', 'gate', 'done']);
    updatedId = String(result?.data.id);
    assert.notEqual(updatedId, oldId);

    const after = await client.containers.inspect(updatedId);
    assert.equal(after.State?.Health?.Status, 'healthy');
    assert.equal(after.Config?.Image, tag(), 'the reference as given, not a digest');
    const image = await client.images.inspect(String(after.Image));
    assert.ok(image.RepoDigests?.some((d) => d.endsWith(v2)));
    // Field by field: equal but for ids, times, state, and what v2's image changed.
    const [was, now] = [comparable(before), comparable(after)];
    assert.deepEqual(now.rest, was.rest);
    assert.deepEqual(now.config, was.config);
    assert.deepEqual(now.host, was.host);
    assert.deepEqual(now.networks, was.networks);
    assert.deepEqual(now.mounts, was.mounts, 'the bind, the named volume, the same anonymous volume');
    assert.equal(now.image, was.image);
    assert.deepEqual(
      now.env,
      (was.env as string[]).map((e) => (e === 'APP_VERSION=1' ? 'APP_VERSION=2' : e)),
      "v2's default replaces v1's; the user's own entries stay",
    );
    assert.deepEqual(now.labels, { ...(was.labels as object), 'app.version': '2' });
    await assert.rejects(client.containers.inspect(oldId), /404|No such container/);
    assert.equal((await named(name)).length, 1);

    // The timeline says who updated, from what to what; the next check says current.
    const detail = (await (await fetch(`${monitor.url}/api/v1/containers/local/${updatedId}`)).json()) as {
      timeline: { action: string; by?: string; detail?: Record<string, string> }[];
    };
    const entry = detail.timeline.find((t) => t.action === 'update');
    assert.equal(entry?.by, 'ops');
    assert.equal(entry?.detail?.from, v1);
    assert.equal(entry?.detail?.to, v2);
    await waitFor(
      async () => {
        const list = (await (await fetch(`${monitor.url}/api/v1/containers`)).json()) as ContainerItem[];
        return list.find((c) => c.id === updatedId)?.update.status === 'current';
      },
      { what: 'the updated container current' },
    );
  });

  it('a new image that exits is rolled back: the same container runs v2 again, one update-failed alert', async () => {
    assert.ok(updatedId !== '', 'runs after the update test');
    await pushImage(client, tag(), [
      'ENV APP_VERSION=3',
      'ENTRYPOINT ["sh", "-c", "echo v3 cannot start >&2; exit 1"]',
    ]);
    const answer = await api(monitor, token, 'POST', `/api/v1/containers/local/${updatedId}/update`);
    assert.equal(answer.status, 409, JSON.stringify(answer.body));
    assert.equal(answer.body.result, 'rolled-back');
    assert.match(String(answer.body.reason), /exited with code 1|restarted/);
    assert.ok(
      (answer.body.logs as string[]).some((l) => l.includes('v3 cannot start')),
      JSON.stringify(answer.body),
    );
    const back = await client.containers.inspect(updatedId);
    assert.equal(back.Name, `/${name}`);
    assert.equal(back.State?.Running, true);
    assert.ok((await client.images.inspect(String(back.Image))).RepoDigests?.some((d) => d.endsWith(v2)));
    const same = await named(name);
    assert.deepEqual(
      same.map((c) => c.Id),
      [updatedId],
      'no new container left, no -dockgate-old- container',
    );
    await waitFor(async () => (await alertsOf(monitor, 'update-failed', updatedId)).length === 1, {
      what: 'one update-failed alert',
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await alertsOf(monitor, 'update-failed', updatedId)).length, 1);
    const all = (await (await fetch(`${monitor.url}/api/v1/alerts`)).json()) as { kind: string }[];
    assert.equal(
      all.filter((a) => a.kind === 'died').length,
      0,
      'the gate reports the exit, not the died rule',
    );
    const detail = (await (await fetch(`${monitor.url}/api/v1/containers/local/${updatedId}`)).json()) as {
      timeline: { action: string; detail?: Record<string, string> }[];
    };
    const actions = detail.timeline.map((t) => t.action);
    assert.ok(actions.includes('update') && actions.includes('update-failed'), actions.join(','));
  });

  it('bad input: a clear 400; a viewer may not update; an unknown container is 404', async () => {
    assert.equal(
      (await api(monitor, token, 'POST', `/api/v1/containers/local/${updatedId}/update`, { image: 5 }))
        .status,
      400,
    );
    assert.equal(
      (await api(monitor, token, 'POST', `/api/v1/containers/local/${updatedId}/update`, { force: true }))
        .status,
      400,
    );
    const anonymous = await fetch(`${monitor.url}/api/v1/containers/local/${updatedId}/update`, {
      method: 'POST',
    });
    assert.equal(anonymous.status, 403);
    assert.equal((await api(monitor, token, 'POST', '/api/v1/containers/local/nosuch/update')).status, 404);
  });
});

describe('an update the monitor did not live to finish', () => {
  it('killed between the start and the gate: at its restart the old container is back, running, alone', async () => {
    const registry = await startPrivateRegistry();
    const tag = `${registry.host}/dockgate-test/killed:v`;
    const name = `upd-${runId}-killed`;
    const data = newDir();
    const token = await monitorToken(data, 'ops', 'operator');
    const config = configFile(testEngine().host, registry.host, '120s');
    try {
      await pushImage(client, tag, ['ENV APP_VERSION=1']);
      const oldId = await createNamed(name, {
        Image: tag,
        Cmd: ['sleep', '600'],
        StopTimeout: 1,
        HostConfig: { NetworkMode: 'none' },
      });
      await pushImage(client, tag, ['ENV APP_VERSION=2']);
      const first = await startMonitor(['--config', config, '--data', data]);
      await updateWithEvents(first, token, oldId, (e) => {
        if (e.data.step === 'gate') first.child.kill('SIGKILL');
      });
      await new Promise((resolve) =>
        first.child.exitCode !== null ? resolve(null) : first.child.once('exit', resolve),
      );
      // Mid-update: the old one aside and stopped, the new one running under the name — one running.
      const mid = await client.containers.list({ all: true, filters: { name: [name] } });
      assert.equal(mid.length, 2, JSON.stringify(mid.map((c) => c.Names)));
      assert.equal(mid.filter((c) => c.State === 'running').length, 1);
      for (const c of mid) if (c.Id !== undefined && !containers.includes(c.Id)) containers.push(c.Id);

      const second = await startMonitor(['--config', config, '--data', data]);
      try {
        await waitFor(
          async () => {
            const back = await client.containers.inspect(oldId);
            return back.Name === `/${name}` && back.State?.Running === true;
          },
          { what: 'the half-done update undone: the old container back under its name, running' },
        );
        assert.deepEqual(
          (await named(name)).map((c) => [c.Id, c.State]),
          [[oldId, 'running']],
          'the new one removed: one container, running',
        );
        const runs = (await api(second, token, 'GET', `/api/v1/containers/local/${oldId}/update`)).body
          .runs as {
          result: string;
          reason: string;
        }[];
        assert.equal(runs[0]?.result, 'rolled-back');
        assert.match(runs[0]?.reason ?? '', /monitor stopped/);
      } finally {
        await second.stop();
      }
    } finally {
      await registry.remove();
    }
  });
});

describe('an update the monitor did not live to clean up', () => {
  it('killed after the gate passed, while removing the old container: at its restart it finishes — the old one removed, the new one running, the run updated', async () => {
    const registry = await startPrivateRegistry();
    const relay = new EngineRelay();
    await relay.start();
    const tag = `${registry.host}/dockgate-test/cleanup:v`;
    const name = `upd-${runId}-cleanup`;
    const data = newDir();
    const token = await monitorToken(data, 'ops', 'operator');
    try {
      await pushImage(client, tag, ['ENV APP_VERSION=1']);
      const oldId = await createNamed(name, {
        Image: tag,
        Cmd: ['sleep', '600'],
        StopTimeout: 1,
        HostConfig: { NetworkMode: 'none' },
      });
      await pushImage(client, tag, ['ENV APP_VERSION=2']);
      // The first monitor reaches the engine through a relay that holds the old container's removal.
      const held = relay.holdNext(new RegExp(`DELETE /[^ ]*containers/${oldId}`));
      const first = await startMonitor([
        '--config',
        configFile(relay.url, registry.host, '1s'),
        '--data',
        data,
      ]);
      void updateWithEvents(first, token, oldId);
      await held.seen;
      first.child.kill('SIGKILL');
      await new Promise((resolve) =>
        first.child.exitCode !== null ? resolve(null) : first.child.once('exit', resolve),
      );
      await relay.stop(); // the held removal never reaches the engine
      const mid = await named(name);
      assert.equal(mid.length, 2, 'the old one aside, the new one under the name');
      for (const c of mid) if (!containers.includes(c.Id)) containers.push(c.Id);
      const newId = mid.find((c) => c.Names[0] === `/${name}`)?.Id;
      assert.ok(newId !== undefined && newId !== oldId);

      const second = await startMonitor([
        '--config',
        configFile(testEngine().host, registry.host, '1s'),
        '--data',
        data,
      ]);
      try {
        await waitFor(async () => (await named(name)).length === 1, { what: 'the old container removed' });
        assert.deepEqual(
          (await named(name)).map((c) => [c.Id, c.State]),
          [[newId, 'running']],
        );
        const runs = (await api(second, token, 'GET', `/api/v1/containers/local/${newId}/update`)).body
          .runs as {
          result: string;
        }[];
        assert.equal(runs[0]?.result, 'updated');
      } finally {
        await second.stop();
      }
    } finally {
      await relay.stop().catch(() => {});
      await registry.remove();
    }
  });
});

describe('an update through a deploy gateway', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ profile: 'deploy' });
  });
  after(async () => {
    await gateway.stop();
  });

  it('a container with a host escape (the host PID namespace), made on the engine directly: the gateway refuses its recreate, nothing changed', async () => {
    const registry = await startPrivateRegistry();
    const tag = `${registry.host}/dockgate-test/priv:v`;
    const name = `upd-${runId}-priv`;
    const data = newDir();
    const token = await monitorToken(data, 'ops', 'operator');
    try {
      await pushImage(client, tag, ['ENV APP_VERSION=1']);
      const id = await createNamed(name, {
        Image: tag,
        Cmd: ['sleep', '600'],
        // Privileged cannot start in this sandbox (no caps to give); the host's PID namespace is the
        // same kind of refusal: the policy's host-escape check of the create body.
        HostConfig: { NetworkMode: 'none', PidMode: 'host' },
      });
      await pushImage(client, tag, ['ENV APP_VERSION=2']);
      const monitor = await startMonitor([
        '--config',
        configFile(gateway.dockerHost, registry.host, '2s'),
        '--data',
        data,
      ]);
      try {
        const answer = await api(monitor, token, 'POST', `/api/v1/containers/local/${id}/update`);
        assert.equal(answer.status, 403, JSON.stringify(answer.body));
        assert.match(String(answer.body.message), /PidMode/);
        const same = await named(name);
        assert.deepEqual(
          same.map((c) => [c.Id, c.Names[0], c.State]),
          [[id, `/${name}`, 'running']],
        );
      } finally {
        await monitor.stop();
      }
    } finally {
      await registry.remove();
    }
  });
});
