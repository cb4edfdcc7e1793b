import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { makeTestPki } from '../helpers/certs.js';
import { dockgateImage } from '../helpers/dockgate-image.js';
import { testClient, testEngine } from '../helpers/engine.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The compose drop-ins of examples/ (issue 15), each brought up with Debian's docker-compose on
 * the private engine. Only the dockgate services are started (the third-party images beside them
 * cannot be pulled here), with the changes a test needs and nothing else: the image as built by
 * this run, the private engine's socket for /var/run/docker.sock, published ports replaced by host
 * networking on a free loopback port (no bridge networks here) — every service must end up with a
 * network_mode, so compose creates no network; the test checks the engine's network list.
 */
const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const engine = testEngine();
const socket = engine.host.replace(/^unix:\/\//, '');
const IMAGE = 'ghcr.io/dockgate/dockgate:latest';
const env = { ...process.env, DOCKER_HOST: engine.host, COMPOSE_INTERACTIVE_NO_CLI: '1' };
const projects: { dir: string; name: string }[] = [];
let networksBefore = '';

type Service = Record<string, unknown> & {
  image?: string;
  command?: string | string[];
  environment?: Record<string, string> | string[];
  volumes?: string[];
  ports?: string[];
  network_mode?: string;
};

const networks = async (): Promise<string> =>
  (await run('docker', ['network', 'ls', '-q'], { env })).stdout.split('\n').sort().join(' ');

before(async () => {
  const { image } = await dockgateImage();
  await run('docker', ['tag', image, IMAGE], { env });
  networksBefore = await networks();
});

after(async () => {
  for (const p of projects)
    await run('docker-compose', ['-p', p.name, 'down', '-v', '--remove-orphans'], { cwd: p.dir, env }).catch(
      () => {},
    );
  assert.equal(await networks(), networksBefore, 'compose created no network');
});

/**
 * The example's compose file with only its dockgate services, adapted for the test engine:
 * `tweak` changes a service further (a listen address, a command). Written beside its own .env.
 */
function testCopy(
  example: string,
  file: string,
  tweak: (name: string, s: Service) => void,
): { dir: string; name: string } {
  const source = join(root, 'examples', example);
  const compose = parse(readFileSync(join(source, file), 'utf8')) as {
    services: Record<string, Service>;
    volumes?: unknown;
  };
  const dir = mkdtempSync(join(tmpdir(), `dockgate-example-${example}-`));
  const services: Record<string, Service> = {};
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.image !== IMAGE) continue;
    const s: Service = { ...service };
    delete s.ports;
    delete s.depends_on;
    if (s.network_mode === undefined) s.network_mode = 'host';
    s.volumes = (s.volumes ?? []).map((v) => {
      const [from, ...rest] = v.split(':');
      if (from === '/var/run/docker.sock') return [socket, ...rest].join(':');
      if (from?.startsWith('.')) return [join(source, from), ...rest].join(':');
      return v;
    });
    tweak(name, s);
    services[name] = s;
  }
  assert.ok(Object.keys(services).length > 0, `${example}: a dockgate service`);
  for (const [name, s] of Object.entries(services))
    assert.match(String(s.network_mode), /^(host|none)$/, `${example}/${name}: no network of compose's own`);
  writeFileSync(join(dir, 'docker-compose.yml'), stringify({ ...compose, services }));
  const project = { dir, name: `dg${engine.runId.slice(0, 6)}${example.replace(/[^a-z]/g, '')}` };
  projects.push(project);
  return project;
}

async function compose(project: { dir: string; name: string }, ...args: string[]): Promise<string> {
  const result = await run('docker-compose', ['-p', project.name, ...args], {
    cwd: project.dir,
    env,
    maxBuffer: 8 * 1024 * 1024,
  });
  return result.stdout;
}

/** Waits for `check`; on a timeout the error carries the project's logs (what went wrong in it). */
async function until(
  project: { dir: string; name: string },
  check: () => Promise<boolean>,
  what: string,
  timeout = 30_000,
): Promise<void> {
  try {
    await waitFor(check, { what, timeout });
  } catch (error) {
    const logs = await compose(project, 'logs', '--no-color').catch((e: Error) => e.message);
    throw new Error(`${(error as Error).message}\n${logs.slice(-3000)}`);
  }
}

/** Until the example's gateway answers `/_ping` on 127.0.0.1:PORT. */
function untilPing(project: { dir: string; name: string }, port: number, what: string): Promise<void> {
  return until(
    project,
    async () =>
      (await fetch(`http://127.0.0.1:${port}/_ping`).then(
        (r) => r.status,
        () => 0,
      )) === 200,
    what,
  );
}

function setEnv(s: Service, name: string, value: string): void {
  const list = Array.isArray(s.environment)
    ? Object.fromEntries(s.environment.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
    : { ...(s.environment ?? {}) };
  list[name] = value;
  s.environment = list;
}

/** One request over a unix socket (the gateway's, on a compose volume). */
function overSocket(
  path: string,
  method: string,
  target: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: path,
        method,
        path: target,
        headers: { 'Content-Type': 'application/json', Host: 'docker' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function volumePath(project: { name: string }, volume: string): Promise<string> {
  return (
    await run('docker', ['volume', 'inspect', '-f', '{{.Mountpoint}}', `${project.name}_${volume}`], { env })
  ).stdout.trim();
}

describe('examples: TCP drop-ins', () => {
  it('socat-replacement: the seed file with image and command swapped serves read-only; create refused', async () => {
    const port = await freePort();
    const project = testCopy('socat-replacement', 'docker-compose.yml', (_n, s) =>
      setEnv(s, 'DOCKGATE_LISTEN', `tcp://127.0.0.1:${port}`),
    );
    await compose(project, 'up', '-d');
    await untilPing(project, port, 'socat-replacement up');
    const ps = await run('docker', ['-H', `tcp://127.0.0.1:${port}`, 'ps'], {
      env: { ...env, DOCKER_HOST: '' },
    });
    assert.match(ps.stdout, /CONTAINER ID/);
    const create = await fetch(`http://127.0.0.1:${port}/v1.41/containers/create`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ Image: engine.image }),
    });
    assert.equal(create.status, 403);
  });

  it("tecnativa-replacement: Tecnativa's env vars unchanged — containers listed, images and POST refused (403)", async () => {
    const port = await freePort();
    const project = testCopy('tecnativa-replacement', 'docker-compose.yml', (_n, s) =>
      setEnv(s, 'DOCKGATE_LISTEN', `tcp://127.0.0.1:${port}`),
    );
    await compose(project, 'up', '-d');
    await untilPing(project, port, 'tecnativa-replacement up');
    assert.equal((await fetch(`http://127.0.0.1:${port}/v1.41/containers/json`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/v1.41/images/json`)).status, 403);
    assert.equal(
      (await fetch(`http://127.0.0.1:${port}/v1.41/containers/x/restart`, { method: 'POST' })).status,
      403,
    );
  });
});

describe('examples: apps over a unix socket on a shared volume, each with its preset', () => {
  for (const [example, writes] of [
    ['traefik', false],
    ['homepage', false],
    ['uptime-kuma', false],
    ['portainer', true],
  ] as const) {
    it(`${example}: the gateway's socket appears in the volume; reads allowed; ${writes ? 'a privileged create refused, a plain one allowed' : 'a create refused'}`, async () => {
      const project = testCopy(example, 'docker-compose.yml', () => {});
      await compose(project, 'up', '-d');
      const path = join(await volumePath(project, 'dockgate-socket'), 'docker.sock');
      await until(
        project,
        async () => (await overSocket(path, 'GET', '/_ping').catch(() => ({ status: 0 }))).status === 200,
        `${example}: the socket answering`,
      );
      assert.equal((await overSocket(path, 'GET', '/v1.41/containers/json')).status, 200);
      const privileged = await overSocket(path, 'POST', '/v1.41/containers/create', {
        Image: engine.image,
        HostConfig: { Privileged: true, NetworkMode: 'none' },
      });
      assert.equal(privileged.status, 403, privileged.text);
      if (writes) {
        const plain = await overSocket(path, 'POST', '/v1.41/containers/create', {
          Image: engine.image,
          Cmd: ['true'],
          HostConfig: { NetworkMode: 'none' },
        });
        assert.equal(plain.status, 201, plain.text);
        await run('docker', ['rm', '-f', (JSON.parse(plain.text) as { Id: string }).Id], { env });
      }
    });
  }
});

describe('examples: the monitor', () => {
  it('monitor: the gateway up, a token from `compose exec gateway dockgate token add`, the monitor watches through it', async () => {
    const port = await freePort();
    const project = testCopy('monitor', 'docker-compose.yml', (name, s) => {
      if (name === 'monitor') setEnv(s, 'DOCKGATE_MONITOR_LISTEN', `http://127.0.0.1:${port}`);
    });
    await compose(project, 'up', '-d', 'gateway');
    await until(project, async () => (await compose(project, 'ps')).includes('Up'), 'gateway up');
    const token = (
      await compose(
        project,
        'exec',
        '-T',
        'gateway',
        'dockgate',
        'token',
        'add',
        'monitor',
        '--profile',
        'manage',
      )
    )
      .split('\n')
      .find((line) => line.startsWith('dg_')) as string;
    // The token alone on its line; compose v1's exec -T mixes in the message from stderr, in
    // either order — what the README's `grep '^dg_'` is for.
    assert.match(token, /^dg_\S+$/);
    writeFileSync(join(project.dir, '.env'), `MONITOR_GATEWAY_TOKEN=${token}\n`);
    await compose(project, 'up', '-d', 'monitor');
    await until(
      project,
      async () => {
        const answer = await fetch(`http://127.0.0.1:${port}/api/v1/engines`).then(
          (r) => (r.ok ? r.json() : []),
          () => [],
        );
        // Up, and reading stats through the gateway's endpoint (known at its first stats round).
        const [local] = answer as { status: string; gateway?: boolean }[];
        return local?.status === 'up' && local.gateway === true;
      },
      'the monitor watching local through the gateway',
      60_000,
    );
    const [local] = (await (await fetch(`http://127.0.0.1:${port}/api/v1/engines`)).json()) as {
      name: string;
      gateway?: boolean;
    }[];
    assert.equal(local?.name, 'local');
    assert.equal(local?.gateway, true, 'through the gateway (its stats endpoint answered)');
  });

  it('multi-host: a gateway with mutual TLS, a monitor with its client certificate; a client without one is refused', async () => {
    const pki = makeTestPki('monitor');
    const port = await freePort();
    const monitorPort = await freePort();
    const certs = mkdtempSync(join(tmpdir(), 'dockgate-mtls-'));
    mkdirSync(join(certs, 'monitor'));
    copyFileSync(pki.ca, join(certs, 'ca.pem'));
    copyFileSync(pki.serverCert, join(certs, 'server.pem'));
    copyFileSync(pki.serverKey, join(certs, 'server-key.pem'));
    copyFileSync(pki.ca, join(certs, 'monitor', 'ca.pem'));
    copyFileSync(join(pki.clientDir, 'cert.pem'), join(certs, 'monitor', 'cert.pem'));
    copyFileSync(join(pki.clientDir, 'key.pem'), join(certs, 'monitor', 'key.pem'));
    // As the README says: readable by the image's user (uid 10001), the directories too.
    chmodSync(certs, 0o755);
    chmodSync(join(certs, 'monitor'), 0o755);
    for (const f of [
      'ca.pem',
      'server.pem',
      'server-key.pem',
      'monitor/ca.pem',
      'monitor/cert.pem',
      'monitor/key.pem',
    ])
      chownSync(join(certs, f), 10001, 10001);
    // The agent's log files are the test engine's (its own DockerRootDir), at the same path.
    const root = (await testClient().json<{ DockerRootDir: string }>('GET', '/info')).DockerRootDir;
    const gateway = testCopy('multi-host', 'gateway.docker-compose.yml', (_n, s) => {
      s.command = String(s.command).replace('tls://0.0.0.0:2376', `tls://127.0.0.1:${port}`);
      s.volumes = (s.volumes ?? []).map((v) =>
        v.includes(':/certs')
          ? `${certs}:/certs:ro`
          : v.startsWith('/var/lib/docker/containers:')
            ? `${root}/containers:${root}/containers:ro`
            : v,
      );
    });
    await compose(gateway, 'up', '-d');
    const config = join(certs, 'monitor.yaml');
    writeFileSync(
      config,
      `version: 1\nengines:\n  - name: web-1\n    url: https://127.0.0.1:${port}\n    tls: { certDir: /certs }\n`,
    );
    chownSync(config, 10001, 10001);
    const monitor = testCopy('multi-host', 'monitor.docker-compose.yml', (_n, s) => {
      setEnv(s, 'DOCKGATE_MONITOR_LISTEN', `http://127.0.0.1:${monitorPort}`);
      s.volumes = (s.volumes ?? []).map((v) =>
        v.includes(':/etc/dockgate/monitor.yaml')
          ? `${config}:/etc/dockgate/monitor.yaml:ro`
          : v.includes(':/certs')
            ? `${join(certs, 'monitor')}:/certs:ro`
            : v,
      );
      assert.ok(
        (s.volumes ?? []).every(
          (v) =>
            !v.startsWith('.') && (isAbsolute(v.split(':')[0] as string) || !v.split(':')[0]?.includes('/')),
        ),
      );
    });
    await compose(monitor, 'up', '-d');
    await until(
      monitor,
      async () => {
        const answer = await fetch(`http://127.0.0.1:${monitorPort}/api/v1/engines`).then(
          (r) => (r.ok ? r.json() : []),
          () => [],
        );
        return (answer as { status: string }[])[0]?.status === 'up';
      },
      'the monitor watching web-1 over mutual TLS',
      60_000,
    );
    // Without a client certificate the handshake itself fails.
    const refused = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--cacert',
      pki.ca,
      `https://127.0.0.1:${port}/_ping`,
    ]).then(
      (r) => r.stdout,
      (e: { stdout: string }) => e.stdout,
    );
    assert.equal(refused, '000');
    assert.ok(readdirSync(certs).length > 0);
  });
});
