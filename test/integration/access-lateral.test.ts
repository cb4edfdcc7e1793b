import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { pack } from 'tar-stream';
import { TargetInspector } from '../../src/policy/target-facts.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { type Answer, ask } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 10, lateral movement: a `deploy` caller may not create a privileged container or bind the
 * docker socket — nor borrow a container that already holds such a thing. Every attack goes through
 * the gateway to the real engine, is refused, and the engine is asked that nothing happened.
 */
const client = testClient();
const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'dockgate-lateral-'));
const engineSocket = testEngine().host.replace(/^unix:\/\//, '');

/** Containers that hold a host escape, made directly on the engine (as an admin would). */
const TARGETS: Record<string, Record<string, unknown>> = {
  sock: { Binds: [`${engineSocket}:/var/run/docker.sock`] },
  root: { Binds: ['/:/host'] },
  hostnet: { NetworkMode: 'host' },
  hostpid: { PidMode: 'host' },
  cap: { CapAdd: ['SYS_ADMIN'] },
};

interface Target {
  readonly id: string;
  readonly name: string;
}

const targets = new Map<string, Target>();
let plain: Target;
let deploy: TestGateway;
/** deploy + export and commit: every route that reaches into a container is allowed by rule. */
let wide: TestGateway;
let seq = 0;

async function makeTarget(kind: string, hostConfig: Record<string, unknown>): Promise<Target> {
  const name = `lateral-${kind}-${process.pid}-${++seq}`;
  const id = await createContainer(client, ['sleep', '600'], { config: { name }, hostConfig });
  // `name` in the body is ignored by the engine: rename to the wanted name.
  await client.json('POST', `/containers/${id}/rename`, { query: { name } });
  return { id, name };
}

/** The three ways dockerd resolves a container: full id, name (with or without `/`), unique prefix. */
function refs(t: Target): string[] {
  return [t.id, t.name, encodeURIComponent(`/${t.name}`), t.id.slice(0, 12)];
}

function versions(path: string): string[] {
  return [path, `/v1.41${path}`];
}

function assertRefused(answer: Answer, what: string): void {
  assert.equal(answer.status, 403, `${what}: ${answer.status} ${answer.body.slice(0, 300)}`);
  assert.match(answer.body, /host escape/, what);
}

async function tarOf(name: string): Promise<Buffer> {
  const tar = pack();
  tar.entry({ name, mode: 0o644 }, 'written through a borrowed container\n');
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function execIds(id: string): Promise<string[]> {
  const inspect = await client.json<{ ExecIDs: string[] | null }>('GET', `/containers/${id}/json`);
  return inspect.ExecIDs ?? [];
}

before(async () => {
  for (const [kind, hostConfig] of Object.entries(TARGETS))
    targets.set(kind, await makeTarget(kind, hostConfig));
  plain = await makeTarget('plain', {});
  deploy = await startGateway({ profile: 'deploy' });
  const config = join(dir, 'wide.yaml');
  writeFileSync(
    config,
    'version: 1\nprofiles:\n  wide:\n    extends: deploy\n    rules:\n      - allow: GET /containers/*/export\n      - allow: POST /commit\n',
  );
  wide = await startGateway({ profile: 'wide', config });
});

after(async () => {
  await deploy?.stop();
  await wide?.stop();
  for (const t of [...targets.values(), plain]) if (t !== undefined) await removeContainer(client, t.id);
});

describe('lateral movement: requests that reach into a container holding a host escape are refused', () => {
  it('regression: exec create into each kind of target, by id, name, /name and prefix, with and without a version', async () => {
    for (const [kind, t] of targets) {
      for (const ref of refs(t)) {
        for (const path of versions(`/containers/${ref}/exec`)) {
          const answer = await ask(deploy.port, 'POST', path, {}, JSON.stringify({ Cmd: ['true'] }));
          assertRefused(answer, `${kind} ${path}`);
        }
      }
      assert.deepEqual(await execIds(t.id), [], `no exec instance in ${kind}`);
    }
  });

  it('regression: attach (POST and websocket), archive GET/HEAD/PUT, update are refused', async () => {
    for (const [kind, t] of targets) {
      for (const ref of [t.name, t.id.slice(0, 12)]) {
        for (const [method, path] of [
          ['POST', `/v1.41/containers/${ref}/attach?stream=1&stdin=1&stdout=1`],
          ['GET', `/v1.41/containers/${ref}/attach/ws?stream=1&stdin=1`],
          ['GET', `/v1.41/containers/${ref}/archive?path=/etc/hostname`],
          ['HEAD', `/containers/${ref}/archive?path=/etc/hostname`],
        ] as const) {
          const answer = await ask(deploy.port, method, path, {
            Connection: 'Upgrade',
            Upgrade: method === 'GET' && path.includes('/ws') ? 'websocket' : 'tcp',
          });
          assert.equal(answer.status, 403, `${kind} ${method} ${path}`);
        }
        const update = await ask(deploy.port, 'POST', `/containers/${ref}/update`, {}, '{"CpuShares":512}');
        assertRefused(update, `${kind} update`);
      }
    }
  });

  it('regression: archive PUT into a container with / bound writes nothing on the host', async () => {
    const t = targets.get('root') as Target;
    const file = `dockgate-lateral-${process.pid}-${Date.now()}`;
    for (const ref of refs(t)) {
      for (const path of versions(`/containers/${ref}/archive?path=/host/tmp`)) {
        const answer = await ask(deploy.port, 'PUT', path, {}, await tarOf(file));
        assertRefused(answer, path);
      }
    }
    assert.equal(existsSync(join('/tmp', file)), false, 'no file appeared on the host');
  });

  it('regression: export and commit of a target are refused (a profile that allows both)', async () => {
    for (const [kind, t] of targets) {
      const exported = await ask(wide.port, 'GET', `/v1.41/containers/${t.name}/export`);
      assertRefused(exported, `${kind} export`);
      const repo = `lateral-commit-${kind}-${process.pid}`;
      const committed = await ask(
        wide.port,
        'POST',
        `/v1.41/commit?container=${t.id.slice(0, 12)}&repo=${repo}`,
      );
      assertRefused(committed, `${kind} commit`);
      const image = await client.request('GET', `/images/${repo}/json`);
      image.body.resume();
      assert.equal(image.status, 404, `no image ${repo}`);
    }
  });

  it('regression: create with VolumesFrom (also :ro, by id) and container: namespaces is refused; nothing created', async () => {
    const label = `lateral-create-${process.pid}`;
    const body = (hostConfig: Record<string, unknown>, legacy = false): string =>
      JSON.stringify({
        Image: testEngine().image,
        Cmd: ['true'],
        Labels: { [RUN_LABEL]: testEngine().runId, [label]: '1' },
        ...(legacy ? hostConfig : { HostConfig: { NetworkMode: 'none', ...hostConfig } }),
      });
    const sock = targets.get('sock') as Target;
    const cases: [string, string][] = [
      ['VolumesFrom name', body({ VolumesFrom: [sock.name] })],
      ['VolumesFrom :ro', body({ VolumesFrom: [`${sock.name}:ro`] })],
      ['VolumesFrom id', body({ VolumesFrom: [sock.id] })],
      ['VolumesFrom prefix, top level (legacy)', body({ VolumesFrom: [sock.id.slice(0, 12)] }, true)],
      [
        'NetworkMode container:',
        body({ NetworkMode: `container:${(targets.get('hostnet') as Target).name}` }),
      ],
      ['PidMode container:', body({ PidMode: `container:${(targets.get('hostpid') as Target).id}` })],
      ['IpcMode container:', body({ IpcMode: `container:${(targets.get('cap') as Target).name}` })],
    ];
    for (const [what, request] of cases) {
      for (const path of versions('/containers/create')) {
        assertRefused(await ask(deploy.port, 'POST', path, {}, request), what);
      }
    }
    const created = await client.json<unknown[]>('GET', '/containers/json', {
      query: { all: 1, filters: JSON.stringify({ label: [label] }) },
    });
    assert.deepEqual(created, [], 'no container was created');
  });

  it('regression: exec start of an exec created outside the gateway in a target is refused; it never runs', async () => {
    const t = targets.get('sock') as Target;
    const exec = await client.json<{ Id: string }>('POST', `/containers/${t.id}/exec`, {
      body: { Cmd: ['sh', '-c', 'echo escaped'] },
    });
    const answer = await ask(deploy.port, 'POST', `/v1.41/exec/${exec.Id}/start`, {}, '{"Detach":true}');
    assertRefused(answer, 'exec start');
    const inspect = await client.json<{ Running: boolean; Pid: number }>('GET', `/exec/${exec.Id}/json`);
    assert.equal(inspect.Running, false);
    assert.equal(inspect.Pid, 0, 'the exec never started');
  });

  it('the audit line names the target and its escape; policy explain shows the target check', async () => {
    const t = targets.get('sock') as Target;
    await ask(deploy.port, 'POST', `/v1.41/containers/${t.name}/exec`, {}, '{"Cmd":["true"]}');
    await waitFor(() =>
      deploy.logs.some((l) => l.msg === 'request' && l.path === `/v1.41/containers/${t.name}/exec`),
    );
    const line = deploy.logs.findLast((l) => l.path === `/v1.41/containers/${t.name}/exec`);
    assert.equal(line?.decision, 'deny');
    assert.equal(line?.rule, 'lateral-movement');
    assert.match(String(line?.target), new RegExp(`exec create → ${t.name} \\(${t.id.slice(0, 12)}\\)`));
    assert.match(String(line?.escape), /Binds: bind of host path .*docker\.sock is not allowed/);

    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'policy',
        'explain',
        '--as',
        'deploy',
        'POST',
        '/containers/web/exec',
      ],
      { cwd: root, env: { ...process.env, DOCKGATE_TOKENS: '/nonexistent/tokens.json' } },
    );
    assert.match(
      stdout,
      /target: {3}exec create reaches into container web: refused if it holds a host escape/,
    );
  });
});

describe('lateral movement: plain containers stay fully usable', () => {
  it('exec, archive, VolumesFrom and container: joins between plain containers are allowed', async () => {
    const exec = await ask(
      deploy.port,
      'POST',
      `/v1.41/containers/${plain.name}/exec`,
      {},
      '{"Cmd":["true"]}',
    );
    assert.equal(exec.status, 201, exec.body);
    const start = await ask(
      deploy.port,
      'POST',
      `/v1.41/exec/${JSON.parse(exec.body).Id}/start`,
      {},
      '{"Detach":true}',
    );
    assert.equal(start.status, 200, start.body);
    const put = await ask(
      deploy.port,
      'PUT',
      `/v1.41/containers/${plain.id.slice(0, 12)}/archive?path=/tmp`,
      {},
      await tarOf('f'),
    );
    assert.equal(put.status, 200, put.body);
    const get = await ask(deploy.port, 'HEAD', `/v1.41/containers/${plain.id}/archive?path=/tmp/f`);
    assert.equal(get.status, 200);
    for (const hostConfig of [
      { VolumesFrom: [`${plain.name}:ro`] },
      { NetworkMode: `container:${plain.name}` },
    ]) {
      const created = await ask(
        deploy.port,
        'POST',
        '/v1.41/containers/create',
        {},
        JSON.stringify({
          Image: testEngine().image,
          Cmd: ['true'],
          Labels: { [RUN_LABEL]: testEngine().runId },
          HostConfig: hostConfig,
        }),
      );
      assert.equal(created.status, 201, created.body);
      await removeContainer(client, JSON.parse(created.body).Id);
    }
    // A reference to nothing reaches nothing: the engine's own 404 comes back.
    const missing = await ask(
      deploy.port,
      'POST',
      '/v1.41/containers/no-such-container/exec',
      {},
      '{"Cmd":["true"]}',
    );
    assert.equal(missing.status, 404);
  });
});

describe('lateral movement: the facts cache', () => {
  it('regression: a plain container recreated under the same name with a host bind is refused on the next request (events)', async () => {
    const name = `lateral-recreated-${process.pid}`;
    const first = await makeTarget('recreated', {});
    await client.json('POST', `/containers/${first.id}/rename`, { query: { name } });
    const exec = (): Promise<Answer> =>
      ask(deploy.port, 'POST', `/v1.41/containers/${name}/exec`, {}, '{"Cmd":["true"]}');
    assert.equal((await exec()).status, 201, 'plain: allowed (and cached)');
    await removeContainer(client, first.id);
    const second = await createContainer(client, ['sleep', '600'], { hostConfig: { Binds: ['/:/host'] } });
    await client.json('POST', `/containers/${second}/rename`, { query: { name } });
    try {
      // The destroy/create/rename events reach the gateway's subscription; until they do, the old
      // facts could still be served, so wait for the refusal rather than assume it is immediate.
      await waitFor(async () => (await exec()).status === 403, { what: 'the recreated container refused' });
      assert.deepEqual(await execIds(second), []);
    } finally {
      await removeContainer(client, second);
    }
  });

  it('regression: with events lost, the TTL still catches a recreated container', async () => {
    const log = pino({ level: 'silent' });
    const inspector = new TargetInspector(client, log, { watchEvents: false, ttlMs: 300 });
    const name = `lateral-ttl-${process.pid}`;
    const first = await makeTarget('ttl', {});
    await client.json('POST', `/containers/${first.id}/rename`, { query: { name } });
    let second: string | undefined;
    try {
      const before = await inspector.lookup({ kind: 'container', ref: name, via: 'test' });
      assert.equal(before.kind === 'found' && before.facts.id, first.id);
      await removeContainer(client, first.id);
      second = await createContainer(client, ['sleep', '600'], { hostConfig: { Binds: ['/:/host'] } });
      await client.json('POST', `/containers/${second}/rename`, { query: { name } });
      const recreated = second;
      await waitFor(async () => {
        const after = await inspector.lookup({ kind: 'container', ref: name, via: 'test' });
        return after.kind === 'found' && after.facts.id === recreated;
      });
    } finally {
      inspector.close();
      if (second !== undefined) await removeContainer(client, second);
    }
  });
});
