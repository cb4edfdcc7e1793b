import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StatsAnswer } from '../../src/agent/stats-endpoint.js';
import { addToken } from '../../src/auth/tokens.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ask } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The gateway as the monitor's agent (issue 12): `GET /dockgate/v1/stats` answers every running
 * container's counters in one request, read from cgroup files, under the caller's policy.
 */
const client = testClient();
const dir = mkdtempSync(join(tmpdir(), 'dockgate-stats-endpoint-'));
let running: string;
let stopped: string;

before(async () => {
  running = await createContainer(client, ['sh', '-c', 'head -c 4000000 /dev/zero > /tmp/f; sleep 300']);
  stopped = await createContainer(client, ['true'], { start: false });
});
after(async () => {
  await removeContainer(client, running);
  await removeContainer(client, stopped);
});

describe('GET /dockgate/v1/stats', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ profile: 'read-only' });
  });
  after(() => gateway.stop());

  it('read-only: every running container, with cgroup counters; stopped ones absent; the audit line says who', async () => {
    const answer = await ask(gateway.port, 'GET', '/dockgate/v1/stats');
    assert.equal(answer.status, 200, answer.body);
    assert.match(answer.head, /Content-Type: application\/json/);
    const stats = JSON.parse(answer.body) as StatsAnswer;
    assert.ok(stats.cgroupVersion === 1 || stats.cgroupVersion === 2);
    const mine = stats.containers.find((c) => c.id === running);
    assert.ok(mine, 'the running container is listed');
    assert.ok(mine.cpuNs > 0, 'CPU time used');
    assert.ok(mine.memoryBytes > 0 && mine.memoryLimitBytes >= mine.memoryBytes, 'memory and its limit');
    // sh, and head while it writes the file (a loaded machine may still be at it): 1 or 2.
    assert.ok(mine.pids === 1 || mine.pids === 2, `processes counted: ${mine.pids}`);
    assert.equal(mine.netRxBytes, 0, 'network none: no interface but lo');
    assert.equal(
      stats.containers.some((c) => c.id === stopped),
      false,
    );
    const line = gateway.logs.findLast((l) => l.path === '/dockgate/v1/stats');
    assert.equal(line?.decision, 'allow');
    assert.equal(line?.route, 'GET /dockgate/v1/stats');
  });

  it('is not a write: POST is refused, and nothing is forwarded', async () => {
    assert.equal((await ask(gateway.port, 'POST', '/dockgate/v1/stats')).status, 405);
  });

  it("the caller's filters apply (the engine filters the list)", async () => {
    const filters = encodeURIComponent(JSON.stringify({ id: [stopped] }));
    const answer = await ask(gateway.port, 'GET', `/dockgate/v1/stats?filters=${filters}`);
    assert.deepEqual((JSON.parse(answer.body) as StatsAnswer).containers, []);
  });
});

describe('GET /dockgate/v1/stats with ownership', () => {
  it("an identity sees only its own containers' stats", async () => {
    const tokens = join(dir, 'tokens.json');
    const alice = addToken(tokens, 'alice', 'team');
    const bob = addToken(tokens, 'bob', 'team');
    const config = join(dir, 'team.yaml');
    writeFileSync(config, 'version: 1\nprofiles:\n  team:\n    extends: read-only\n    ownership: true\n');
    const gateway = await startGateway({ profile: 'read-only', tokens, config });
    const owned = await createContainer(client, ['sleep', '300'], {
      config: { Labels: { [RUN_LABEL]: testEngine().runId, 'dockgate.owner': 'alice' } },
    });
    try {
      const asAlice = JSON.parse(
        (await ask(gateway.port, 'GET', '/dockgate/v1/stats', { Authorization: `Bearer ${alice}` })).body,
      ) as StatsAnswer;
      assert.deepEqual(
        asAlice.containers.map((c) => c.id),
        [owned],
      );
      const asBob = JSON.parse(
        (await ask(gateway.port, 'GET', '/dockgate/v1/stats', { Authorization: `Bearer ${bob}` })).body,
      ) as StatsAnswer;
      assert.deepEqual(asBob.containers, []);
    } finally {
      await gateway.stop();
      await removeContainer(client, owned);
    }
  });
});

describe("the running set (the agent's view of what runs)", () => {
  it('running set: a list that times out (a loaded engine) is retried with one events subscription, and nothing is left unhandled', async () => {
    const relay = new EngineRelay();
    await relay.start();
    const gateway = await startGateway({ upstream: relay.url, profile: 'read-only' });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      // The list the running set makes after subscribing to events never answers: it times out
      // (10 s) and the running set subscribes and lists again.
      const held = relay.holdNext(/GET \/[^ ]*containers\/json/);
      // The first request waits for the running set longer than `ask` waits: its outcome is not the point.
      const first = ask(gateway.port, 'GET', '/dockgate/v1/stats').catch(() => undefined);
      await held.seen;
      await waitFor(() => (relay.sentText().match(/containers\/json/g) ?? []).length >= 2, {
        what: 'the list asked again',
        timeout: 30_000,
      });
      await waitFor(async () => (await ask(gateway.port, 'GET', '/dockgate/v1/stats')).status === 200, {
        what: 'stats answered after the retry',
      });
      await first;
      // One subscription to the engine's events, not one more per failed list.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(relay.openMatching(/GET \/[^ ]*events/), 1, "the failed attempt's subscription closed");
      await gateway.stop();
      held.release();
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await relay.stop();
    }
  });
});
