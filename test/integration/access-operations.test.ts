import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { addToken } from '../../src/auth/tokens.js';
import { startDockgate } from '../helpers/dockgate-process.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway } from '../helpers/gateway.js';
import { promtool } from '../helpers/prometheus.js';
import { ask, RawConnection } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const client = testClient();
const dir = mkdtempSync(join(tmpdir(), 'dockgate-ops-'));

const createBody = (): string =>
  JSON.stringify({
    Image: testEngine().image,
    Cmd: ['true'],
    Labels: { [RUN_LABEL]: testEngine().runId },
    HostConfig: { NetworkMode: 'none' },
  });

describe('hot reload (a real dockgate process)', () => {
  const config = join(dir, 'reload.yaml');
  const tokens = join(dir, 'reload-tokens.json');
  let token: string;
  let container: string;
  before(async () => {
    token = addToken(tokens, 'ci', 'ci');
    container = await createContainer(client, [
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.1; done',
    ]);
  });
  after(() => removeContainer(client, container));

  it('SIGHUP and file changes swap the policy; an invalid one is rejected; an open logs -f stream is not dropped', async () => {
    writeFileSync(config, 'version: 1\nprofiles:\n  ci:\n    extends: read-only\n');
    const gateway = await startDockgate(
      ['--listen', 'tcp://127.0.0.1:0', '--config', config, '--profile', 'read-only'],
      { tokens },
    );
    const auth = { Authorization: `Bearer ${token}` };
    try {
      const stream = await RawConnection.open({ port: gateway.port });
      stream.write(
        `GET /v1.41/containers/${container}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      );
      await stream.until((t) => t.includes('line-'));
      assert.equal(
        (await ask(gateway.port, 'POST', '/v1.41/containers/create', auth, createBody())).status,
        403,
      );

      // 1. The file changes: ci may now create.
      writeFileSync(config, 'version: 1\nprofiles:\n  ci:\n    extends: deploy\n');
      let created = { status: 0, body: '' };
      await waitFor(async () => {
        created = await ask(gateway.port, 'POST', '/v1.41/containers/create', auth, createBody());
        return created.status === 201;
      });
      await removeContainer(client, (JSON.parse(created.body) as { Id: string }).Id);

      // 2. An invalid file: rejected with a log line, the policy in force stays.
      writeFileSync(config, 'version: 1\nprofiles:\n  ci:\n    extends: no-such-profile\n');
      await waitFor(() => gateway.stdout().includes('policy reload rejected'));
      assert.match(gateway.stdout(), /unknown profile \\"no-such-profile\\"/);
      const still = await ask(gateway.port, 'POST', '/v1.41/containers/create', auth, createBody());
      assert.equal(still.status, 201);
      await removeContainer(client, (JSON.parse(still.body) as { Id: string }).Id);

      // 3. SIGHUP: fixed file, read on the signal.
      const reloads = (): number => (gateway.stdout().match(/"msg":"policy reloaded"/g) ?? []).length;
      const beforeFix = reloads();
      writeFileSync(config, 'version: 1\nprofiles:\n  ci:\n    extends: read-only\n');
      // The watcher's own reload of the fixed file passes first, so the SIGHUP one is told apart.
      await waitFor(() => reloads() > beforeFix);
      const before = reloads();
      gateway.child.kill('SIGHUP');
      await waitFor(() => reloads() > before && gateway.stdout().includes('"why":"SIGHUP"'));
      assert.equal(
        (await ask(gateway.port, 'POST', '/v1.41/containers/create', auth, createBody())).status,
        403,
      );

      // The stream opened under generation 1 is still flowing after three reloads.
      const seen = (stream.text.match(/line-\d+/g) ?? []).length;
      await stream.until((t) => (t.match(/line-\d+/g) ?? []).length > seen + 3);
      assert.equal(stream.ended, false);
      stream.close();
    } finally {
      gateway.child.kill('SIGTERM');
      await new Promise((r) => gateway.child.once('exit', r));
    }
  });
});

describe('learn mode', () => {
  it('records what a client uses; the learned profile lets the same workload pass and denies the rest', async () => {
    const learned = join(dir, 'learned.yaml');
    const workload = async (port: number): Promise<number[]> => {
      const statuses: number[] = [];
      statuses.push((await ask(port, 'GET', '/v1.41/containers/json?all=1')).status);
      const created = await ask(port, 'POST', '/v1.41/containers/create', {}, createBody());
      statuses.push(created.status);
      const id = (JSON.parse(created.body) as { Id?: string }).Id ?? 'none';
      statuses.push((await ask(port, 'POST', `/v1.41/containers/${id}/start`)).status);
      statuses.push((await ask(port, 'POST', `/v1.41/containers/${id}/wait`)).status);
      statuses.push((await ask(port, 'GET', `/v1.41/containers/${id}/logs?stdout=1`)).status);
      statuses.push((await ask(port, 'DELETE', `/v1.41/containers/${id}`)).status);
      return statuses;
    };
    const learning = await startGateway({ profile: 'full', learn: learned });
    try {
      assert.deepEqual(await workload(learning.port), [200, 201, 204, 200, 200, 204]);
    } finally {
      await learning.stop(); // flushes the learned file
    }
    const text = readFileSync(learned, 'utf8');
    assert.match(text, /learned-anonymous:/);
    assert.match(text, /allow: POST \/containers\/\*\/start/);
    assert.match(text, /Body fields seen:/);

    const enforced = await startGateway({ profile: 'learned-anonymous', config: learned });
    try {
      assert.deepEqual(await workload(enforced.port), [200, 201, 204, 200, 200, 204]);
      assert.equal((await ask(enforced.port, 'GET', '/v1.41/images/json')).status, 403);
      assert.equal((await ask(enforced.port, 'POST', '/v1.41/volumes/create', {}, '{}')).status, 403);
      // Body inspection stays on in a learned profile.
      const privileged = JSON.stringify({ Image: testEngine().image, HostConfig: { Privileged: true } });
      assert.equal(
        (await ask(enforced.port, 'POST', '/v1.41/containers/create', {}, privileged)).status,
        403,
      );
    } finally {
      await enforced.stop();
    }
  });
});

/** GET on the admin listener. */
function adminGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin listener: metrics and health', () => {
  it('/metrics counts requests by route, decision and status; /healthz; /readyz follows the engine', async () => {
    const relay = new EngineRelay();
    await relay.start();
    const gateway = await startDockgate([
      '--listen',
      'tcp://127.0.0.1:0',
      '--admin',
      'tcp://127.0.0.1:0',
      '--profile',
      'read-only',
      '--upstream',
      relay.url,
    ]);
    try {
      await waitFor(() => /"admin":"http:\/\/127\.0\.0\.1:\d+"/.test(gateway.stdout()));
      const admin = /"admin":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(gateway.stdout())?.[1] as string;
      assert.equal((await ask(gateway.port, 'GET', '/_ping')).status, 200);
      assert.equal((await ask(gateway.port, 'POST', '/containers/create', {}, '{}')).status, 403);
      const metrics = await adminGet(admin, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(
        metrics.body,
        /dockgate_requests_total\{route="GET \/_ping",decision="allow",status="200"\} 1/,
      );
      assert.match(
        metrics.body,
        /dockgate_requests_total\{route="POST \/containers\/create",decision="deny",status="403"\} 1/,
      );
      assert.match(
        metrics.body,
        /dockgate_request_duration_seconds_bucket\{le="[^"]+",route="GET \/_ping"\}/,
      );
      assert.match(metrics.body, /dockgate_policy_generation 1/);
      assert.match(metrics.body, /dockgate_open_streams 0/);
      assert.match(metrics.body, /dockgate_connections \d/);
      const lint = promtool(['check', 'metrics'], metrics.body);
      assert.equal(lint.out, '', `promtool check metrics: ${lint.out}`);
      assert.equal((await adminGet(admin, '/healthz')).status, 200);
      assert.equal((await adminGet(admin, '/readyz')).status, 200);
      // The engine stops answering: not ready, and upstream errors are counted.
      await relay.stop();
      const notReady = await adminGet(admin, '/readyz');
      assert.equal(notReady.status, 503);
      assert.match(notReady.body, /engine not answering/);
      assert.equal((await ask(gateway.port, 'GET', '/_ping')).status, 502);
      assert.match((await adminGet(admin, '/metrics')).body, /dockgate_upstream_errors_total 1/);
    } finally {
      gateway.child.kill('SIGTERM');
      await new Promise((r) => gateway.child.once('exit', r));
      await relay.stop();
    }
  });

  it('refuses an admin listener that is not on loopback', async () => {
    const result = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--admin', 'tcp://0.0.0.0:9375'],
      { cwd: root },
    ).catch((e: { code: number; stderr: string }) => e);
    assert.equal((result as { code: number }).code, 2);
    assert.match(
      (result as { stderr: string }).stderr,
      /admin listener tcp:\/\/0\.0\.0\.0:9375 must be on loopback/,
    );
  });
});

describe('--tecnativa-env: an existing docker-socket-proxy compose file switches by changing the image', () => {
  it('CONTAINERS=1 ALLOW_START=1 (without POST=1): list and start allowed, create and archive refused', async () => {
    const container = await createContainer(client, ['true'], { start: false });
    const gateway = await startDockgate(['--listen', 'tcp://127.0.0.1:0', '--tecnativa-env'], {
      env: { CONTAINERS: '1', ALLOW_START: '1', POST: '0', LOG_LEVEL: 'info' },
    });
    try {
      assert.equal((await ask(gateway.port, 'GET', '/v1.41/containers/json')).status, 200);
      assert.equal((await ask(gateway.port, 'GET', '/v1.41/version')).status, 200);
      assert.equal((await ask(gateway.port, 'POST', `/v1.41/containers/${container}/start`)).status, 204);
      // 403 as Tecnativa's HAProxy answers (not 405): clients of a drop-in may check for it.
      assert.equal((await ask(gateway.port, 'POST', `/v1.41/containers/${container}/stop`)).status, 403);
      assert.equal(
        (await ask(gateway.port, 'POST', '/v1.41/containers/create', {}, createBody())).status,
        403,
      );
      assert.equal(
        (await ask(gateway.port, 'GET', `/v1.41/containers/${container}/archive?path=/etc`)).status,
        403,
      );
      assert.equal((await ask(gateway.port, 'GET', '/v1.41/images/json')).status, 403);
    } finally {
      gateway.child.kill('SIGTERM');
      await new Promise((r) => gateway.child.once('exit', r));
      await removeContainer(client, container);
    }
  });
});

describe("--tecnativa-env: Tecnativa's own compose settings start as they are (issue 10)", () => {
  it('regression: CONTAINERS=1 POST=0 on 0.0.0.0:2375-style listener starts; POST and websocket attach refused; Env redacted', async () => {
    const container = await createContainer(client, ['sleep', '60'], { config: { Env: ['SECRET=hunter2'] } });
    // Protected mode used to refuse this: the profile allowed attach/ws and kept Env values.
    const gateway = await startDockgate(['--listen', 'tcp://0.0.0.0:0', '--tecnativa-env'], {
      env: { CONTAINERS: '1', POST: '0' },
    });
    try {
      assert.equal((await ask(gateway.port, 'GET', '/v1.41/containers/json')).status, 200);
      assert.equal(
        (await ask(gateway.port, 'POST', '/v1.41/containers/create', {}, createBody())).status,
        403,
      );
      assert.equal((await ask(gateway.port, 'POST', `/v1.41/containers/${container}/kill`)).status, 403);
      assert.equal(
        (await ask(gateway.port, 'GET', `/v1.41/containers/${container}/attach/ws?stream=1&stdin=1`)).status,
        403,
      );
      const inspect = await ask(gateway.port, 'GET', `/v1.41/containers/${container}/json`);
      assert.equal(inspect.status, 200);
      assert.doesNotMatch(inspect.body, /hunter2/);
      assert.match(inspect.body, /SECRET=/);
    } finally {
      gateway.child.kill('SIGTERM');
      await new Promise((r) => gateway.child.once('exit', r));
      await removeContainer(client, container);
    }
  });
});

describe('modes: warn and audit let a request through and record would_deny', () => {
  for (const mode of ['warn', 'audit'] as const) {
    it(`${mode}: a create the profile does not allow passes; its audit line says would_deny, the rule and why`, async () => {
      const config = join(dir, `mode-${mode}.yaml`);
      writeFileSync(config, `version: 1\nprofiles:\n  shadow:\n    extends: read-only\n    mode: ${mode}\n`);
      const gateway = await startGateway({ profile: 'shadow', config });
      try {
        const created = await ask(gateway.port, 'POST', '/v1.41/containers/create', {}, createBody());
        assert.equal(created.status, 201, created.body);
        await removeContainer(client, (JSON.parse(created.body) as { Id: string }).Id);
        const line = gateway.logs.findLast((l) => l.path === '/v1.41/containers/create');
        assert.equal(line?.decision, 'would_deny');
        assert.equal(line?.mode, mode);
        assert.equal(line?.rule, 'default-deny');
        assert.equal(line?.code, 'DG_FORBIDDEN');
        assert.match(String(line?.reason), /POST \/containers\/create is not allowed for profile shadow/);
        // Ambiguous paths are refused in every mode: forwarding them is the bypass.
        assert.equal((await ask(gateway.port, 'GET', '/v1.41/containers/%2e%2e/json')).status, 400);
        const warned = gateway.logs.filter((l) => l.msg === 'would deny (warn mode)');
        assert.equal(warned.length, mode === 'warn' ? 1 : 0);
        const allowed = gateway.logs.findLast(
          (l) => l.path === '/v1.41/containers/create' && l.decision === 'allow',
        );
        assert.equal(allowed, undefined);
      } finally {
        await gateway.stop();
      }
    });
  }
});

describe('--workers 2 with policy: metrics summed over the workers, SIGHUP passed on', () => {
  it('the primary serves /metrics for both workers and every worker reloads on SIGHUP', async () => {
    const gateway = await startDockgate([
      '--workers',
      '2',
      '--listen',
      'tcp://127.0.0.1:0',
      '--admin',
      'tcp://127.0.0.1:0',
      '--profile',
      'read-only',
    ]);
    try {
      await waitFor(() => /"admin":"http:\/\/127\.0\.0\.1:\d+"/.test(gateway.stdout()));
      const admin = /"admin":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(gateway.stdout())?.[1] as string;
      for (let i = 0; i < 20; i++) assert.equal((await ask(gateway.port, 'GET', '/_ping')).status, 200);
      const metrics = await adminGet(admin, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(
        metrics.body,
        /dockgate_requests_total\{route="GET \/_ping",decision="allow",status="200"\} 20/,
      );
      gateway.child.kill('SIGHUP');
      await waitFor(() => (gateway.stdout().match(/"msg":"policy reloaded"/g) ?? []).length === 2);
      assert.equal((await ask(gateway.port, 'GET', '/_ping')).status, 200);
    } finally {
      gateway.child.kill('SIGTERM');
      await new Promise((r) => gateway.child.once('exit', r));
    }
  });
});

describe('dockgate token and policy commands', () => {
  const cli = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: root,
      env: { ...process.env, DOCKGATE_TOKENS: join(dir, 'cli-tokens.json') },
    });

  it('token add prints the token once; list shows names, never tokens; revoke removes', async () => {
    const added = await cli('token', 'add', 'deployer', '--profile', 'deploy');
    const token = added.stdout.trim();
    assert.match(token, /^dg_[A-Za-z0-9_-]{43}$/);
    const list = await cli('token', 'list');
    assert.match(list.stdout, /deployer\s+deploy/);
    assert.ok(!list.stdout.includes(token));
    const unknown = await cli('token', 'add', 'x', '--profile', 'root').catch(
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal((unknown as { code: number }).code, 2);
    assert.match((unknown as { stderr: string }).stderr, /unknown profile "root"/);
    await cli('token', 'revoke', 'deployer');
    assert.match((await cli('token', 'list')).stdout, /no tokens/);
  });

  it('policy check: ok for a valid file, a clear error naming the key for a bad one', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      'version: 1\nprofiles:\n  ci:\n    extends: deploy\n    allow:\n      bindPaths: [/srv]\n',
    );
    assert.match((await cli('policy', 'check', good)).stdout, /ok — 1 profile\(s\) of its own \(ci\)/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nprofiles:\n  ci:\n    rules:\n      - allow: GET containers\n');
    const result = await cli('policy', 'check', bad).catch((e: { code: number; stderr: string }) => e);
    assert.equal((result as { code: number }).code, 2);
    assert.match(
      (result as { stderr: string }).stderr,
      /rule ci#1: path pattern "containers" must be a normalised path such as \/containers\/\*\/json/,
    );
    writeFileSync(bad, 'version: 1\nprofiles:\n  ci:\n    extend: deploy\n');
    const typo = await cli('policy', 'check', bad).catch((e: { code: number; stderr: string }) => e);
    assert.match((typo as { stderr: string }).stderr, /profiles\.ci: Unrecognized key: "extend"/);
  });

  it('policy explain prints the decision and the rule that made it', async () => {
    const body = join(dir, 'privileged.json');
    writeFileSync(body, '{"Image":"x","HostConfig":{"Privileged":true}}');
    const denied = await cli(
      'policy',
      'explain',
      '--as',
      'deploy',
      'POST',
      '/v1.41/containers/create',
      '--body',
      body,
    ).catch((e: { code: number; stdout: string }) => e);
    assert.equal((denied as { code: number }).code, 1);
    assert.match(
      (denied as { stdout: string }).stdout,
      /decision: deny \(403\)[\s\S]*rule: +host-escape[\s\S]*HostConfig\.Privileged/,
    );
    const allowed = await cli('policy', 'explain', '--as', 'read-only', 'GET', '/containers/abc/json');
    assert.match(
      allowed.stdout,
      /decision: allow[\s\S]*rule: +read-only#7 \(allow GET,HEAD \/containers\/\*\/json\)[\s\S]*Env values redacted/,
    );
  });
});
