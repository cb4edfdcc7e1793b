import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { addToken } from '../../src/auth/tokens.js';
import {
  ConflictError,
  DockerClient,
  EngineError,
  NotFoundError,
  ProgressError,
  type Session,
  UpgradeError,
} from '../../src/client/index.js';
import { RUN_LABEL, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestRegistry } from '../helpers/registry.js';
import { tarOf as tarFiles } from '../helpers/tar.js';

const { image, runId, host } = testEngine();
const labels = { [RUN_LABEL]: runId };
const docker = new DockerClient({ url: host });

const tarOf = (files: Record<string, string>): Promise<Buffer> => tarFiles(files, 0o755);

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function sessionOutput(session: Session): Promise<{ stdout: string; stderr: string }> {
  const [stdout, stderr] = await Promise.all([text(session), text(session.stderr)]);
  return { stdout, stderr };
}

const created: string[] = [];
async function container(
  cmd: string[],
  extra: Parameters<DockerClient['containers']['create']>[0] = {},
): Promise<string> {
  const { Id } = await docker.containers.create({
    Image: image,
    Cmd: cmd,
    Labels: labels,
    HostConfig: { NetworkMode: 'none' },
    ...extra,
  });
  created.push(Id);
  return Id;
}

after(async () => {
  for (const id of created) await docker.containers.remove(id, { force: true }).catch(() => {});
  await docker.close();
});

describe('client: connecting and negotiating', () => {
  it('negotiates the API version once with HEAD /_ping: min(client 1.55, engine 1.41)', async () => {
    const info = await docker.engineInfo();
    assert.equal(info.engineApiVersion, '1.41');
    assert.equal(info.apiVersion, '1.41');
    assert.equal(info.osType, 'linux');
  });

  it('a fixed apiVersion (option or DOCKER_API_VERSION) is used as is; User-Agent is dockgate/<version>', async () => {
    const relay = new EngineRelay();
    await relay.start();
    const fixed = new DockerClient({ url: relay.url, apiVersion: '1.40' });
    try {
      await fixed.containers.list();
      assert.match(relay.sentText(), /GET \/v1\.40\/containers\/json HTTP\/1\.1/);
      assert.match(relay.sentText(), /user-agent: dockgate\/\d+\.\d+\.\d+/i);
    } finally {
      await fixed.close();
      await relay.stop();
    }
    process.env.DOCKER_API_VERSION = '1.39';
    const fromEnv = new DockerClient({ url: host });
    try {
      assert.equal((await fromEnv.engineInfo()).apiVersion, '1.39');
    } finally {
      delete process.env.DOCKER_API_VERSION;
      await fromEnv.close();
    }
  });

  it('connection errors carry the cause', async () => {
    const nowhere = new DockerClient({ socketPath: '/nonexistent/docker.sock' });
    await assert.rejects(nowhere.system.ping(), (error: Error & { code?: string }) => {
      assert.equal(error.name, 'ConnectionError');
      assert.equal(error.code, 'ENOENT');
      return true;
    });
    await nowhere.close();
  });
});

describe('client: system', () => {
  it('ping, version, info, df', async () => {
    assert.equal(await docker.system.ping(), 'OK');
    const version = await docker.system.version();
    assert.equal(version.ApiVersion, '1.41');
    assert.equal(typeof version.Os, 'string');
    const info = await docker.system.info();
    assert.equal(typeof info.ID, 'string');
    const df = await docker.system.df();
    // v1.41 engines answer with Images/Containers/Volumes; the v1.55 types describe ImageUsage/…
    assert.ok('Images' in df || 'ImageUsage' in df);
  });

  it('events: typed messages between since and until; an open stream stops on abort', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await container(['true']);
    const until = Math.floor(Date.now() / 1000) + 1;
    const seen = [];
    for await (const event of docker.system.events({ since, until, filters: { container: [id] } }))
      seen.push(event);
    assert.ok(seen.some((e) => e.Type === 'container' && e.Action === 'create' && e.Actor.ID === id));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(
      (async () => {
        for await (const _ of docker.system.events({}, { signal: controller.signal })) {
          // waits for events that never come
        }
      })(),
      { name: 'AbortError' },
    );
  });
});

describe('client: containers', () => {
  it('create, inspect, list, start, top, stats, logs (demuxed), wait, remove', async () => {
    const id = await container(['sh', '-c', 'echo out; echo err >&2; sleep 30']);
    const inspect = await docker.containers.inspect(id);
    assert.equal(inspect.Id, id);
    assert.equal(inspect.State?.Running, false);
    await docker.containers.start(id);
    const listed = await docker.containers.list({ filters: { id: [id] } });
    assert.equal(listed[0]?.Id, id);
    assert.equal(listed[0]?.State, 'running');
    const top = await docker.containers.top(id);
    assert.ok(top.Titles?.includes('PID'));
    for await (const sample of docker.containers.stats(id, { stream: false }))
      assert.ok(sample.memory_stats !== undefined);
    const frames = [];
    for await (const frame of docker.containers.logs(id)) frames.push(frame);
    const out = frames
      .filter((f) => f.stream === 'stdout')
      .map((f) => f.data.toString())
      .join('');
    const err = frames
      .filter((f) => f.stream === 'stderr')
      .map((f) => f.data.toString())
      .join('');
    assert.equal(out, 'out\n');
    assert.equal(err, 'err\n');
    await docker.containers.kill(id);
    const waited = await docker.containers.wait(id);
    assert.equal(waited.StatusCode, 137);
    await docker.containers.remove(id);
    await assert.rejects(docker.containers.inspect(id), NotFoundError);
  });

  it('logs of a TTY container come raw; resize; follow stops on abort', async () => {
    const id = await container(['sh', '-c', 'echo tty-line; sleep 30'], { Tty: true });
    await docker.containers.start(id);
    await docker.containers.resize(id, { h: 40, w: 120 });
    const controller = new AbortController();
    const chunks: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const frame of docker.containers.logs(id, { follow: true, signal: controller.signal })) {
          chunks.push(frame.data.toString());
          assert.equal(frame.stream, 'stdout');
          controller.abort();
        }
      })(),
      { name: 'AbortError' },
    );
    assert.match(chunks.join(''), /tty-line/);
  });

  it("regression: a logs, events or stats call that is aborted or left early is never an unhandled 'error' (it crashed the monitor)", async () => {
    const id = await container(['sleep', '30']);
    await docker.containers.start(id);
    const uncaught: unknown[] = [];
    const record = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on('uncaughtException', record);
    try {
      for (const run of [
        async () => {
          for await (const _ of docker.containers.logs(id, {
            follow: true,
            signal: AbortSignal.timeout(200),
          }))
            void _;
        },
        async () => {
          for await (const _ of docker.system.events({}, { signal: AbortSignal.timeout(200) })) void _;
        },
        async () => {
          for await (const _ of docker.containers.stats(
            id,
            { stream: true },
            { signal: AbortSignal.timeout(10) },
          ))
            void _;
        },
      ]) {
        await assert.rejects(
          run(),
          (error: Error) => error.name === 'TimeoutError' || error.name === 'AbortError',
        );
      }
      // Breaking out of a follow leaves its body unread: destroying it must not throw either.
      for await (const frame of docker.containers.stats(id, { stream: true })) {
        void frame;
        break;
      }
      for await (const event of docker.system.events({
        since: '0',
        until: String(Math.ceil(Date.now() / 1000) + 5),
      })) {
        void event;
        break;
      }
      // An 'error' event with no listener surfaces on a later turn: give it the chance.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', record);
    }
  });

  it('pause, unpause, restart, stop, rename, update, changes; typed errors by status', async () => {
    const id = await container(['sh', '-c', 'touch /tmp/changed; sleep 60']);
    await docker.containers.start(id);
    await docker.containers.pause(id);
    assert.equal((await docker.containers.inspect(id)).State?.Paused, true);
    await docker.containers.unpause(id);
    await docker.containers.restart(id, { t: 0 });
    await assert.rejects(docker.containers.remove(id), ConflictError);
    const name = `client-renamed-${process.pid}`;
    await docker.containers.rename(id, name);
    assert.equal((await docker.containers.inspect(name)).Name, `/${name}`);
    await docker.containers.update(id, { Memory: 64 * 1024 * 1024, MemorySwap: -1 });
    assert.equal((await docker.containers.inspect(id)).HostConfig.Memory, 64 * 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const changes = await docker.containers.changes(id);
    assert.ok(changes?.some((c) => c.Path === '/tmp/changed'));
    await docker.containers.stop(id, { t: 0 });
    assert.equal((await docker.containers.inspect(id)).State?.Running, false);
    await assert.rejects(docker.containers.start('no-such-container-x'), (error: EngineError) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.status, 404);
      assert.equal(error.method, 'POST');
      assert.match(error.engineMessage, /No such container/);
      return true;
    });
  });

  it('archive put, stat, get; export; prune', async () => {
    const id = await container(['true']);
    await docker.containers.putArchive(id, '/tmp', await tarOf({ 'hello.txt': 'hello archive' }));
    const stat = await docker.containers.statPath(id, '/tmp/hello.txt');
    assert.equal(stat.name, 'hello.txt');
    assert.equal(stat.size, 13);
    const { stat: got, tar } = await docker.containers.getArchive(id, '/tmp/hello.txt');
    assert.equal(got.size, 13);
    assert.match(await text(tar), /hello archive/);
    const exported = await docker.containers.export(id);
    let bytes = 0;
    for await (const chunk of exported) bytes += (chunk as Buffer).length;
    assert.ok(bytes > 100_000);
    const pruned = await docker.containers.prune({
      filters: { label: [`${RUN_LABEL}=${runId}`, `client-prune=${process.pid}`] },
    });
    assert.ok(pruned.SpaceReclaimed !== undefined);
  });

  it('a finite call honours its timeout; streams are never timed out by the client default', async () => {
    const id = await container(['sleep', '30']);
    await docker.containers.start(id);
    await assert.rejects(docker.containers.wait(id, {}, { timeout: 200 }), { name: 'TimeoutError' });
    // A client-wide timeout of 300 ms: an events stream open for a second is ended by its
    // signal (AbortError), never by the timeout (TimeoutError).
    const timed = new DockerClient({ url: host, timeout: 300 });
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 1000);
      const started = Date.now();
      await assert.rejects(
        (async () => {
          for await (const _ of timed.system.events({}, { signal: controller.signal })) {
            // other tests' events may arrive: irrelevant here
          }
        })(),
        { name: 'AbortError' },
      );
      assert.ok(Date.now() - started >= 900);
    } finally {
      await timed.close();
    }
  });
});

describe('client: exec and attach sessions', () => {
  it('half-close: stdin written, end(), and output that comes a second later still arrives; exit code', async () => {
    const id = await container(['sleep', '60']);
    await docker.containers.start(id);
    const exec = await docker.exec.create(id, {
      Cmd: ['sh', '-c', 'cat; echo err-line >&2; sleep 1; echo after; exit 3'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const session = await docker.exec.start(exec.Id);
    session.end('from stdin\n');
    const { stdout, stderr } = await sessionOutput(session);
    assert.equal(stdout, 'from stdin\nafter\n');
    assert.equal(stderr, 'err-line\n');
    assert.equal(await session.exitCode, 3);
    const inspect = await docker.exec.inspect(exec.Id);
    assert.equal(inspect.ExitCode, 3);
  });

  it('TTY exec: raw output, resize', async () => {
    const id = await container(['sleep', '60']);
    await docker.containers.start(id);
    const exec = await docker.exec.create(id, {
      Cmd: ['sh', '-c', 'sleep 0.5; stty size'],
      AttachStdout: true,
      Tty: true,
    });
    const session = await docker.exec.start(exec.Id);
    await docker.exec.resize(exec.Id, { h: 33, w: 101 });
    const { stdout } = await sessionOutput(session);
    assert.match(stdout, /33 101/);
    assert.equal(await session.exitCode, 0);
  });

  it('detached exec; a start refused by the engine is an UpgradeError with its message', async () => {
    const id = await container(['sleep', '60']);
    await docker.containers.start(id);
    const exec = await docker.exec.create(id, { Cmd: ['touch', '/tmp/detached'] });
    await docker.exec.startDetached(exec.Id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await docker.containers.statPath(id, '/tmp/detached')).name, 'detached');
    await docker.containers.kill(id);
    await docker.containers.wait(id);
    await assert.rejects(docker.exec.start(exec.Id, { tty: false }), (error: Error) => {
      assert.ok(error instanceof UpgradeError || error instanceof EngineError, String(error));
      return true;
    });
  });

  it('attach: stdin in, output out, exit code from wait', async () => {
    const id = await container(['sh', '-c', 'read line; echo "got $line"; exit 5'], {
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const session = await docker.containers.attach(id);
    await docker.containers.start(id);
    session.end('hello\n');
    const { stdout } = await sessionOutput(session);
    assert.equal(stdout, 'got hello\n');
    assert.equal(await session.exitCode, 5);
  });
});

describe('client: images', () => {
  const tag = `dockgate-client-test/built:${process.pid}`;

  it('list, inspect, history', async () => {
    const images = await docker.images.list();
    assert.ok(images.some((i) => i.RepoTags?.includes(image)));
    const inspect = await docker.images.inspect(image);
    assert.ok(inspect.Id.startsWith('sha256:'));
    const history = await docker.images.history(image);
    assert.ok(history.length >= 1);
  });

  it('build from a tar context: progress iterable; tag, save, load, remove', async () => {
    const context = await tarOf({
      Dockerfile: `FROM ${image}\nLABEL ${RUN_LABEL}=${runId}\nRUN echo built > /built\n`,
    });
    const messages = [];
    for await (const message of await docker.images.build(context, {
      t: tag,
      labels: { [RUN_LABEL]: runId },
    }))
      messages.push(message);
    assert.ok(messages.some((m) => m.stream?.includes('Successfully built')));
    await docker.images.tag(tag, 'dockgate-client-test/tagged', String(process.pid));
    assert.ok(
      (await docker.images.inspect(`dockgate-client-test/tagged:${process.pid}`)).RepoTags.length >= 2,
    );
    const saved = Buffer.concat(await (await docker.images.save([tag])).toArray());
    await docker.images.remove(`dockgate-client-test/tagged:${process.pid}`);
    const removed = await docker.images.remove(tag);
    assert.ok(removed.some((r) => r.Untagged !== undefined || r.Deleted !== undefined));
    await assert.rejects(docker.images.inspect(tag), NotFoundError);
    const loaded = await (await docker.images.load(saved)).done();
    assert.ok(loaded.some((m) => m.stream?.includes('Loaded image')));
    await docker.images.remove(tag);
  });

  it('a build that fails reports it in-band: the progress iterable throws ProgressError', async () => {
    const context = await tarOf({ Dockerfile: `FROM ${image}\nRUN exit 7\n` });
    const progress = await docker.images.build(context, { t: `${tag}-fails` });
    await assert.rejects(progress.done(), (error: ProgressError) => {
      assert.ok(error instanceof ProgressError);
      assert.match(error.message, /returned a non-zero code: 7/);
      return true;
    });
  });

  it('import a rootfs; pull from an unreachable registry throws', async () => {
    const rootfs = await tarOf({ 'hello.txt': 'imported' });
    const repo = `dockgate-client-test/imported-${process.pid}`;
    const messages = await (await docker.images.import(rootfs, { repo, tag: '1' })).done();
    assert.ok(messages.some((m) => m.status?.startsWith('sha256:')));
    await docker.images.remove(`${repo}:1`);
    // 127.0.0.1:9 is loopback: nothing leaves the machine, and nothing answers.
    await assert.rejects(async () => (await docker.images.pull('127.0.0.1:9/nothing:1')).done());
  });

  it('pull from a registry on 127.0.0.1: progress messages, the image is there; X-Registry-Auth accepted', async () => {
    const registry = new TestRegistry();
    const port = await registry.start({ hello: 'pulled' });
    const ref = `127.0.0.1:${port}/dockgate-client-test/pulled:${process.pid}`;
    try {
      const messages = [];
      const pull = await docker.images.pull(ref, {
        auth: { username: 'u', password: 'p+/=', serveraddress: `127.0.0.1:${port}` },
      });
      for await (const message of pull) messages.push(message);
      assert.ok(
        messages.some((m) => m.status?.startsWith('Digest: sha256:')),
        JSON.stringify(messages),
      );
      assert.ok(messages.some((m) => /Downloaded newer image|Image is up to date/.test(m.status ?? '')));
      assert.ok(
        registry.requests.some((r) => r.startsWith('GET /v2/dockgate-client-test/pulled/blobs/sha256:')),
      );
      assert.ok((await docker.images.inspect(ref)).RepoTags.includes(ref));
      await docker.images.remove(ref);
    } finally {
      await registry.stop();
    }
  });

  it('prune (dangling only, labelled by this run)', async () => {
    const report = await docker.images.prune({
      // Only objects with a label nothing else has: tests run two files at a time on one engine.
      filters: { label: [`${RUN_LABEL}=${runId}`, `client-prune=${process.pid}`], dangling: ['true'] },
    });
    assert.ok(report.SpaceReclaimed !== undefined);
  });
});

describe('client: volumes and networks', () => {
  it('volumes: create, inspect, list, remove, prune', async () => {
    const name = `client-volume-${process.pid}`;
    const volume = await docker.volumes.create({ Name: name, Labels: labels });
    assert.equal(volume.Name, name);
    assert.equal((await docker.volumes.inspect(name)).Driver, 'local');
    assert.ok(
      (await docker.volumes.list({ filters: { name: [name] } })).Volumes?.some((v) => v.Name === name),
    );
    await docker.volumes.remove(name);
    await assert.rejects(docker.volumes.inspect(name), NotFoundError);
    const pruned = await docker.volumes.prune({
      filters: { label: [`${RUN_LABEL}=${runId}`, `client-prune=${process.pid}`] },
    });
    assert.ok(pruned.SpaceReclaimed !== undefined);
  });

  it('networks: list, inspect, prune; create and remove report the engine’s refusal (no bridge networks on this machine)', async () => {
    const networks = await docker.networks.list();
    assert.ok(networks.some((n) => n.Name === 'none'));
    assert.equal((await docker.networks.inspect('none')).Driver, 'null');
    // A second "null" network is refused by the engine; bridge networks are never created here.
    await assert.rejects(
      docker.networks.create({ Name: `client-net-${process.pid}`, Driver: 'null' }),
      EngineError,
    );
    await assert.rejects(docker.networks.remove(`no-such-network-${process.pid}`), NotFoundError);
    const pruned = await docker.networks.prune({
      filters: { label: [`${RUN_LABEL}=${runId}`, `client-prune=${process.pid}`] },
    });
    assert.ok(
      pruned.NetworksDeleted === null ||
        pruned.NetworksDeleted === undefined ||
        pruned.NetworksDeleted.length === 0,
    );
  });
});

describe('client through a dockgate gateway with a token', () => {
  let gateway: TestGateway;
  let client: DockerClient;
  let anonymous: DockerClient;
  before(async () => {
    const tokens = join(mkdtempSync(join(tmpdir(), 'client-gw-')), 'tokens.json');
    const token = addToken(tokens, 'client-test', 'deploy');
    gateway = await startGateway({ profile: 'read-only', tokens });
    client = new DockerClient({ url: `tcp://127.0.0.1:${gateway.port}`, token });
    anonymous = new DockerClient({ url: `tcp://127.0.0.1:${gateway.port}` });
  });
  after(async () => {
    await client.close();
    await anonymous.close();
    await gateway.stop();
  });

  it('list, create, exec with half-close, logs — as identity client-test (deploy)', async () => {
    assert.equal((await client.engineInfo()).apiVersion, '1.41');
    const { Id } = await client.containers.create({
      Image: image,
      Cmd: ['sleep', '60'],
      Labels: labels,
      HostConfig: { NetworkMode: 'none' },
    });
    created.push(Id);
    await client.containers.start(Id);
    assert.ok((await client.containers.list()).some((c) => c.Id === Id));
    const exec = await client.exec.create(Id, {
      Cmd: ['sh', '-c', 'cat; sleep 1; echo after'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const session = await client.exec.start(exec.Id);
    session.end('through the gateway\n');
    assert.equal((await sessionOutput(session)).stdout, 'through the gateway\nafter\n');
    assert.equal(await session.exitCode, 0);
    const line = gateway.logs.findLast((l) => String(l.path).includes('/containers/create'));
    assert.equal(line?.identity, 'client-test');
  });

  it('without the token: read-only — a create is a ForbiddenError with the gateway’s message', async () => {
    await assert.rejects(anonymous.containers.create({ Image: image }), (error: EngineError) => {
      assert.equal(error.status, 403);
      assert.equal(error.name, 'ForbiddenError');
      assert.match(
        error.engineMessage,
        /^dockgate: POST \/containers\/create is not allowed for profile read-only/,
      );
      return true;
    });
  });
});

describe('client: bodies from streams', () => {
  it('putArchive takes a stream', async () => {
    const id = await container(['true']);
    await docker.containers.putArchive(id, '/tmp', Readable.from([await tarOf({ 'streamed.txt': 'x' })]));
    assert.equal((await docker.containers.statPath(id, '/tmp/streamed.txt')).size, 1);
  });
});
