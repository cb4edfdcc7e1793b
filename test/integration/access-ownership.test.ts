import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addToken } from '../../src/auth/tokens.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { dechunk, RawConnection, splitMessage } from '../helpers/raw-http.js';

const client = testClient();
const dir = mkdtempSync(join(tmpdir(), 'dockgate-owner-'));

interface Answer {
  readonly status: number;
  readonly body: string;
}

async function ask(
  port: number,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const connection = await RawConnection.open({ port });
  const text = body === undefined ? '' : JSON.stringify(body);
  connection.write(
    `${method} ${path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\n` +
      `${body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n`}\r\n${text}`,
  );
  const answer = splitMessage(await connection.untilEnded());
  // Chunked answers (large JSON) are joined for the assertions.
  const body2 = /Transfer-Encoding: chunked/i.test(answer.head) ? dechunk(answer.body) : answer.body;
  return { status: answer.status, body: body2 };
}

const labels = (): Record<string, string> => ({ [RUN_LABEL]: testEngine().runId });
const containerBody = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  Image: testEngine().image,
  Cmd: ['sleep', '30'],
  Labels: labels(),
  HostConfig: { NetworkMode: 'none' },
  ...extra,
});

describe('ownership: objects are kept apart per identity', () => {
  const tokens = join(dir, 'tokens.json');
  let gateway: TestGateway;
  let alice: string;
  let bob: string;
  let aliceContainer: string;
  const name = `owned-${process.pid}`;
  const volume = `owned-vol-${process.pid}`;
  const since = Math.floor(Date.now() / 1000) - 1;

  before(async () => {
    alice = addToken(tokens, 'alice', 'team');
    bob = addToken(tokens, 'bob', 'team');
    const config = join(dir, 'team.yaml');
    writeFileSync(config, 'version: 1\nprofiles:\n  team:\n    extends: deploy\n    ownership: true\n');
    gateway = await startGateway({ profile: 'read-only', tokens, config });
    const created = await ask(
      gateway.port,
      alice,
      'POST',
      `/v1.41/containers/create?name=${name}`,
      containerBody(),
    );
    assert.equal(created.status, 201, created.body);
    aliceContainer = (JSON.parse(created.body) as { Id: string }).Id;
  });
  after(async () => {
    await gateway.stop();
    for (const c of await client.json<{ Id: string }[]>('GET', '/containers/json', {
      query: { all: 1, filters: JSON.stringify({ label: [`dockgate.owner`] }) },
    })) {
      await removeContainer(client, c.Id);
    }
    await client.request('DELETE', `/volumes/${volume}`).then((r) => r.body.resume());
  });

  it("a create gets the owner label (alongside the caller's labels)", async () => {
    const inspect = await client.json<{ Config: { Labels: Record<string, string> } }>(
      'GET',
      `/containers/${aliceContainer}/json`,
    );
    assert.equal(inspect.Config.Labels['dockgate.owner'], 'alice');
    assert.equal(inspect.Config.Labels[RUN_LABEL], testEngine().runId);
  });

  it("the owner label cannot be forged: bob asking for alice's label gets his own", async () => {
    const created = await ask(
      gateway.port,
      bob,
      'POST',
      '/v1.41/containers/create',
      containerBody({
        Labels: { ...labels(), 'dockgate.owner': 'alice' },
        labels: { 'dockgate.owner': 'alice' },
      }),
    );
    assert.equal(created.status, 201, created.body);
    const id = (JSON.parse(created.body) as { Id: string }).Id;
    const inspect = await client.json<{ Config: { Labels: Record<string, string> } }>(
      'GET',
      `/containers/${id}/json`,
    );
    assert.equal(inspect.Config.Labels['dockgate.owner'], 'bob');
    await removeContainer(client, id);
  });

  it('lists are filtered: alice sees her container, bob does not', async () => {
    const ids = async (token: string): Promise<string[]> =>
      (
        JSON.parse((await ask(gateway.port, token, 'GET', '/v1.41/containers/json?all=1')).body) as {
          Id: string;
        }[]
      ).map((c) => c.Id);
    assert.ok((await ids(alice)).includes(aliceContainer));
    assert.ok(!(await ids(bob)).includes(aliceContainer));
    // A caller's own filters still apply, combined with the owner's.
    const filtered = await ask(
      gateway.port,
      alice,
      'GET',
      `/v1.41/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [name] }))}`,
    );
    assert.equal((JSON.parse(filtered.body) as unknown[]).length, 1);
  });

  it("per-object operations on another identity's container → 404, and the engine shows it untouched", async () => {
    for (const [method, path] of [
      ['GET', `/v1.41/containers/${name}/json`],
      ['POST', `/v1.41/containers/${name}/start`],
      ['DELETE', `/v1.41/containers/${aliceContainer}?force=1`],
      ['POST', `/v1.41/containers/${name}/exec`],
    ] as const) {
      const answer = await ask(
        gateway.port,
        bob,
        method,
        path,
        method === 'POST' && path.endsWith('exec') ? { Cmd: ['id'] } : undefined,
      );
      assert.equal(answer.status, 404, `${method} ${path}: ${answer.body}`);
      assert.match(JSON.parse(answer.body).message, /^dockgate: No such container: /);
    }
    const inspect = await client.json<{ State: { Running: boolean }; ExecIDs: unknown }>(
      'GET',
      `/containers/${aliceContainer}/json`,
    );
    assert.equal(inspect.State.Running, false);
    assert.equal(inspect.ExecIDs, null);
    assert.equal((await ask(gateway.port, alice, 'GET', `/v1.41/containers/${name}/json`)).status, 200);
  });

  it('VolumesFrom and container: namespaces of a container bob does not own → 404, nothing created', async () => {
    for (const hostConfig of [
      { VolumesFrom: [name] },
      { NetworkMode: `container:${name}` },
      { PidMode: `container:${aliceContainer}` },
    ]) {
      const denied = await ask(
        gateway.port,
        bob,
        'POST',
        '/v1.41/containers/create?name=bob-steals',
        containerBody({ HostConfig: { NetworkMode: 'none', ...hostConfig } }),
      );
      assert.equal(denied.status, 404, JSON.stringify(hostConfig));
      const check = await client.request('GET', '/containers/bob-steals/json');
      await check.body.resume();
      assert.equal(check.status, 404);
    }
  });

  it('exec instances belong to the owner of their container', async () => {
    await client.json('POST', `/containers/${aliceContainer}/start`);
    const exec = await ask(gateway.port, alice, 'POST', `/v1.41/containers/${aliceContainer}/exec`, {
      Cmd: ['true'],
    });
    assert.equal(exec.status, 201, exec.body);
    const execId = (JSON.parse(exec.body) as { Id: string }).Id;
    assert.equal((await ask(gateway.port, bob, 'GET', `/v1.41/exec/${execId}/json`)).status, 404);
    assert.equal(
      (await ask(gateway.port, bob, 'POST', `/v1.41/exec/${execId}/start`, { Detach: true })).status,
      404,
    );
    assert.equal((await ask(gateway.port, alice, 'GET', `/v1.41/exec/${execId}/json`)).status, 200);
  });

  it('a hijacked exec start waits for the owner lookup, then streams (Upgrade: tcp, half-close)', async () => {
    const exec = await ask(gateway.port, alice, 'POST', `/v1.41/containers/${aliceContainer}/exec`, {
      Cmd: ['sh', '-c', 'cat; echo after-stdin'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    assert.equal(exec.status, 201, exec.body);
    const execId = (JSON.parse(exec.body) as { Id: string }).Id;
    const body = '{"Detach":false,"Tty":false}';
    const connection = await RawConnection.open({ port: gateway.port });
    // Head, body and the first stdin bytes in one write: the stdin must wait for the lookup and
    // the engine's 101, then be replayed into the stream.
    connection.write(
      `POST /v1.41/exec/${execId}/start HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${alice}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}early-stdin\n`,
    );
    await connection.until((t) => t.includes('101 UPGRADED') && t.includes('early-stdin'));
    connection.shutdownWrite();
    const text = await connection.untilEnded();
    assert.match(text, /after-stdin/);
  });

  it("volumes: labelled on create, hidden from others' lists, not removable by them", async () => {
    const created = await ask(gateway.port, alice, 'POST', '/v1.41/volumes/create', {
      Name: volume,
      Labels: labels(),
    });
    assert.equal(created.status, 201, created.body);
    const names = async (token: string): Promise<string[]> =>
      (
        (
          JSON.parse((await ask(gateway.port, token, 'GET', '/v1.41/volumes')).body) as {
            Volumes: { Name: string }[] | null;
          }
        ).Volumes ?? []
      ).map((v) => v.Name);
    assert.ok((await names(alice)).includes(volume));
    assert.ok(!(await names(bob)).includes(volume));
    assert.equal((await ask(gateway.port, bob, 'DELETE', `/v1.41/volumes/${volume}`)).status, 404);
    const still = await client.request('GET', `/volumes/${volume}`);
    await still.body.resume();
    assert.equal(still.status, 200);
  });

  it("ownership_join_regression: bob cannot mount alice's volume, link to her container or join a network that is not his at create; nothing created", async () => {
    const alices = `owned-data-${process.pid}`;
    const made = await ask(gateway.port, alice, 'POST', '/v1.41/volumes/create', {
      Name: alices,
      Labels: labels(),
    });
    assert.equal(made.status, 201, made.body);
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ['Binds', { Binds: [`${alices}:/x`] }, {}],
      ['Binds :ro', { Binds: [`${alices}:/x:ro`] }, {}],
      ['Mounts', { Mounts: [{ Type: 'volume', Source: alices, Target: '/x', ReadOnly: true }] }, {}],
      ['Links', { Links: [`${name}:db`] }, {}],
      ['NetworkMode', { NetworkMode: `net-of-alice-${process.pid}` }, {}],
      [
        'EndpointsConfig',
        {},
        { NetworkingConfig: { EndpointsConfig: { [`net-of-alice-${process.pid}`]: {} } } },
      ],
    ];
    for (const [what, hostConfig, extra] of cases) {
      const denied = await ask(
        gateway.port,
        bob,
        'POST',
        '/v1.41/containers/create?name=bob-joins',
        containerBody({ HostConfig: { NetworkMode: 'none', ...hostConfig }, ...extra }),
      );
      assert.equal(denied.status, 404, `${what}: ${denied.body}`);
      assert.match(denied.body, /No such (volume|container|network)/, what);
      const check = await client.request('GET', '/containers/bob-joins/json');
      await check.body.resume();
      assert.equal(check.status, 404, `${what}: nothing created`);
    }
    // Her container connected to a network by bob (the body names the container): refused as hers.
    const connect = await ask(gateway.port, bob, 'POST', '/v1.41/networks/none/connect', { Container: name });
    assert.equal(connect.status, 404, connect.body);
    await client.request('DELETE', `/volumes/${alices}`).then((r) => r.body.resume());
  });

  it("ownership_volume_regression: a volume that does not exist is created as the caller's (labelled), so the next run can use it and others cannot", async () => {
    const cache = `bob-cache-${process.pid}`;
    const ids: string[] = [];
    for (let run = 0; run < 2; run++) {
      const created = await ask(
        gateway.port,
        bob,
        'POST',
        '/v1.41/containers/create',
        containerBody({ HostConfig: { NetworkMode: 'none', Binds: [`${cache}:/cache`] } }),
      );
      assert.equal(created.status, 201, `run ${run}: ${created.body}`);
      ids.push((JSON.parse(created.body) as { Id: string }).Id);
    }
    const volume = await client.json<{ Labels: Record<string, string> | null }>('GET', `/volumes/${cache}`);
    assert.equal(volume.Labels?.['dockgate.owner'], 'bob');
    const stolen = await ask(
      gateway.port,
      alice,
      'POST',
      '/v1.41/containers/create',
      containerBody({ HostConfig: { NetworkMode: 'none', Binds: [`${cache}:/x`] } }),
    );
    assert.equal(stolen.status, 404, stolen.body);
    for (const id of ids) await removeContainer(client, id);
    await client.request('DELETE', `/volumes/${cache}`).then((r) => r.body.resume());
  });

  it('prune is filtered: bob pruning stopped containers leaves alice’s stopped container alone', async () => {
    const stopped = await ask(
      gateway.port,
      alice,
      'POST',
      '/v1.41/containers/create',
      containerBody({ Cmd: ['true'] }),
    );
    assert.equal(stopped.status, 201, stopped.body);
    const stoppedId = (JSON.parse(stopped.body) as { Id: string }).Id;
    const pruned = await ask(gateway.port, bob, 'POST', '/v1.41/containers/prune');
    assert.equal(pruned.status, 200, pruned.body);
    assert.ok(
      !(JSON.parse(pruned.body) as { ContainersDeleted: string[] | null }).ContainersDeleted?.includes(
        stoppedId,
      ),
    );
    const still = await client.request('GET', `/containers/${stoppedId}/json`);
    await still.body.resume();
    assert.equal(still.status, 200);
  });

  it('a build is labelled with its owner (the labels query parameter rewritten)', async () => {
    const { pack } = await import('tar-stream');
    const tar = pack();
    tar.entry(
      { name: 'Dockerfile' },
      `FROM ${testEngine().image}\nLABEL ${RUN_LABEL}=${testEngine().runId}\n`,
    );
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of tar as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
    const context = Buffer.concat(chunks);
    const tag = `owned-build-${process.pid}:1`;
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(
      `POST /v1.41/build?t=${tag}&labels=${encodeURIComponent(JSON.stringify({ team: 'a' }))} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n` +
        `Authorization: Bearer ${alice}\r\nContent-Type: application/x-tar\r\nContent-Length: ${context.length}\r\n\r\n`,
    );
    connection.write(context);
    assert.match(await connection.untilEnded(30_000), /Successfully tagged/);
    const inspect = await client.json<{ Config: { Labels: Record<string, string> } }>(
      'GET',
      `/images/${tag}/json`,
    );
    assert.equal(inspect.Config.Labels['dockgate.owner'], 'alice');
    assert.equal(inspect.Config.Labels.team, 'a');
    // Bob may not remove it; alice may.
    assert.equal((await ask(gateway.port, bob, 'DELETE', `/v1.41/images/${tag}`)).status, 404);
    assert.equal((await ask(gateway.port, alice, 'DELETE', `/v1.41/images/${tag}`)).status, 200);
  });

  it('events are filtered to owned objects', async () => {
    const until = Math.floor(Date.now() / 1000) + 1;
    const events = async (token: string): Promise<string> =>
      (await ask(gateway.port, token, 'GET', `/v1.41/events?since=${since}&until=${until}`)).body;
    assert.match(await events(alice), new RegExp(aliceContainer));
    assert.doesNotMatch(await events(bob), new RegExp(aliceContainer));
  });
});

describe('read-only: Config.Env values redacted in inspect answers', () => {
  let readOnly: TestGateway;
  let deploy: TestGateway;
  let id: string;
  before(async () => {
    readOnly = await startGateway({ profile: 'read-only' });
    deploy = await startGateway({ profile: 'deploy' });
    id = await createContainer(client, ['true'], {
      start: false,
      config: { Env: ['DB_PASSWORD=hunter2', 'EMPTY=', 'NOVALUE'] },
    });
  });
  after(async () => {
    await readOnly.stop();
    await deploy.stop();
    await removeContainer(client, id);
  });

  it('names kept, values replaced; the answer stays valid JSON with a matching Content-Length', async () => {
    const connection = await RawConnection.open({ port: readOnly.port });
    connection.write(`GET /v1.41/containers/${id}/json HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`);
    const { status, head, body } = splitMessage(await connection.untilEnded());
    assert.equal(status, 200);
    assert.equal(Number(/Content-Length: (\d+)/i.exec(head)?.[1]), Buffer.byteLength(body));
    assert.doesNotMatch(head, /Transfer-Encoding/i);
    const env = (JSON.parse(body) as { Config: { Env: string[] } }).Config.Env;
    assert.ok(env.includes('DB_PASSWORD=<redacted>'));
    assert.ok(env.includes('EMPTY=<redacted>'));
    assert.ok(env.includes('NOVALUE'));
    assert.ok(!body.includes('hunter2'));
  });

  it('the deploy profile sees the values', async () => {
    const connection = await RawConnection.open({ port: deploy.port });
    connection.write(`GET /v1.41/containers/${id}/json HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`);
    assert.match(await connection.untilEnded(), /hunter2/);
  });
});
