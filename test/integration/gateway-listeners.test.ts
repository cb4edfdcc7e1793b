import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { DockerClient } from '../../src/client/index.js';
import { isDockgateError } from '../../src/errors.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { startDockgate } from '../helpers/dockgate-process.js';
import { createContainer, demux, removeContainer, testClient } from '../helpers/engine.js';
import { startGateway } from '../helpers/gateway.js';
import { RawConnection, splitMessage } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

describe('unix socket listener', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-listen-'));

  it('serves on a socket created with mode 0660 by default', async () => {
    const path = join(dir, 'a.sock');
    const gateway = await startGateway({ listen: [`unix://${path}`] });
    try {
      assert.equal(statSync(path).mode & 0o777, 0o660);
      const connection = await RawConnection.open({ path });
      connection.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
      await connection.until((text) => text.endsWith('OK'));
      connection.close();
    } finally {
      await gateway.stop();
    }
  });

  it('applies --socket-mode', async () => {
    const path = join(dir, 'b.sock');
    const gateway = await startGateway({ listen: [`unix://${path}`], socketMode: '0600' });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await gateway.stop();
  });

  it('refuses a socket a live server answers on', async () => {
    const path = join(dir, 'c.sock');
    const first = await startGateway({ listen: [`unix://${path}`] });
    try {
      await assert.rejects(
        startGateway({ listen: [`unix://${path}`] }),
        (error) => isDockgateError(error, 'DG_LISTEN_FAILED') && /in use/.test(error.message),
      );
    } finally {
      await first.stop();
    }
  });

  it('replaces a stale socket left by a killed process', async () => {
    const path = join(dir, 'd.sock');
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await once(child.stdout, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.ok(statSync(path).isSocket(), 'the killed server left its socket file');
    const gateway = await startGateway({ listen: [`unix://${path}`] });
    await gateway.stop();
  });

  it('never replaces a file that is not a socket', async () => {
    const path = join(dir, 'e.sock');
    writeFileSync(path, 'precious');
    await assert.rejects(
      startGateway({ listen: [`unix://${path}`] }),
      (error) => isDockgateError(error, 'DG_LISTEN_FAILED') && /not a socket/.test(error.message),
    );
    assert.equal(readFileSync(path, 'utf8'), 'precious');
  });
});

describe('IPv6 listener', () => {
  it('serves on [::1]', async () => {
    const gateway = await startGateway({ listen: ['tcp://[::1]:0'] });
    try {
      assert.match(gateway.urls[0] ?? '', /^tcp:\/\/\[::1\]:\d+$/);
      const connection = await RawConnection.open({ host: '::1', port: gateway.port });
      connection.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
      await connection.until((text) => text.endsWith('OK'));
      connection.close();
    } finally {
      await gateway.stop();
    }
  });
});

/**
 * The kernel's timer for the gateway's side of a TCP connection, from /proc/net/tcp: the timer
 * kind ("02" = keep-alive) and when it fires, in clock ticks (USER_HZ, 100 per second).
 */
function serverSideTimer(
  serverPort: number,
  clientPort: number,
): { kind: string; ticks: number } | undefined {
  const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [local, remote, , , timer] = [fields[1], fields[2], fields[3], fields[4], fields[5]];
    if (local?.endsWith(`:${hex(serverPort)}`) && remote?.endsWith(`:${hex(clientPort)}`)) {
      const [kind, when] = (timer ?? '').split(':');
      return { kind: kind ?? '', ticks: Number.parseInt(when ?? '', 16) };
    }
  }
  return undefined;
}

describe('TCP keep-alive on client connections', () => {
  it('keepalive_idle_regression: an idle client connection is probed after 15 s, not the kernel default of 2 h', async () => {
    const gateway = await startGateway({ listen: ['tcp://127.0.0.1:0'] });
    try {
      const connection = await RawConnection.open({ host: '127.0.0.1', port: gateway.port });
      connection.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
      await connection.until((text) => text.endsWith('OK'));
      const clientPort = connection.socket.localPort as number;
      // Idle now: the kernel arms the keep-alive timer of the gateway's socket. Before the fix
      // Node asked for TCP_KEEPIDLE 0, Linux refused it, and the timer said 7,200 s.
      let timer: { kind: string; ticks: number } | undefined;
      await waitFor(
        () => {
          timer = serverSideTimer(gateway.port, clientPort);
          return timer?.kind === '02';
        },
        { what: 'a keep-alive timer on the gateway side of the connection' },
      );
      const ticks = timer?.ticks ?? Number.NaN;
      assert.ok(ticks <= 15 * 100, `keep-alive fires in ${ticks / 100} s; expected at most 15 s`);
      connection.close();
    } finally {
      await gateway.stop();
    }
  });
});

describe('TLS listener with client certificates, and a TLS upstream', () => {
  let pki: TestPki;
  let tlsGateway: Awaited<ReturnType<typeof startGateway>>;

  before(async () => {
    pki = makeTestPki();
    tlsGateway = await startGateway({
      listen: ['tls://127.0.0.1:0'],
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      tlsClientCa: pki.ca,
    });
  });
  after(async () => {
    await tlsGateway.stop();
  });

  it('serves the docker CLI with --tlsverify and a client certificate', async () => {
    const { stdout } = await run('docker', [
      '--tlsverify',
      `--tlscacert=${join(pki.clientDir, 'ca.pem')}`,
      `--tlscert=${join(pki.clientDir, 'cert.pem')}`,
      `--tlskey=${join(pki.clientDir, 'key.pem')}`,
      '-H',
      tlsGateway.dockerHost,
      'version',
      '--format',
      '{{.Server.APIVersion}}',
    ]);
    assert.match(stdout.trim(), /^1\.\d+$/);
  });

  it('refuses a client without a certificate', async () => {
    const socket = tlsConnect({ port: tlsGateway.port, host: '127.0.0.1', ca: readFileSync(pki.ca) });
    const outcome = await Promise.race([
      once(socket, 'error').then(() => 'error'),
      once(socket, 'close').then(() => 'closed'),
      once(socket, 'data').then(() => 'data'),
    ]);
    socket.destroy();
    assert.notEqual(outcome, 'data');
  });

  it('keeps half-close over TLS: exec output after the client ended stdin arrives', async () => {
    const direct = testClient();
    const container = await createContainer(direct, ['sleep', '60']);
    try {
      const exec = await direct.json<{ Id: string }>('POST', `/containers/${container}/exec`, {
        body: { Cmd: ['sh', '-c', 'cat; sleep 0.5; echo after-tls'], AttachStdin: true, AttachStdout: true },
      });
      // allowHalfOpen reaches the TLSSocket; Node's typings omit it.
      const options: ConnectionOptions & { allowHalfOpen: boolean } = {
        port: tlsGateway.port,
        host: '127.0.0.1',
        ca: readFileSync(pki.ca),
        cert: readFileSync(join(pki.clientDir, 'cert.pem')),
        key: readFileSync(join(pki.clientDir, 'key.pem')),
        allowHalfOpen: true,
      };
      const socket = tlsConnect(options);
      await once(socket, 'secureConnect');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const body = '{"Detach":false,"Tty":false}';
      socket.write(
        `POST /v1.41/exec/${exec.Id}/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      while (!Buffer.concat(chunks).includes('\r\n\r\n')) await sleep(10);
      socket.end('over-tls\n');
      await once(socket, 'end');
      const all = Buffer.concat(chunks);
      assert.equal(demux(all.subarray(all.indexOf('\r\n\r\n') + 4)).stdout, 'over-tls\nafter-tls\n');
      socket.destroy();
    } finally {
      await removeContainer(direct, container);
      await direct.close();
    }
  });

  it('forwards to a TLS engine with client certificates (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)', async () => {
    const saved = { verify: process.env.DOCKER_TLS_VERIFY, path: process.env.DOCKER_CERT_PATH };
    process.env.DOCKER_TLS_VERIFY = '1';
    process.env.DOCKER_CERT_PATH = pki.clientDir;
    let chained: Awaited<ReturnType<typeof startGateway>> | undefined;
    try {
      chained = await startGateway({ upstream: tlsGateway.dockerHost });
    } finally {
      process.env.DOCKER_TLS_VERIFY = saved.verify ?? '';
      process.env.DOCKER_CERT_PATH = saved.path ?? '';
      if (saved.verify === undefined) delete process.env.DOCKER_TLS_VERIFY;
      if (saved.path === undefined) delete process.env.DOCKER_CERT_PATH;
    }
    const client = new DockerClient({ engine: chained.dockerHost });
    try {
      assert.equal(await client.ping(), 'OK');
      const version = await client.version();
      assert.match(version.ApiVersion, /^1\.\d+$/);
    } finally {
      await client.close();
      await chained.stop();
    }
  });
});

describe('graceful shutdown on SIGTERM (the dockgate process)', () => {
  it('finishes requests under way, cuts endless streams after the grace period, refuses new connections', async () => {
    const direct = testClient();
    const container = await createContainer(direct, ['sh', '-c', 'sleep 1; exit 4']);
    const { child, port } = await startDockgate(['--listen', 'tcp://127.0.0.1:0', '--shutdown-grace', '3']);
    try {
      const events = await RawConnection.open({ port });
      events.write('GET /v1.41/events HTTP/1.1\r\nHost: d\r\n\r\n');
      const wait = await RawConnection.open({ port });
      wait.write(`POST /v1.41/containers/${container}/wait HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n`);
      await events.until((text) => text.includes('\r\n\r\n'));
      await wait.until((text) => text.includes('\r\n\r\n'));

      const started = Date.now();
      child.kill('SIGTERM');
      // New connections are refused once the signal is handled (however long a loaded machine takes).
      await waitFor(
        () =>
          RawConnection.open({ port }).then(
            (c) => {
              c.close();
              return false;
            },
            () => true,
          ),
        { what: 'new connections refused' },
      );
      await wait.until((text) => text.includes('"StatusCode":4'), 5_000);
      await events.untilEnded(10_000);
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
      const took = Date.now() - started;
      assert.ok(took >= 2_500, `the events stream was given the grace period (${took} ms)`);
      assert.equal(splitMessage(wait.text).status, 200);
    } finally {
      child.kill('SIGKILL');
      await removeContainer(direct, container);
      await direct.close();
    }
  });
});
