import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addToken, revokeToken } from '../../src/auth/tokens.js';
import type { RawServeOptions } from '../../src/config/serve-config.js';
import { makeTestPki } from '../helpers/certs.js';
import { dockerClis, runCli } from '../helpers/docker-cli.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ask, RawConnection, splitMessage } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

const client = testClient();
const dir = mkdtempSync(join(tmpdir(), 'dockgate-access-'));

interface Answer {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** One request on its own connection. */

const createBody = (): string =>
  JSON.stringify({
    Image: testEngine().image,
    Cmd: ['true'],
    Labels: { [RUN_LABEL]: testEngine().runId },
    HostConfig: { NetworkMode: 'none' },
  });

async function cleanup(answer: Answer): Promise<void> {
  if (answer.status === 201) await removeContainer(client, (JSON.parse(answer.body) as { Id: string }).Id);
}

describe('identities: bearer tokens', () => {
  const tokens = join(dir, 'tokens.json');
  let gateway: TestGateway;
  let ci: string;
  before(async () => {
    ci = addToken(tokens, 'ci', 'deploy');
    addToken(tokens, 'viewer', 'read-only');
    gateway = await startGateway({ profile: 'read-only', tokens });
  });
  after(() => gateway.stop());

  it('the store holds hashes only, never the token', () => {
    const text = readFileSync(tokens, 'utf8');
    assert.ok(!text.includes(ci));
    assert.match(text, /"hash": "sha256:[0-9a-f]{64}"/);
  });

  it('no token: the listener profile (read-only) — list allowed, create 403 with a Docker-shaped message and request id', async () => {
    assert.equal((await ask(gateway, 'GET', '/v1.41/containers/json')).status, 200);
    const denied = await ask(gateway, 'POST', '/v1.41/containers/create', {}, createBody());
    assert.equal(denied.status, 403);
    const id = /X-Dockgate-Request-Id: (\S+)/.exec(denied.head)?.[1];
    assert.deepEqual(JSON.parse(denied.body), {
      message: `dockgate: POST /containers/create is not allowed for profile read-only (request ${id})`,
    });
    const line = gateway.logs.find((l) => l.req === id);
    assert.equal(line?.decision, 'deny');
    assert.equal(line?.identity, 'anonymous');
    assert.equal(line?.rule, 'default-deny');
    assert.equal(line?.status, 403);
    assert.equal(line?.npath, '/containers/create');
  });

  it('a valid token selects its identity and profile (deploy): create 201, the audit line names it', async () => {
    const created = await ask(
      gateway,
      'POST',
      '/v1.41/containers/create',
      { Authorization: `Bearer ${ci}` },
      createBody(),
    );
    assert.equal(created.status, 201, created.body);
    await cleanup(created);
    const line = gateway.logs.findLast((l) => l.path === '/v1.41/containers/create');
    assert.equal(line?.identity, 'ci');
    assert.equal(line?.profile, 'deploy');
    assert.equal(line?.decision, 'allow');
  });

  it('unknown token → 401; malformed scheme → 401; two Authorization headers → 401', async () => {
    const unknown = await ask(gateway, 'GET', '/_ping', { Authorization: 'Bearer dg_nope' });
    assert.equal(unknown.status, 401);
    assert.match(JSON.parse(unknown.body).message, /^dockgate: unknown or revoked token \(request /);
    assert.equal(
      (
        await ask(gateway, 'GET', '/_ping', {
          Authorization: `Basic ${Buffer.from('a:b').toString('base64')}`,
        })
      ).status,
      401,
    );
    const connection = await RawConnection.open(gateway);
    connection.write(
      `GET /_ping HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${ci}\r\nAuthorization: Bearer ${ci}\r\n\r\n`,
    );
    assert.equal(splitMessage(await connection.untilEnded()).status, 401);
  });

  it('token_added_first_request_regression: a token added a moment ago works on its very first request (no wait for the watcher)', async () => {
    const fresh = addToken(tokens, 'just-added', 'read-only');
    assert.equal((await ask(gateway, 'GET', '/_ping', { Authorization: `Bearer ${fresh}` })).status, 200);
    // An unknown token with the file unchanged is refused without reading the file again.
    assert.equal((await ask(gateway, 'GET', '/_ping', { Authorization: 'Bearer dg_nope' })).status, 401);
  });

  it('revoking takes effect on the next reload (the file is watched)', async () => {
    const viewer = addToken(tokens, 'short-lived', 'read-only');
    await waitFor(
      async () => (await ask(gateway, 'GET', '/_ping', { Authorization: `Bearer ${viewer}` })).status === 200,
    );
    revokeToken(tokens, 'short-lived');
    await waitFor(
      async () => (await ask(gateway, 'GET', '/_ping', { Authorization: `Bearer ${viewer}` })).status === 401,
    );
  });

  for (const cli of dockerClis()) {
    it(`docker CLI ${cli.version} sends the token through HttpHeaders in config.json`, async () => {
      const config = mkdtempSync(join(dir, 'docker-config-'));
      const host = `tcp://127.0.0.1:${gateway.port}`;
      const args = [
        'create',
        '--network',
        'none',
        '--label',
        `${RUN_LABEL}=${testEngine().runId}`,
        testEngine().image,
        'true',
      ];
      writeFileSync(join(config, 'config.json'), '{}');
      const refused = await runCli(cli, host, args, { env: { DOCKER_CONFIG: config } });
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /Error response from daemon: dockgate: POST \/containers\/create is not allowed for profile read-only \(request /,
      );
      writeFileSync(
        join(config, 'config.json'),
        JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${ci}` } }),
      );
      const created = await runCli(cli, host, args, { env: { DOCKER_CONFIG: config } });
      assert.equal(created.code, 0, created.stderr);
      await removeContainer(client, created.stdout.trim());
    });
  }
});

describe('identities: the Authorization header never reaches the engine', () => {
  const relay = new EngineRelay();
  const tokens = join(dir, 'relay-tokens.json');
  let gateway: TestGateway;
  let token: string;
  before(async () => {
    token = addToken(tokens, 'relayed', 'full');
    await relay.start();
    gateway = await startGateway({ upstream: relay.url, profile: 'read-only', tokens });
  });
  after(async () => {
    await gateway.stop();
    await relay.stop();
  });

  it('stripped from the head the engine receives, whatever its case', async () => {
    const answer = await ask(gateway, 'GET', '/v1.41/version', {
      authorization: `bearer ${token}`,
      'X-Kept': 'yes',
    });
    assert.equal(answer.status, 200);
    const seen = relay.sentText();
    assert.match(seen, /X-Kept: yes/);
    assert.doesNotMatch(seen, /authorization/i);
    assert.ok(!seen.includes(token));
  });
});

describe('identities: mTLS client certificates', () => {
  const pki = makeTestPki('ci-runner');
  const config = join(dir, 'mtls.yaml');
  let gateway: TestGateway;
  before(async () => {
    writeFileSync(
      config,
      'version: 1\nidentities:\n  ci-runner:\n    profile: deploy\n    certNames: [ci-runner]\n',
    );
    gateway = await startGateway({
      listen: ['tls://127.0.0.1:0'],
      profile: 'read-only',
      config,
      tokens: join(dir, 'none.json'),
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      tlsClientCa: pki.ca,
    });
  });
  after(() => gateway.stop());

  for (const cli of dockerClis()) {
    it(`docker CLI ${cli.version} with the client certificate acts as identity ci-runner (deploy)`, async () => {
      const result = await runCli(
        cli,
        `tcp://127.0.0.1:${gateway.port}`,
        [
          '--tlsverify',
          'create',
          '--network',
          'none',
          '--label',
          `${RUN_LABEL}=${testEngine().runId}`,
          testEngine().image,
          'true',
        ],
        { env: { DOCKER_CERT_PATH: pki.clientDir, DOCKER_TLS_VERIFY: '1' } },
      );
      assert.equal(result.code, 0, result.stderr);
      await removeContainer(client, result.stdout.trim());
      const line = gateway.logs.findLast(
        (l) => l.method === 'POST' && String(l.path).endsWith('/containers/create'),
      );
      assert.equal(line?.identity, 'ci-runner');
    });
  }

  it('a certificate with no identity gets the listener profile', async () => {
    writeFileSync(
      config,
      'version: 1\nidentities:\n  other:\n    profile: deploy\n    certNames: [someone-else]\n',
    );
    assert.equal(gateway.runtime.reloader.reload('test'), true);
    const [cli] = dockerClis();
    assert.ok(cli);
    const result = await runCli(
      cli,
      `tcp://127.0.0.1:${gateway.port}`,
      ['--tlsverify', 'create', '--network', 'none', testEngine().image, 'true'],
      {
        env: { DOCKER_CERT_PATH: pki.clientDir, DOCKER_TLS_VERIFY: '1' },
      },
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /not allowed for profile read-only/);
  });
});

describe('identities: source addresses (CIDR, IPv4 and IPv6)', () => {
  const start = async (
    name: string,
    yaml: string,
    extra: Partial<RawServeOptions> = {},
  ): Promise<TestGateway> => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    return startGateway({ listen: [], config: file, tokens: join(dir, `${name}-tokens.json`), ...extra });
  };

  it('a listener allow-list without the caller → 403 naming the address; with it → served', async () => {
    const closed = await start(
      'cidr-closed',
      'version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n    allowFrom: [10.0.0.0/8, "fd00::/8"]\n',
    );
    const open = await start(
      'cidr-open',
      'version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n    allowFrom: [127.0.0.0/8]\n',
    );
    try {
      const denied = await ask(closed, 'GET', '/_ping');
      assert.equal(denied.status, 403);
      assert.match(
        JSON.parse(denied.body).message,
        /address 127\.0\.0\.1 may not use tcp:\/\/127\.0\.0\.1:0/,
      );
      assert.equal((await ask(open, 'GET', '/_ping')).status, 200);
    } finally {
      await closed.stop();
      await open.stop();
    }
  });

  it('IPv6: ::1 allowed by ::1/128, refused by fd00::/8', async () => {
    const v6 = await start(
      'cidr-v6',
      'version: 1\nlisteners:\n  - listen: tcp://[::1]:0\n    allowFrom: ["::1/128"]\n',
    );
    const v6closed = await start(
      'cidr-v6-closed',
      'version: 1\nlisteners:\n  - listen: tcp://[::1]:0\n    allowFrom: ["fd00::/8"]\n',
    );
    try {
      assert.equal((await ask({ port: v6.port, host: '::1' }, 'GET', '/_ping')).status, 200);
      assert.equal((await ask({ port: v6closed.port, host: '::1' }, 'GET', '/_ping')).status, 403);
    } finally {
      await v6.stop();
      await v6closed.stop();
    }
  });

  it('an identity allow-list: the right token from the wrong address → 403', async () => {
    const tokens = join(dir, 'cidr-identity-tokens.json');
    const token = addToken(tokens, 'office', 'deploy');
    const gateway = await start(
      'cidr-identity',
      'version: 1\nidentities:\n  office:\n    allowFrom: [192.168.0.0/16]\n',
      { tokens, listen: ['tcp://127.0.0.1:0'] },
    );
    try {
      const denied = await ask(gateway, 'GET', '/_ping', { Authorization: `Bearer ${token}` });
      assert.equal(denied.status, 403);
      assert.match(JSON.parse(denied.body).message, /identity office may not connect from 127\.0\.0\.1/);
    } finally {
      await gateway.stop();
    }
  });
});

describe('limits: per-identity rate and concurrency', () => {
  let gateway: TestGateway;
  let container: string;
  const tokens = join(dir, 'limits-tokens.json');
  let fast: string;
  let narrow: string;
  before(async () => {
    fast = addToken(tokens, 'fast', 'read-only');
    narrow = addToken(tokens, 'narrow', 'read-only');
    const config = join(dir, 'limits.yaml');
    writeFileSync(
      config,
      'version: 1\nidentities:\n  fast:\n    rateLimit: {perSecond: 0.5, burst: 3}\n  narrow:\n    concurrency: 1\n',
    );
    gateway = await startGateway({ profile: 'read-only', tokens, config });
    container = await createContainer(client, ['sh', '-c', 'while true; do echo tick; sleep 0.2; done']);
  });
  after(async () => {
    await gateway.stop();
    await removeContainer(client, container);
  });

  it('rate: the burst passes, the next request → 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await ask(gateway, 'GET', '/_ping', { Authorization: `Bearer ${fast}` })).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
  });

  it('concurrency: while a logs -f stream is open, a second request → 429; after it closes → 200', async () => {
    const stream = await RawConnection.open(gateway);
    stream.write(
      `GET /v1.41/containers/${container}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${narrow}\r\n\r\n`,
    );
    await stream.until((t) => t.includes('tick'));
    const second = await ask(gateway, 'GET', '/_ping', { Authorization: `Bearer ${narrow}` });
    assert.equal(second.status, 429);
    assert.match(JSON.parse(second.body).message, /too many requests in flight for narrow/);
    stream.close();
    await waitFor(
      async () => (await ask(gateway, 'GET', '/_ping', { Authorization: `Bearer ${narrow}` })).status === 200,
    );
  });
});

describe('audit: a rotating file', () => {
  it('one JSON line per decision, rotated by size, the newest files kept', async () => {
    const auditDir = mkdtempSync(join(dir, 'audit-'));
    const file = join(auditDir, 'audit.log');
    const gateway = await startGateway({
      profile: 'read-only',
      auditFile: file,
      auditMaxSize: '2K',
      auditKeep: '2',
    });
    try {
      for (let i = 0; i < 30; i++)
        await ask(gateway, i % 2 === 0 ? 'GET' : 'POST', i % 2 === 0 ? '/_ping' : '/containers/create');
      await waitFor(async () => readdirSync(auditDir).length >= 2);
    } finally {
      await gateway.stop();
    }
    const files = readdirSync(auditDir).sort();
    assert.ok(files.includes('audit.log') && files.includes('audit.log.1'), files.join(','));
    assert.ok(files.length <= 3, files.join(','));
    const lines = files
      .flatMap((f) => readFileSync(join(auditDir, f), 'utf8').split('\n'))
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.filter((l) => l.status === 403).length >= 1, true);
    for (const line of lines) {
      for (const key of [
        'time',
        'req',
        'identity',
        'listener',
        'client',
        'method',
        'path',
        'npath',
        'decision',
        'mode',
        'rule',
        'status',
        'in',
        'out',
        'ms',
      ]) {
        assert.ok(key in line, `${key} in ${JSON.stringify(line)}`);
      }
    }
    assert.ok(lines.some((l) => l.decision === 'deny' && typeof l.reason === 'string'));
    assert.equal(
      gateway.logs.filter((l) => l.msg === 'request').length,
      0,
      'audit lines go to the file, not the log',
    );
  });
});
