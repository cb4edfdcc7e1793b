import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawConnection, splitMessage } from '../helpers/raw-http.js';

/**
 * The bypass suite: one named test per technique used to get past socket proxies. Each sends
 * the attack through the gateway to the real engine, expects a refusal, and then asks the
 * engine directly that nothing was created or changed.
 */
const client = testClient();

/** Sends raw bytes, reads until the gateway closes; returns every answer's status in order. */
async function send(port: number, request: string | Buffer): Promise<{ statuses: number[]; text: string }> {
  const connection = await RawConnection.open({ port });
  connection.write(request);
  const text = await connection.untilEnded(15_000);
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  return { statuses, text };
}

function post(path: string, body: string, extra = ''): string {
  return `POST ${path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Status of a GET straight to the engine (404: the object does not exist). */
async function engineStatus(path: string): Promise<number> {
  const response = await client.request('GET', path);
  await response.body.resume();
  return response.status;
}

const image = (): string => testEngine().image;
let seq = 0;
const uniqueName = (technique: string): string => `bypass-${technique}-${process.pid}-${++seq}`;

async function assertRefusedCreate(
  port: number,
  technique: string,
  request: (name: string) => string,
  expected: number,
): Promise<void> {
  const name = uniqueName(technique);
  const { statuses, text } = await send(port, request(name));
  assert.ok(
    statuses.includes(expected),
    `expected ${expected}, got ${statuses.join(',')}: ${text.slice(0, 400)}`,
  );
  assert.match(splitMessage(text.slice(text.lastIndexOf('HTTP/1.1'))).body, /"message":"dockgate: /);
  assert.equal(await engineStatus(`/containers/${name}/json`), 404, `container ${name} must not exist`);
}

describe('bypass suite: path tricks against a manage gateway (create is not allowed)', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ profile: 'manage' });
  });
  after(() => gateway.stop());

  const body = (): string => JSON.stringify({ Image: image(), HostConfig: { NetworkMode: 'none' } });
  const cases: [string, (name: string) => string, number][] = [
    ['plain create is refused (control)', (n) => post(`/v1.41/containers/create?name=${n}`, body()), 403],
    ['encoded slash %2F', (n) => post(`/v1.41/containers%2Fcreate?name=${n}`, body()), 403],
    ['encoded slash in lower case %2f', (n) => post(`/containers%2fcreate?name=${n}`, body()), 403],
    ['dot segment', (n) => post(`/v1.41/containers/x/../create?name=${n}`, body()), 400],
    ['encoded dot segment %2e%2e', (n) => post(`/v1.41/containers/x/%2e%2e/create?name=${n}`, body()), 400],
    ['single dot segment', (n) => post(`/v1.41/./containers/create?name=${n}`, body()), 400],
    ['repeated version prefix', (n) => post(`/v1.41/v1.41/containers/create?name=${n}`, body()), 400],
    ['percent-encoded version prefix', (n) => post(`/%761.41/containers/create?name=${n}`, body()), 400],
    ['version prefix glued by %2F', (n) => post(`/v1.41%2Fcontainers/create?name=${n}`, body()), 400],
    ['upper case path', (n) => post(`/V1.41/CONTAINERS/CREATE?name=${n}`, body()), 403],
    ['double slashes', (n) => post(`//containers//create?name=${n}`, body()), 403],
    ['double slash after the version', (n) => post(`/v1.41//containers/create?name=${n}`, body()), 403],
    ['backslash', (n) => post(`/v1.41/containers\\create?name=${n}`, body()), 400],
    ['encoded NUL', (n) => post(`/v1.41/containers/create%00?name=${n}`, body()), 400],
    ['fragment', (n) => post(`/v1.41/containers/create#x?name=${n}`, body()), 400],
    [
      'lower-case method',
      (n) => post(`/v1.41/containers/create?name=${n}`, body()).replace(/^POST/, 'post'),
      403,
    ],
  ];
  for (const [technique, request, status] of cases) {
    it(`${technique} → ${status}, nothing created`, async () => {
      await assertRefusedCreate(gateway.port, technique.replace(/\W+/g, '-'), request, status);
    });
  }

  it('pipelined on one keep-alive connection: allowed GET, then a denied create → 200, 403, closed, nothing created', async () => {
    const name = uniqueName('pipelined');
    const { statuses } = await send(
      gateway.port,
      `GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n${post(`/containers/create?name=${name}`, body())}GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n`,
    );
    assert.deepEqual(statuses, [200, 403]);
    assert.equal(await engineStatus(`/containers/${name}/json`), 404);
  });
});

describe('bypass suite: framing and body tricks against a deploy gateway', () => {
  let gateway: TestGateway;
  let victim: string;
  before(async () => {
    gateway = await startGateway({ profile: 'deploy' });
    victim = await createContainer(client, ['sleep', '60'], { start: false });
  });
  after(async () => {
    await gateway.stop();
    await removeContainer(client, victim);
  });

  const create = (n: string, json: string, extra = ''): string =>
    post(`/v1.41/containers/create?name=${n}`, json, extra);
  const privileged = (): string =>
    JSON.stringify({ Image: image(), HostConfig: { NetworkMode: 'none', Privileged: true } });

  it('a clean create is allowed (control): the engine has it', async () => {
    const name = uniqueName('control');
    const { statuses } = await send(
      gateway.port,
      `${create(name, JSON.stringify({ Image: image(), Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }), 'Connection: close\r\n')}`,
    );
    assert.deepEqual(statuses, [201]);
    assert.equal(await engineStatus(`/containers/${name}/json`), 200);
    await client.json('DELETE', `/containers/${name}`, { query: { force: 1 } });
  });

  it('conflicting length headers (Content-Length + Transfer-Encoding) → 400', async () => {
    await assertRefusedCreate(
      gateway.port,
      'cl-te',
      (n) => create(n, privileged(), 'Transfer-Encoding: chunked\r\n'),
      400,
    );
  });

  it('two Content-Length headers → 400', async () => {
    await assertRefusedCreate(
      gateway.port,
      'cl-cl',
      (n) => create(n, privileged(), 'Content-Length: 2\r\n'),
      400,
    );
  });

  it('Content-Length: 0 with a body (CVE-2024-41110): the body never reaches the engine as a body', async () => {
    const name = uniqueName('cl0');
    const { statuses } = await send(
      gateway.port,
      `POST /v1.41/containers/create?name=${name} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n${privileged()}\r\n\r\n`,
    );
    // The engine refuses a create without a config; the trailing JSON is read as the next
    // request head, which is no HTTP request (400), and the connection is closed.
    assert.ok((statuses[0] ?? 0) >= 400, `first answer ${statuses[0]}`);
    assert.equal(statuses.length, 2);
    assert.equal(statuses.at(-1), 400);
    assert.equal(await engineStatus(`/containers/${name}/json`), 404);
  });

  it('chunked body with a host escape → 403', async () => {
    await assertRefusedCreate(
      gateway.port,
      'chunked',
      (n) => {
        const json = privileged();
        const half = Math.floor(json.length / 2);
        const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
        return `POST /v1.41/containers/create?name=${n} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(json.slice(0, half))}${chunk(json.slice(half))}0\r\n\r\n`;
      },
      403,
    );
  });

  const bodies: [string, (img: string) => string][] = [
    [
      'JSON key case (hostconfig/privileged)',
      (i) => `{"Image":"${i}","hostconfig":{"NetworkMode":"none","privileged":true}}`,
    ],
    [
      'duplicate keys: the last one wins',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Privileged":false,"Privileged":true}}`,
    ],
    [
      'duplicate HostConfig objects',
      (i) =>
        `{"Image":"${i}","HostConfig":{"NetworkMode":"none"},"HostConfig":{"NetworkMode":"none","Privileged":true}}`,
    ],
    [
      'case-folded duplicate: the later spelling wins',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Privileged":false,"PRIVILEGED":true}}`,
    ],
    [
      '\\u escapes in a key',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","\\u0050rivileged":true}}`,
    ],
    [
      'Unicode folding: long s (U+017F) in Binds',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Bind\\u017f":["/:/host"]}}`,
    ],
    [
      'Unicode folding: Kelvin sign (U+212A) in NetworkMode',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Networ\\u212aMode":"host"}}`,
    ],
    [
      'deprecated top-level HostConfig fields',
      (i) => `{"Image":"${i}","NetworkMode":"none","Privileged":true}`,
    ],
    [
      'a second JSON value after the first',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none"}} {"HostConfig":{"Privileged":true}}`,
    ],
    [
      'Binds of the host root',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Binds":["/:/host"]}}`,
    ],
    [
      'Binds of the Docker socket',
      (i) =>
        `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Binds":["/var/run/docker.sock:/docker.sock"]}}`,
    ],
    [
      'bind mount through Mounts',
      (i) =>
        `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Mounts":[{"Type":"bind","Source":"/etc","Target":"/e"}]}}`,
    ],
    [
      'local volume with bind options through Mounts',
      (i) =>
        `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Mounts":[{"Type":"volume","Target":"/v","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]}}`,
    ],
    [
      'CapAdd SYS_ADMIN',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","CapAdd":["SYS_ADMIN"]}}`,
    ],
    [
      'CapAdd as a string (StrSlice)',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","CapAdd":"CAP_SYS_ADMIN"}}`,
    ],
    [
      'Devices',
      (i) =>
        `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Devices":[{"PathOnHost":"/dev/null","PathInContainer":"/dev/x","CgroupPermissions":"rwm"}]}}`,
    ],
    [
      'DeviceCgroupRules',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","DeviceCgroupRules":["a *:* rwm"]}}`,
    ],
    ['host PID namespace', (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","PidMode":"host"}}`],
    ['host IPC namespace', (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","IpcMode":"host"}}`],
    ['host UTS namespace', (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","UTSMode":"host"}}`],
    [
      'host user namespace',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","UsernsMode":"host"}}`,
    ],
    ['host network', (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"host"}}`],
    [
      'seccomp unconfined',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","SecurityOpt":["seccomp=unconfined"]}}`,
    ],
    [
      'apparmor unconfined',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","SecurityOpt":["apparmor=unconfined"]}}`,
    ],
    [
      'label=disable',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","SecurityOpt":["label=disable"]}}`,
    ],
    [
      'Sysctls',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Sysctls":{"net.ipv4.ip_forward":"1"}}}`,
    ],
    ['CgroupParent', (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","CgroupParent":"/"}}`],
    ['runtime override', (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","Runtime":"runc-evil"}}`],
    [
      'unmasked /proc (MaskedPaths: [])',
      (i) => `{"Image":"${i}","HostConfig":{"NetworkMode":"none","MaskedPaths":[]}}`,
    ],
    // log_driver_regression (issue 22's review): dockerd itself would connect from the host to the
    // engine's own socket, or to a loopback port, past the container's network `none`.
    [
      'log driver syslog to the engine socket',
      (i) =>
        `{"Image":"${i}","Cmd":["true"],"HostConfig":{"NetworkMode":"none","LogConfig":{"Type":"syslog","Config":{"syslog-address":"${testEngine().host}"}}}}`,
    ],
    [
      'log driver gelf to a loopback port',
      (i) =>
        `{"Image":"${i}","Cmd":["true"],"HostConfig":{"NetworkMode":"none","LogConfig":{"Type":"gelf","Config":{"gelf-address":"udp://127.0.0.1:9"}}}}`,
    ],
    [
      'log driver fluentd, top level (legacy)',
      (i) =>
        `{"Image":"${i}","Cmd":["true"],"LogConfig":{"Type":"fluentd","Config":{"fluentd-address":"127.0.0.1:9"}}}`,
    ],
  ];
  for (const [technique, json] of bodies) {
    it(`container create: ${technique} → denied, nothing created`, async () => {
      const expected = technique.startsWith('a second JSON value') ? 400 : 403;
      await assertRefusedCreate(
        gateway.port,
        technique.replace(/\W+/g, '-').slice(0, 30),
        (n) => create(n, json(image())),
        expected,
      );
    });
  }

  it('log_driver_regression: the engine itself accepts a syslog driver aimed at its own socket (what the gateway stops); json-file with options passes the gateway', async () => {
    const direct = await client.json<{ Id: string }>('POST', '/containers/create', {
      body: {
        Image: image(),
        Cmd: ['true'],
        Labels: { [RUN_LABEL]: testEngine().runId },
        HostConfig: {
          NetworkMode: 'none',
          LogConfig: { Type: 'syslog', Config: { 'syslog-address': testEngine().host } },
        },
      },
    });
    await client.json('DELETE', `/containers/${direct.Id}`, { query: { force: 1 } });
    const name = uniqueName('json-file');
    const json = JSON.stringify({
      Image: image(),
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'json-file', Config: { 'max-size': '1m' } } },
    });
    const { statuses } = await send(gateway.port, create(name, json, 'Connection: close\r\n'));
    assert.deepEqual(statuses, [201]);
    await client.json('DELETE', `/containers/${name}`, { query: { force: 1 } });
  });

  it('Expect: 100-continue on an inspected route: the gateway says continue itself, then decides', async () => {
    const name = uniqueName('expect');
    const json = JSON.stringify({ Image: image(), Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(
      `POST /v1.41/containers/create?name=${name} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: ${json.length}\r\n\r\n`,
    );
    await connection.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
    connection.write(json);
    const text = await connection.untilEnded();
    assert.match(text, /HTTP\/1\.1 201 Created/);
    assert.equal(await engineStatus(`/containers/${name}/json`), 200);
    await client.json('DELETE', `/containers/${name}`, { query: { force: 1 } });
  });

  it('body over the limit → 413 before anything reaches the engine', async () => {
    const padding = 'x'.repeat(1024 * 1024 + 10);
    await assertRefusedCreate(
      gateway.port,
      'too-large',
      (n) => create(n, `{"Image":"${image()}","Labels":{"pad":"${padding}"}}`),
      413,
    );
  });

  it('update: Devices → 403, the container is unchanged', async () => {
    const { statuses } = await send(
      gateway.port,
      post(
        `/v1.41/containers/${victim}/update`,
        '{"Devices":[{"PathOnHost":"/dev/null","PathInContainer":"/dev/x","CgroupPermissions":"rwm"}]}',
      ),
    );
    assert.deepEqual(statuses, [403]);
    const inspect = await client.json<{ HostConfig: { Devices: unknown[] | null } }>(
      'GET',
      `/containers/${victim}/json`,
    );
    assert.ok(inspect.HostConfig.Devices === null || inspect.HostConfig.Devices.length === 0);
  });

  it('legacy start with a HostConfig body (API 1.23): Privileged → 403, the container is not started', async () => {
    const { statuses } = await send(
      gateway.port,
      post(`/v1.23/containers/${victim}/start`, '{"Privileged":true,"Binds":["/:/host"]}'),
    );
    assert.deepEqual(statuses, [403]);
    const inspect = await client.json<{ State: { Running: boolean } }>('GET', `/containers/${victim}/json`);
    assert.equal(inspect.State.Running, false);
  });

  it('exec create: Privileged → 403, no exec instance created', async () => {
    const { statuses } = await send(
      gateway.port,
      post(`/v1.41/containers/${victim}/exec`, '{"Cmd":["id"],"Privileged":true}'),
    );
    assert.deepEqual(statuses, [403]);
    const inspect = await client.json<{ ExecIDs: string[] | null }>('GET', `/containers/${victim}/json`);
    assert.equal(inspect.ExecIDs, null);
  });

  it('volume create: local driver binding a host path → 403, no volume', async () => {
    const name = uniqueName('volume');
    const { statuses } = await send(
      gateway.port,
      post(
        '/v1.41/volumes/create',
        JSON.stringify({
          Name: name,
          Driver: 'local',
          DriverOpts: { type: 'none', o: 'bind', device: '/etc' },
        }),
      ),
    );
    assert.deepEqual(statuses, [403]);
    assert.equal(await engineStatus(`/volumes/${name}`), 404);
  });

  it('network create: macvlan on a host interface → 403, no network', async () => {
    const name = uniqueName('network');
    const { statuses } = await send(
      gateway.port,
      post(
        '/v1.41/networks/create',
        JSON.stringify({ Name: name, Driver: 'macvlan', Options: { parent: 'lo' } }),
      ),
    );
    assert.deepEqual(statuses, [403]);
    assert.equal(await engineStatus(`/networks/${name}`), 404);
  });

  it('build with networkmode=host → 403 before the context is read, no image', async () => {
    const tag = uniqueName('build');
    const { statuses } = await send(
      gateway.port,
      `POST /v1.41/build?t=${tag}&networkmode=host HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\nContent-Length: 1024\r\n\r\n${'\0'.repeat(1024)}`,
    );
    assert.deepEqual(statuses, [403]);
    assert.equal(await engineStatus(`/images/${tag}/json`), 404);
  });

  it('image import from a URL (fromSrc) → 403, the engine fetches nothing', async () => {
    const tag = uniqueName('import');
    const { statuses } = await send(
      gateway.port,
      `POST /v1.41/images/create?fromSrc=http://127.0.0.1:9/rootfs.tar&repo=${tag} HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.deepEqual(statuses, [403]);
    assert.equal(await engineStatus(`/images/${tag}/json`), 404);
  });

  it('plugin install, swarm and service endpoints → 403', async () => {
    for (const path of [
      '/v1.41/plugins/pull?remote=127.0.0.1:9/p',
      '/v1.41/swarm/init',
      '/v1.41/services/create',
    ]) {
      const { statuses } = await send(gateway.port, post(path, '{}'));
      assert.deepEqual(statuses, [403], path);
    }
    assert.equal(await engineStatus('/plugins'), 200);
    const plugins = await client.json<unknown[]>('GET', '/plugins');
    assert.deepEqual(plugins, []);
  });
});
