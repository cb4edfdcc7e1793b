import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dockerClis, runCli } from '../helpers/docker-cli.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { type Answer, ask } from '../helpers/raw-http.js';

/**
 * Issue 22: a named volume that binds a host path is a host bind. An administrator creates volumes
 * on the engine the way compose's `driver_opts` idiom does; a `deploy` caller mounts them by name
 * through the gateway. Each form is refused with the volume and the host path named, and the
 * engine is asked that nothing was created; plain, tmpfs and anonymous volumes stay allowed; a
 * container made directly on the engine with such a volume counts as holding a host escape; and a
 * volume created with bind options between the gateway's check and the engine's create (the race,
 * made exact with a relay that holds the create) never runs a process.
 */
const client = testClient();
const { image, runId } = testEngine();
const socketDir = dirname(testEngine().host.replace(/^unix:\/\//, ''));
const tag = `${process.pid}-${Date.now().toString(36)}`;
const name = (what: string): string => `vol-${what}-${tag}`;

/** Volumes made directly on the engine, as an administrator (or compose's driver_opts) would. */
const VOLUMES: Record<string, Record<string, string> | undefined> = {
  hostetc: { type: 'none', o: 'bind', device: '/etc' },
  // o=rbind alone makes it a bind: the kernel ignores the type of a bind mount.
  hostroot: { type: 'auto', o: 'rbind,ro', device: '/' },
  sockdir: { type: 'none', o: 'bind', device: socketDir },
  plain: undefined,
  scratch: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' },
};

let deploy: TestGateway;
const made: string[] = [];

async function createVolume(volume: string, options: Record<string, string> | undefined): Promise<void> {
  await client.json('POST', '/volumes/create', {
    body: { Name: volume, Driver: 'local', DriverOpts: options ?? {}, Labels: { [RUN_LABEL]: runId } },
  });
}

function createBody(label: string, hostConfig: Record<string, unknown>): string {
  return JSON.stringify({
    Image: image,
    Cmd: ['cat', '/x/hostname'],
    Labels: { [RUN_LABEL]: runId, [label]: '1' },
    HostConfig: { NetworkMode: 'none', ...hostConfig },
  });
}

async function containersLabelled(label: string): Promise<{ Id: string }[]> {
  return client.json<{ Id: string }[]>('GET', '/containers/json', {
    query: { all: 1, filters: JSON.stringify({ label: [label] }) },
  });
}

/** The refusal's message; raw answers are read as latin1 bytes, the body is UTF-8 JSON. */
function messageOf(answer: Answer): string {
  return (JSON.parse(Buffer.from(answer.body, 'latin1').toString('utf8')) as { message: string }).message;
}

function assertVolumeRefused(answer: Answer, volume: string, path: string, field: string): void {
  assert.equal(answer.status, 403, `${volume}: ${answer.status} ${answer.body.slice(0, 300)}`);
  assert.match(
    messageOf(answer),
    new RegExp(
      `^dockgate: volume ${volume} is a bind of host path ${path.replace(/[.]/g, '\\.')} \\(${field.replace(/[.]/g, '\\.')}\\) — not allowed for profile deploy \\(request \\S+\\)$`,
    ),
  );
}

before(async () => {
  for (const [key, options] of Object.entries(VOLUMES)) await createVolume(name(key), options);
  deploy = await startGateway({ profile: 'deploy' });
});

after(async () => {
  await deploy?.stop();
  for (const id of made) await removeContainer(client, id).catch(() => {});
  for (const key of [...Object.keys(VOLUMES), 'raced', 'fresh']) {
    const removed = await client.request('DELETE', `/volumes/${name(key)}`, { query: { force: 1 } });
    removed.body.resume();
  }
});

describe('named volumes that bind a host path are host binds (issue 22)', () => {
  it('volume_bind_regression: -v name:/x, -v name:/x:ro, --mount type=volume (rw and read-only), o=rbind,ro of /, the socket directory — each refused, nothing created', async () => {
    const label = `vol-refused-${tag}`;
    const cases: [string, string, string, Record<string, unknown>][] = [
      ['hostetc', '/etc', 'HostConfig.Binds', { Binds: [`${name('hostetc')}:/x`] }],
      ['hostetc', '/etc', 'HostConfig.Binds', { Binds: [`${name('hostetc')}:/x:ro`] }],
      [
        'hostetc',
        '/etc',
        'HostConfig.Mounts',
        { Mounts: [{ Type: 'volume', Source: name('hostetc'), Target: '/x' }] },
      ],
      [
        'hostetc',
        '/etc',
        'HostConfig.Mounts',
        { Mounts: [{ Type: 'volume', Source: name('hostetc'), Target: '/x', ReadOnly: true }] },
      ],
      ['hostroot', '/', 'HostConfig.Binds', { Binds: [`${name('hostroot')}:/x:ro`] }],
      ['sockdir', socketDir, 'HostConfig.Binds', { Binds: [`${name('sockdir')}:/x`] }],
    ];
    for (const [key, path, field, hostConfig] of cases) {
      for (const target of ['/containers/create', '/v1.41/containers/create']) {
        const answer = await ask(deploy.port, 'POST', target, {}, createBody(label, hostConfig));
        assertVolumeRefused(answer, name(key), path, field);
      }
    }
    // The deprecated top-level HostConfig fields (read when HostConfig is absent).
    const legacy = JSON.stringify({
      Image: image,
      Labels: { [label]: '1' },
      Binds: [`${name('hostetc')}:/x`],
    });
    assertVolumeRefused(
      await ask(deploy.port, 'POST', '/v1.41/containers/create', {}, legacy),
      name('hostetc'),
      '/etc',
      'Binds',
    );
    assert.deepEqual(await containersLabelled(label), [], 'no container was created');
  });

  it('volume_bind_cli_regression: docker run -d -v hostetc:/x through the gateway is refused with the volume and the path; the host file is never printed', async () => {
    const label = `vol-cli-${tag}`;
    for (const cli of dockerClis()) {
      const result = await runCli(cli, deploy.dockerHost, [
        'run',
        '-d',
        '--network',
        'none',
        '--label',
        label,
        '-v',
        `${name('hostetc')}:/x`,
        image,
        'cat',
        '/x/hostname',
      ]);
      assert.notEqual(result.code, 0, `${cli.version}: ${result.stdout}`);
      assert.match(
        result.stderr,
        new RegExp(`volume ${name('hostetc')} is a bind of host path /etc \\(HostConfig\\.Binds\\)`),
        cli.version,
      );
    }
    assert.deepEqual(await containersLabelled(label), [], 'no container was created');
  });

  it('controls: a plain named volume, a tmpfs volume and an anonymous volume are allowed, and run', async () => {
    const label = `vol-allowed-${tag}`;
    const cases: Record<string, unknown>[] = [
      { Binds: [`${name('plain')}:/x`] },
      { Binds: [`${name('scratch')}:/x:ro`] },
      { Mounts: [{ Type: 'volume', Source: name('plain'), Target: '/x', ReadOnly: true }] },
      { Mounts: [{ Type: 'volume', Target: '/anonymous' }] },
    ];
    for (const hostConfig of cases) {
      const body = JSON.stringify({
        Image: image,
        Cmd: ['true'],
        Labels: { [RUN_LABEL]: runId, [label]: '1' },
        HostConfig: { NetworkMode: 'none', ...hostConfig },
      });
      const created = await ask(deploy.port, 'POST', '/v1.41/containers/create', {}, body);
      assert.equal(created.status, 201, `${JSON.stringify(hostConfig)}: ${created.body}`);
      const { Id } = JSON.parse(created.body) as { Id: string };
      made.push(Id);
      const started = await ask(deploy.port, 'POST', `/v1.41/containers/${Id}/start`);
      assert.equal(started.status, 204, `start: ${started.body}`);
    }
    assert.equal((await containersLabelled(label)).length, cases.length);
  });

  it('volume_lateral_regression: a container made on the engine with a bind volume holds a host escape — exec, archive and VolumesFrom are refused', async () => {
    const id = await createContainer(client, ['sleep', '600'], {
      hostConfig: { Binds: [`${name('hostetc')}:/x`] },
    });
    made.push(id);
    const exec = await ask(deploy.port, 'POST', `/v1.41/containers/${id}/exec`, {}, '{"Cmd":["true"]}');
    assert.equal(exec.status, 403, exec.body);
    assert.match(exec.body, new RegExp(`volume ${name('hostetc')} is a bind of host path /etc`));
    const archive = await ask(deploy.port, 'GET', `/v1.41/containers/${id}/archive?path=/x/hostname`);
    assert.equal(archive.status, 403, archive.body);
    const label = `vol-from-${tag}`;
    const from = await ask(
      deploy.port,
      'POST',
      '/v1.41/containers/create',
      {},
      createBody(label, { VolumesFrom: [id.slice(0, 12)] }),
    );
    assert.equal(from.status, 403, from.body);
    assert.match(from.body, /host escape/);
    assert.deepEqual(await containersLabelled(label), [], 'no container was created');
  });

  it('a volume that does not exist yet is created plain by the engine: allowed, labelled as unchecked, and starts', async () => {
    const label = `vol-fresh-${tag}`;
    const created = await ask(
      deploy.port,
      'POST',
      '/v1.41/containers/create',
      {},
      createBody(label, { Binds: [`${name('fresh')}:/x`] }),
    );
    assert.equal(created.status, 201, created.body);
    const { Id } = JSON.parse(created.body) as { Id: string };
    made.push(Id);
    const inspect = await client.json<{ Config: { Labels: Record<string, string> } }>(
      'GET',
      `/containers/${Id}/json`,
    );
    assert.equal(inspect.Config.Labels['dockgate.unchecked-volumes'], name('fresh'));
    assert.equal(inspect.Config.Labels[label], '1', "the caller's labels are kept");
    const started = await ask(deploy.port, 'POST', `/v1.41/containers/${Id}/start`);
    assert.equal(started.status, 204, started.body);
  });

  it('volume_race_regression: a volume created with bind options between the check and the engine create never runs — start and restart refused, the process never started', async () => {
    const relay = new EngineRelay();
    await relay.start();
    const gateway = await startGateway({ profile: 'deploy', upstream: relay.url });
    try {
      const label = `vol-race-${tag}`;
      const hold = relay.holdNext(/^POST \S*\/containers\/create/m);
      const answer = ask(
        gateway.port,
        'POST',
        '/v1.41/containers/create',
        {},
        createBody(label, { Binds: [`${name('raced')}:/x`] }),
      );
      // The gateway looked the volume up (it did not exist) and sent the create; it is held there.
      await hold.seen;
      await createVolume(name('raced'), { type: 'none', o: 'bind', device: '/etc' });
      hold.release();
      const created = await answer;
      assert.equal(created.status, 201, created.body);
      const { Id } = JSON.parse(created.body) as { Id: string };
      made.push(Id);
      for (const action of ['start', 'restart']) {
        const refused = await ask(gateway.port, 'POST', `/v1.41/containers/${Id}/${action}`);
        assert.equal(refused.status, 403, `${action}: ${refused.body}`);
        assert.match(
          messageOf(refused),
          new RegExp(
            `^dockgate: ${action}: volume ${name('raced')} is a bind of host path /etc, created after the create of container \\S+ was checked — not allowed for profile deploy`,
          ),
        );
      }
      const archive = await ask(gateway.port, 'GET', `/v1.41/containers/${Id}/archive?path=/x/hostname`);
      assert.equal(archive.status, 403, archive.body);
      const state = await client.json<{ State: { Running: boolean; StartedAt: string } }>(
        'GET',
        `/containers/${Id}/json`,
      );
      assert.equal(state.State.Running, false);
      assert.match(state.State.StartedAt, /^0001-01-01/, 'the process never started');
    } finally {
      await gateway.stop();
      await relay.stop();
    }
  });

  it('an administrator container with a bind volume, made on the engine, may still be started and restarted (autoheal, watchtower)', async () => {
    const id = await createContainer(client, ['sleep', '600'], {
      start: false,
      hostConfig: { Binds: [`${name('hostetc')}:/x:ro`] },
    });
    made.push(id);
    const started = await ask(deploy.port, 'POST', `/v1.41/containers/${id}/start`);
    assert.equal(started.status, 204, started.body);
    const restarted = await ask(deploy.port, 'POST', `/v1.41/containers/${id}/restart?t=0`);
    assert.equal(restarted.status, 204, restarted.body);
  });
});
