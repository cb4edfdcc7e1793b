import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CliResult, dockerClis, runCli } from '../helpers/docker-cli.js';
import { dockgateImage } from '../helpers/dockgate-image.js';
import { RUN_LABEL, testEngine } from '../helpers/engine.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The container image (issue 15), built offline by scripts/image.sh on the private engine and run
 * there: the socat drop-in shape, Tecnativa's env shape, the monitor; read-only root filesystem,
 * HEALTHCHECK, `docker stop` within the grace. Host networking and the engine's socket mounted
 * (no bridge networks here): the gateways listen on a free port, clients use 127.0.0.1.
 */
const engine = testEngine();
const socket = engine.host.replace(/^unix:\/\//, '');
const cli = dockerClis()[0];
let IMAGE = '';
const label = `${RUN_LABEL}=${engine.runId}`;
const started: string[] = [];

/** The docker CLI against the private engine (or, with `host`, through a gateway). */
function docker(
  args: string[],
  options: { host?: string; input?: string; config?: string } = {},
): Promise<CliResult> {
  if (cli === undefined) throw new Error('no docker CLI on this machine');
  return runCli(cli, options.host ?? engine.host, args, {
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.config === undefined ? {} : { env: { DOCKER_CONFIG: options.config } }),
    timeoutMs: 120_000,
  });
}

/** `docker run -d` of the image with the engine's socket as /var/run/docker.sock, read-only root. */
async function runImage(args: string[], command: string[] = []): Promise<string> {
  const result = await docker([
    'run',
    '-d',
    '--network',
    'host',
    '--read-only',
    '--label',
    label,
    '--health-interval',
    '1s',
    '-v',
    `${socket}:/var/run/docker.sock`,
    ...args,
    IMAGE,
    ...command,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const id = result.stdout.trim();
  started.push(id);
  return id;
}

async function healthy(id: string): Promise<void> {
  await waitFor(
    async () => (await docker(['inspect', '-f', '{{.State.Health.Status}}', id])).stdout.trim() === 'healthy',
    { what: `container ${id.slice(0, 12)} healthy`, timeout: 60_000 },
  );
}

async function logs(id: string): Promise<string> {
  const result = await docker(['logs', id]);
  return result.stdout + result.stderr;
}

before(async () => {
  const built = await dockgateImage();
  IMAGE = built.image;
  process.stdout.write(`# ${built.report.split('\n').join('\n# ')}\n`);
  const size = Number((await docker(['image', 'inspect', '-f', '{{.Size}}', IMAGE])).stdout.trim());
  process.stdout.write(`# image size ${(size / 1e6).toFixed(1)} MB\n`);
});

after(async () => {
  for (const id of started) await docker(['rm', '-f', '-v', id]).catch(() => {});
});

describe('the image: the socat recipe with the image swapped', () => {
  it('serves read-only on 0.0.0.0 by default and says how to grant more; a token from `docker exec … dockgate token add` grants it; ps, run, exec with stdin, logs -f; runs as 10001; healthy; stops with 0', async () => {
    const port = await freePort();
    // The image's own command (serve) and defaults; only the port differs (host network in tests).
    const id = await runImage(['-e', `DOCKGATE_LISTEN=tcp://0.0.0.0:${port}`]);
    const host = `tcp://127.0.0.1:${port}`;
    await healthy(id);
    const startup = await logs(id);
    assert.match(startup, /dockgate: running as 10001:10001/);
    assert.match(startup, /callers without a token get the read-only profile on tcp:\/\/0\.0\.0\.0:\d+/);
    const top = await docker(['exec', id, 'cat', '/proc/1/status']);
    assert.match(top.stdout, /^Uid:\s+10001\s/m, 'PID 1 runs as 10001, not root');

    assert.equal((await docker(['ps'], { host })).code, 0);
    const refused = await docker(['run', '--rm', '--network', 'none', engine.image, 'true'], { host });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /dockgate: POST \/containers\/create is not allowed for profile read-only/);

    const token = await docker(['exec', id, 'dockgate', 'token', 'add', 'ci', '--profile', 'deploy']);
    assert.equal(token.code, 0, token.stderr);
    assert.match(token.stderr, /added to \/data\/tokens\.json/);
    const config = mkdtempSync(join(tmpdir(), 'dockgate-image-cli-'));
    writeFileSync(
      join(config, 'config.json'),
      JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${token.stdout.trim()}` } }),
    );
    const through = { host, config };
    const worker = await docker(
      ['run', '-d', '--network', 'none', '--label', label, engine.image, 'sleep', '300'],
      through,
    );
    assert.equal(worker.code, 0, worker.stderr);
    const workerId = worker.stdout.trim();
    started.push(workerId);
    const echoed = await docker(['exec', '-i', workerId, 'cat'], {
      ...through,
      input: 'stdin through the image\n',
    });
    assert.equal(echoed.code, 0, echoed.stderr);
    assert.equal(echoed.stdout, 'stdin through the image\n');
    // logs -f from the start of a container that prints and exits: every line, then the end.
    const printer = await docker(
      [
        'run',
        '-d',
        '--network',
        'none',
        '--label',
        label,
        engine.image,
        'sh',
        '-c',
        'for i in 1 2 3; do echo line-$i; sleep 0.3; done',
      ],
      through,
    );
    assert.equal(printer.code, 0, printer.stderr);
    started.push(printer.stdout.trim());
    const followed = await docker(['logs', '-f', printer.stdout.trim()], through);
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(followed.stdout, 'line-1\nline-2\nline-3\n');

    // Read-only root: nothing written outside /data.
    const write = await docker(['exec', id, 'sh', '-c', 'echo x > /opt/dockgate/x']);
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /Read-only file system/);

    // `docker stop` (10 s, then SIGKILL) with a stream open through the gateway: exits 0 in time.
    const events = runCli(cli as NonNullable<typeof cli>, host, ['events'], {
      env: { DOCKER_CONFIG: config },
      timeoutMs: 60_000,
    });
    await new Promise((r) => setTimeout(r, 500));
    const stopAt = Date.now();
    assert.equal((await docker(['stop', id])).code, 0);
    process.stdout.write(`# docker stop took ${Date.now() - stopAt} ms with an events stream open\n`);
    assert.equal((await docker(['inspect', '-f', '{{.State.ExitCode}}', id])).stdout.trim(), '0');
    await events;
  });
});

describe("the image: Tecnativa's compose settings", () => {
  it('CONTAINERS=1 POST=0 turn the Tecnativa profile on by themselves: lists allowed, a POST refused with 403', async () => {
    const port = await freePort();
    const id = await runImage([
      '-e',
      'CONTAINERS=1',
      '-e',
      'POST=0',
      '-e',
      `DOCKGATE_LISTEN=tcp://0.0.0.0:${port}`,
    ]);
    await healthy(id);
    const list = await fetch(`http://127.0.0.1:${port}/v1.41/containers/json`);
    assert.equal(list.status, 200);
    const create = await fetch(`http://127.0.0.1:${port}/v1.41/containers/create`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ Image: engine.image }),
    });
    assert.equal(create.status, 403);
    assert.match(await logs(id), /"profile":"tecnativa"/);
  });
});

describe('the image: the monitor', () => {
  it('`monitor` with /data as a volume answers /api/v1/engines; a user is added with argon2 in the image; healthy', async () => {
    const port = await freePort();
    const id = await runImage([], ['monitor', '--listen', `http://127.0.0.1:${port}`, '--interval', '2s']);
    await healthy(id);
    const engines = (await (await fetch(`http://127.0.0.1:${port}/api/v1/engines`)).json()) as {
      name: string;
      status: string;
    }[];
    assert.deepEqual(
      engines.map((e) => [e.name, e.status]),
      [['local', 'up']],
    );
    const added = await docker(
      [
        'exec',
        '-i',
        id,
        'dockgate',
        'monitor',
        'user',
        'add',
        'alice',
        '--role',
        'viewer',
        '--password-stdin',
      ],
      {
        input: 'correct horse battery\n',
      },
    );
    assert.equal(added.code, 0, added.stderr);
    const signIn = await fetch(`http://127.0.0.1:${port}/api/v1/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'alice', password: 'correct horse battery' }),
    });
    assert.equal(signIn.status, 200);
    assert.equal((await docker(['stop', id])).code, 0);
    assert.equal((await docker(['inspect', '-f', '{{.State.ExitCode}}', id])).stdout.trim(), '0');
  });
});

describe('the image: the host agent (docs/hosts.md#in-a-container)', () => {
  it('image_host_root_regression: without /host, filesystems and network are unavailable (never the container’s own); with -v /:/host:ro, the host’s', async () => {
    const bare = await freePort();
    const id = await runImage(['-e', `DOCKGATE_LISTEN=tcp://0.0.0.0:${bare}`]);
    await healthy(id);
    const without = (await (await fetch(`http://127.0.0.1:${bare}/dockgate/v1/host`)).json()) as {
      filesystems: unknown[];
      network: unknown[];
      memory: { totalBytes: number } | null;
      unavailable: { field: string; reason: string }[];
    };
    assert.deepEqual(without.filesystems, [], 'no filesystem reported from the container’s own mounts');
    assert.deepEqual(without.network, []);
    assert.ok((without.memory?.totalBytes ?? 0) > 0, 'kernel-wide figures still read');
    const missing = without.unavailable.find((u) => u.field === 'filesystems');
    assert.match(missing?.reason ?? '', /mount the host's root with -v \/:\/host:ro/);

    // The documented mount; root so that it may reach the private engine's data root (a 0700 temp dir).
    const port = await freePort();
    const mounted = await runImage([
      '-e',
      `DOCKGATE_LISTEN=tcp://0.0.0.0:${port}`,
      '-e',
      'DOCKGATE_USER=',
      '-v',
      '/:/host:ro',
    ]);
    await healthy(mounted);
    const host = (await (await fetch(`http://127.0.0.1:${port}/dockgate/v1/host`)).json()) as {
      hostname: string;
      filesystems: { mount: string; dockerRoot: boolean; sizeBytes: number }[];
      network: { interface: string }[];
      disks: { device: string }[];
      unavailable: { field: string; reason: string }[];
    };
    // Pressure where the kernel has no PSI; temperatures on a machine without sensors (this VM),
    // said for the host's own sysfs under /host.
    const sensors = existsSync('/sys/class/hwmon') && readdirSync('/sys/class/hwmon').length > 0;
    assert.deepEqual(
      host.unavailable
        .map((u) => u.field)
        .filter((f) => f !== 'pressure' && (sensors || f !== 'temperatures')),
      [],
      JSON.stringify(host.unavailable),
    );
    if (!sensors)
      assert.match(
        host.unavailable.find((u) => u.field === 'temperatures')?.reason ?? '',
        /no temperature sensor in \/host\/sys\/class\/hwmon/,
      );
    assert.ok(host.disks.length > 0, "the host's disks: /proc/diskstats is kernel-wide");
    const root = host.filesystems.find((f) => f.dockerRoot);
    assert.ok(root, 'the docker root marked, as the host sees it');
    assert.ok(!root.mount.startsWith('/host'), 'mount points as the host names them');
    assert.ok(host.network.some((n) => n.interface === 'lo'));
  });
});
