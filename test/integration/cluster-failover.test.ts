import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { DockerClient } from '../../src/client/index.js';
import type { Alert } from '../../src/monitor/alerts/alert-store.js';
import type { ClusterView } from '../../src/monitor/cluster/cluster.js';
import type { TimelineEntry } from '../../src/monitor/store/history.js';
import { RUN_LABEL } from '../helpers/engine.js';
import { type MonitorProcess, monitorCli, startMonitor } from '../helpers/monitor-process.js';
import { type PrivateEngine, startPrivateEngine } from '../helpers/private-engine.js';
import { type PrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres.js';
import { ensureTestImage } from '../helpers/test-image.js';
import { waitFor } from '../helpers/wait.js';
import { startWebhook, type Webhook } from '../helpers/webhook.js';

/**
 * Issue 28: several monitor processes on one real PostgreSQL 15 (a private cluster) sharing four
 * private dockerds — the engines split by leases, a SIGKILLed monitor's engines taken over with
 * nothing missed and no notification twice, a paused monitor fenced out, PostgreSQL restarted
 * under load. Real processes, real engines, a real webhook receiver; no clock is mocked.
 */
const root = new URL('../..', import.meta.url).pathname;
const ENGINES = ['e1', 'e2', 'e3', 'e4'] as const;
let pg: PrivatePostgres;
let storeUrl: string;
const engines = new Map<string, { engine: PrivateEngine; client: DockerClient; image: string }>();
let hook: Webhook<{ status: string; alert: Alert; dedupKey?: string }>;
let config: string;
let pollOnly: string;
const running: MonitorProcess[] = [];
let adminA = '';

before(async () => {
  pg = await startPrivatePostgres();
  storeUrl = pg.database('cluster');
  hook = await startWebhook();
  // Small private engines, started together.
  await Promise.all(
    ENGINES.map(async (name) => {
      const engine = await startPrivateEngine();
      const client = new DockerClient({ engine: engine.host });
      const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
      engines.set(name, { engine, client, image });
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-cluster-'));
  config = join(dir, 'monitor.yaml');
  writeFileSync(
    config,
    `version: 1
engines:
${ENGINES.map((name) => `  - { name: ${name}, url: "${engines.get(name)?.engine.host}" }`).join('\n')}
alerts:
  restart-loop: { restarts: 3, window: 2m, settle: 5s }
  died: { for: 2s }
notify:
  - { url: "${hook.url}", group_by: [container], group_wait: 0s, group_interval: 0s }
`,
  );
  // Monitor b follows the others by polling alone (as behind PgBouncer in transaction mode).
  pollOnly = join(dir, 'monitor-poll.yaml');
  writeFileSync(pollOnly, `${readFileSync(config, 'utf8')}cluster: { pollOnly: true, poll: 500ms }\n`);
});

after(async () => {
  // DOCKGATE_CLUSTER_LOGS=/tmp/x: each monitor's log kept as /tmp/x-N.log (to read a failure).
  const logs = process.env.DOCKGATE_CLUSTER_LOGS;
  for (const [i, m] of running.entries())
    if (logs !== undefined) writeFileSync(`${logs}-${i}.log`, m.stdout() + m.stderr());
  for (const monitor of running) if (monitor.child.exitCode === null) monitor.child.kill('SIGKILL');
  hook?.close();
  await Promise.all(
    [...engines.values()].map(async ({ engine, client }) => {
      await client.close();
      await engine.stop();
    }),
  );
  pg?.stop();
});

async function monitor(name: string): Promise<MonitorProcess> {
  const data = join(tmpdir(), `dockgate-cluster-${process.pid}-${name}`);
  const started = await startMonitor(
    ['--config', name === 'b' ? pollOnly : config, '--data', data, '--store', storeUrl],
    {},
    { waitUp: false },
  );
  running.push(started);
  return started;
}

async function cluster(m: MonitorProcess): Promise<ClusterView> {
  const response = await fetch(`${m.url}/api/v1/cluster`, { headers: { authorization: `Bearer ${adminA}` } });
  assert.equal(response.status, 200);
  return (await response.json()) as ClusterView;
}

/** How many engines each live instance owns, by instance id. */
const split = (view: ClusterView): number[] =>
  view.instances.map((i) => i.engines.length).sort((a, b) => a - b);

async function run(
  engine: string,
  name: string,
  cmd: string[],
  hostConfig: Record<string, unknown> = {},
): Promise<string> {
  const { client, image } = engines.get(engine) as { client: DockerClient; image: string };
  const { Id } = await client.containers.create(
    {
      Image: image,
      Cmd: cmd,
      Labels: { [RUN_LABEL]: 'cluster' },
      HostConfig: { NetworkMode: 'none', ...hostConfig },
    },
    { name: `${name}-${process.pid}` },
  );
  await client.containers.start(Id);
  return Id;
}

async function timeline(
  m: MonitorProcess,
  engine: string,
  id: string,
  timeoutMs = 60_000,
): Promise<TimelineEntry[]> {
  // Bounded, so a wait on it fails in its own time and says so, not a request held for minutes.
  const response = await fetch(`${m.url}/api/v1/containers/${engine}/${id}`, {
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((error: Error) => {
    if (error.name === 'TimeoutError') return undefined;
    throw error;
  });
  if (response?.status !== 200) return [];
  return ((await response.json()) as { timeline: TimelineEntry[] }).timeline;
}

const messages = (container: string, kind: string, status: string) =>
  hook.received.filter(
    (m) =>
      m.alert.container?.name === `${container}-${process.pid}` &&
      m.alert.kind === kind &&
      m.status === status,
  );

describe('several monitors on PostgreSQL (issue 28)', () => {
  let a: MonitorProcess;
  let b: MonitorProcess;

  it("two monitors split four engines 2/2; each serves all four; sign-ins and tokens shared; an action on the other one's engine sent there; each exports only its own", async () => {
    a = await monitor('a');
    // Tokens are in the shared store: one token works on every monitor.
    const token = await monitorCli(['token', 'add', 'admin', '--role', 'admin', '--store', storeUrl]);
    assert.equal(token.code, 0, token.stderr);
    adminA = token.stdout.trim();
    b = await monitor('b');
    await waitFor(async () => JSON.stringify(split(await cluster(b))) === '[2,2]', {
      what: 'the engines split 2/2',
      timeout: 60_000,
    });
    const view = await cluster(a);
    assert.equal(view.leases.length, 4);
    assert.ok(view.leases.every((l) => l.owner !== null && l.term >= 1));
    for (const m of [a, b])
      await waitFor(
        async () => {
          const list = (await (await fetch(`${m.url}/api/v1/engines`)).json()) as {
            name: string;
            status: string;
          }[];
          return list.length === 4 && list.every((e) => e.status === 'up');
        },
        { what: 'all four engines up on each monitor', timeout: 30_000 },
      );
    // One container per engine: every monitor lists all four; /metrics has its own engines' only.
    const ids = await Promise.all(ENGINES.map((e) => run(e, `idle-${e}`, ['sleep', '600'])));
    for (const m of [a, b])
      await waitFor(
        async () => {
          const list = (await (await fetch(`${m.url}/api/v1/containers`)).json()) as { id: string }[];
          return ids.every((id) => list.some((c) => c.id === id));
        },
        { what: 'every container on every monitor', timeout: 20_000 },
      );
    // Users, sessions and tokens are the store's: a sign-in on one works on the other; a revoked
    // token fails on both at their next request.
    const user = await monitorCli(
      ['user', 'add', 'alice', '--role', 'viewer', '--password-stdin', '--store', storeUrl],
      'correct horse battery\n',
    );
    assert.equal(user.code, 0, user.stderr);
    const signIn = await fetch(`${a.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', password: 'correct horse battery' }),
    });
    assert.equal(signIn.status, 200);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const me = (await (await fetch(`${b.url}/api/v1/me`, { headers: { cookie } })).json()) as {
      name: string;
      via: string;
    };
    assert.deepEqual([me.name, me.via], ['alice', 'session'], 'signed in on a, known on b');
    const temp = (
      await monitorCli(['token', 'add', 'temp', '--role', 'admin', '--store', storeUrl])
    ).stdout.trim();
    for (const m of [a, b])
      assert.equal(
        (await fetch(`${m.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${temp}` } })).status,
        200,
      );
    assert.equal((await monitorCli(['token', 'revoke', 'temp', '--store', storeUrl])).code, 0);
    for (const m of [a, b])
      assert.equal(
        (await fetch(`${m.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${temp}` } })).status,
        401,
      );

    const own = new Map((await cluster(a)).instances.map((i) => [i.id, i.engines]));
    // An action on an engine the other monitor watches: sent there, answered here.
    const selfA = (await cluster(a)).self;
    const elsewhere = ENGINES.find((e) => !(own.get(selfA) ?? []).includes(e)) as string;
    const target = ids[ENGINES.indexOf(elsewhere as (typeof ENGINES)[number])] as string;
    const anonymous = await fetch(`${a.url}/api/v1/containers/${elsewhere}/${target}/stop`, {
      method: 'POST',
    });
    assert.equal(anonymous.status, 409, 'an anonymous caller is not sent on');
    assert.match(((await anonymous.json()) as { message: string }).message, /watched by monitor/);
    const stopped = await fetch(`${a.url}/api/v1/containers/${elsewhere}/${target}/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminA}` },
    });
    assert.equal(stopped.status, 200, await stopped.text());
    const { client } = engines.get(elsewhere) as { client: DockerClient };
    assert.equal(
      ((await client.containers.inspect(target)) as { State: { Running: boolean } }).State.Running,
      false,
    );
    await waitFor(
      async () =>
        (await timeline(a, elsewhere, target)).some(
          (t) => t.kind === 'action' && t.action === 'stop' && t.by === 'admin',
        ),
      { what: 'the stop recorded by the owner, shown here', timeout: 20_000 },
    );
    // The host of the other monitor's engine: read by its owner (the reading is in its memory), asked here.
    let hostAnswer: { latest: { source: string; engine: { cores: number } } | null } = { latest: null };
    await waitFor(
      async () => {
        const host = await fetch(`${a.url}/api/v1/engines/${elsewhere}/host?range=5m`, {
          headers: { authorization: `Bearer ${adminA}` },
        });
        assert.equal(host.status, 200, 'cluster_host_forward_regression');
        hostAnswer = (await host.json()) as typeof hostAnswer;
        return hostAnswer.latest !== null;
      },
      { what: "the owner's first host reading, asked of the other monitor" },
    );
    assert.equal(hostAnswer.latest?.source, 'engine', 'a dockerd without a gateway: /info only');
    assert.ok((hostAnswer.latest?.engine.cores ?? 0) >= 1);
    assert.equal(
      (await fetch(`${a.url}/api/v1/engines/${elsewhere}/host`)).status,
      409,
      'anonymous: not sent on',
    );
    // A terminal on the other monitor's engine, opened here: relayed to the owner and back.
    // b's other engine (not the one stopped above): its container still runs.
    const shellEngine = ENGINES.find((e) => e !== elsewhere && !(own.get(selfA) ?? []).includes(e)) as string;
    const shell = ids[ENGINES.indexOf(shellEngine as (typeof ENGINES)[number])] as string;
    const output = await new Promise<string>((resolve, reject) => {
      let text = '';
      const ws = new WebSocket(
        `${a.url.replace(/^http/, 'ws')}/api/v1/containers/${shellEngine}/${shell}/exec?access_token=${adminA}&cmd=${encodeURIComponent('echo via-the-owner')}`,
      );
      ws.on('message', (data: Buffer, binary: boolean) => {
        if (binary) text += data.toString();
      });
      ws.on('close', () => resolve(text));
      ws.on('error', reject);
      setTimeout(() => reject(new Error(`no end of the relayed terminal: ${text}`)), 20_000).unref();
    });
    assert.match(output, /via-the-owner/, `the relayed terminal's output on ${shellEngine}`);
    for (const m of [a, b]) {
      const self = (await cluster(m)).self;
      const metrics = await (await fetch(`${m.url}/metrics`)).text();
      for (const engine of ENGINES)
        assert.equal(
          new RegExp(`^dockgate_container_info\\{[^}]*engine="${engine}"`, 'm').test(metrics),
          own.get(self)?.includes(engine) === true,
          `${engine} in ${self}'s /metrics only if it owns it (${own.get(self)}): ${metrics
            .split('\n')
            .filter((l) => l.includes('engine='))
            .slice(0, 5)
            .join(' | ')}`,
        );
    }
  });

  it('SIGKILL one: the other owns all four within the lease time; a kill in the gap is in the timeline once; a restart loop started in the gap: one firing, then one resolved', async () => {
    const before = await cluster(b);
    const aId = before.instances.find((i) => i.id !== before.self)?.id as string;
    const orphaned = before.instances.find((i) => i.id === aId)?.engines ?? [];
    assert.equal(orphaned.length, 2);
    const gapEngine = orphaned[0] as string;
    const killedAt = performance.now();
    a.child.kill('SIGKILL');
    // In the gap: a container started and killed, a restart loop begun.
    const victim = await run(gapEngine, 'gap-victim', ['sleep', '600']);
    const { client } = engines.get(gapEngine) as { client: DockerClient };
    await client.containers.kill(victim);
    const loop = await run(gapEngine, 'gap-loop', ['sh', '-c', 'sleep 1; exit 1'], {
      RestartPolicy: { Name: 'always' },
    });
    await waitFor(async () => JSON.stringify(split(await cluster(b))) === '[4]', {
      what: 'the survivor owning all four',
      timeout: 60_000,
    });
    const takeover = Math.round(performance.now() - killedAt);
    process.stdout.write(`# takeover after SIGKILL: ${takeover} ms (lease 10 s, renewal every 2 s)\n`);
    const view = await cluster(b);
    assert.ok(view.leases.every((l) => l.owner === view.self));
    await waitFor(async () => (await timeline(b, gapEngine, victim)).some((t) => t.action === 'die'), {
      what: "the gap's kill in the timeline",
      timeout: 30_000,
    });
    const entries = await timeline(b, gapEngine, victim);
    for (const action of ['start', 'kill', 'die'])
      assert.equal(
        entries.filter((t) => t.action === action).length,
        1,
        `${action} once: ${JSON.stringify(entries)}`,
      );
    await waitFor(() => messages('gap-loop', 'restart-loop', 'firing').length === 1, {
      what: 'the restart loop firing',
      timeout: 60_000,
    });
    await client.containers.remove(loop, { force: true });
    await waitFor(() => messages('gap-loop', 'restart-loop', 'resolved').length === 1, {
      what: 'the restart loop resolved',
      timeout: 60_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // nothing more comes
    assert.equal(messages('gap-loop', 'restart-loop', 'firing').length, 1, 'one firing message');
    assert.equal(messages('gap-loop', 'restart-loop', 'resolved').length, 1, 'one resolved message');
    assert.equal(messages('gap-loop', 'died', 'firing').length, 0, 'folded into the loop, no died');
    // The killed monitor comes back: the engines are shared again.
    a = await monitor('a');
    await waitFor(async () => JSON.stringify(split(await cluster(b))) === '[2,2]', {
      what: 'a fair share again after the restart',
      timeout: 60_000,
    });
  });

  it('kill -STOP the owner past its lease, then -CONT: it writes nothing for the engines it lost, and takes a fair share back', async () => {
    const view = await cluster(b);
    const paused = view.instances.find((i) => i.id !== view.self);
    assert.ok(paused !== undefined);
    const pausedEngine = paused.engines[0] as string;
    // Each step's time, said if a later one fails (this test once took 215 s in a clean-clone run).
    const began = Date.now();
    const steps: string[] = [];
    const step = (what: string) => steps.push(`${what} at ${Date.now() - began} ms`);
    process.kill(a.child.pid as number, 'SIGSTOP');
    try {
      await waitFor(async () => (await cluster(b)).leases.every((l) => l.owner === view.self), {
        what: 'the other monitor owning all four',
        timeout: 60_000,
      });
      step('b owns all four');
      const victim = await run(pausedEngine, 'paused-victim', ['sleep', '600']);
      step('victim started');
      await (engines.get(pausedEngine) as { client: DockerClient }).client.containers.kill(victim);
      step('victim killed');
      await waitFor(
        async () => (await timeline(b, pausedEngine, victim, 5_000)).some((t) => t.action === 'die'),
        { what: 'the kill in the timeline', timeout: 30_000 },
      ).catch((error: Error) => {
        const said = b
          .stderr()
          .split('\n')
          .filter((l) => /"level":(40|50)/.test(l))
          .slice(-8);
        throw new Error(`${error.message}; ${steps.join(', ')}; b said: ${said.join(' | ')}`);
      });
      process.kill(a.child.pid as number, 'SIGCONT');
      await waitFor(async () => JSON.stringify(split(await cluster(b))) === '[2,2]', {
        what: 'the resumed monitor taking a fair share back',
        timeout: 60_000,
      });
      const entries = await timeline(b, pausedEngine, victim);
      assert.equal(entries.filter((t) => t.action === 'die').length, 1, 'one die: nothing written twice');
      const health = (await (await fetch(`${a.url}/healthz`)).json()) as { history: { fenced: number } };
      assert.equal(typeof health.history.fenced, 'number');
    } finally {
      if (a.child.exitCode === null) process.kill(a.child.pid as number, 'SIGCONT');
    }
  });

  it('PostgreSQL away for a few seconds under load: live state still served, /healthz 503 meanwhile, the writes caught up after', async () => {
    const engine = ENGINES[0];
    const view = await cluster(b);
    const owner = view.instances.find((i) => i.engines.includes(engine))?.id === view.self ? b : a;
    pg.pause();
    let victim = '';
    try {
      await waitFor(async () => (await fetch(`${owner.url}/healthz`)).status === 503, {
        what: '/healthz 503 while the store is away',
        timeout: 20_000,
      });
      victim = await run(engine, 'away-victim', ['sleep', '600']);
      await (engines.get(engine) as { client: DockerClient }).client.containers.kill(victim);
      await waitFor(
        async () => {
          const list = (await (await fetch(`${owner.url}/api/v1/containers?engine=${engine}`)).json()) as {
            id: string;
            state: string;
          }[];
          return list.some((c) => c.id === victim && c.state === 'exited');
        },
        { what: 'the live state without the store', timeout: 20_000 },
      );
    } finally {
      pg.start();
    }
    await waitFor(async () => (await fetch(`${owner.url}/healthz`)).status === 200, {
      what: '/healthz 200 once the store is back',
      timeout: 30_000,
    });
    const entries = await timeline(owner, engine, victim);
    assert.deepEqual(
      entries.filter((t) => t.kind === 'event').map((t) => t.action),
      ['create', 'start', 'kill', 'die'],
      'the writes queued while the store was away, committed once',
    );
  });
});
