import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pack } from 'tar-stream';
import WebSocket from 'ws';
import { addToken } from '../../src/auth/tokens.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import {
  addMonitorUser,
  type MonitorProcess,
  monitorCli,
  monitorToken,
  startMonitor,
} from '../helpers/monitor-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 24: a shell in a container through the monitor's WebSocket, against the real engine and a
 * real gateway, with a real WebSocket client (`ws`). Who may open one is decided before the
 * upgrade (nothing runs on the engine); what is wrong with the container is told after it.
 */
const client = testClient();
const cleanup: string[] = [];
const data = mkdtempSync(join(tmpdir(), 'dockgate-terminal-'));
const PASSWORD = 'correct horse battery';
let monitor: MonitorProcess;
let admin: string;
let operator: string;
let viewer: string;
let shellBox: string;

/** One terminal as a test drives it: the bytes out, the control messages, how it closed. */
interface Terminal {
  readonly ws: WebSocket;
  output(): Buffer;
  text(): string;
  readonly controls: { type: string; [k: string]: unknown }[];
  closed: Promise<{ code: number; reason: string }>;
  send(text: string | Buffer): void;
}

function open(path: string, headers: Record<string, string> = {}, base = monitor.url): Promise<Terminal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${path}`, { headers });
    const chunks: Buffer[] = [];
    const controls: Terminal['controls'] = [];
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      ws.on('close', (code, reason) => done({ code, reason: reason.toString() })),
    );
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (binary) chunks.push(data);
      else controls.push(JSON.parse(data.toString()) as Terminal['controls'][number]);
    });
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (c: Buffer) => {
        body += c.toString();
      });
      response.on('end', () => reject(Object.assign(new Error(body), { status: response.statusCode })));
    });
    ws.on('error', reject);
    ws.on('open', () =>
      resolve({
        ws,
        output: () => Buffer.concat(chunks),
        text: () => Buffer.concat(chunks).toString('utf8'),
        controls,
        closed,
        send: (data) => ws.send(data, { binary: true }),
      }),
    );
  });
}

async function refused(path: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const t = await open(path, headers);
    t.ws.close();
    return 101;
  } catch (error) {
    return (error as { status?: number }).status ?? 0;
  }
}

/** Until the monitor at `base` knows the container (it was created a moment ago). */
/** The monitor knows the container and has seen it running (a session is refused before). */
async function known(base: string, token: string, id: string): Promise<void> {
  await waitFor(
    async () => {
      const answer = await fetch(`${base}/api/v1/containers/local/${id}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      return answer.status === 200 && ((await answer.json()) as { state: string }).state === 'running';
    },
    { what: 'the monitor sees the container running' },
  );
}

const ready = (t: Terminal) =>
  waitFor(() => t.controls.some((c) => c.type === 'ready' || c.type === 'error'), { what: 'ready' });

async function execIds(id: string): Promise<string[]> {
  return (await client.json<{ ExecIDs: string[] | null }>('GET', `/containers/${id}/json`)).ExecIDs ?? [];
}

before(async () => {
  admin = await monitorToken(data, 'root-admin', 'admin');
  operator = await monitorToken(data, 'ops', 'operator');
  viewer = await monitorToken(data, 'looker', 'viewer');
  await addMonitorUser(data, 'alice', 'admin', PASSWORD);
  monitor = await startMonitor([
    '--engine',
    `local=${testEngine().host}`,
    '--data',
    data,
    '--interval',
    '2s',
    '--anonymous-role',
    'none',
  ]);
  shellBox = await createContainer(client, ['sleep', '600']);
  cleanup.push(shellBox);
});

after(async () => {
  await monitor?.stop();
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

describe('terminal: a shell in a container over a WebSocket (issue 24)', () => {
  it('an admin token: ready, echo $((6*7)) → 42, resize → stty size, exit 3 → exit code 3 and close 1000; recorded and audited', async () => {
    const t = await open(`/api/v1/containers/local/${shellBox}/exec?cols=100&rows=30`, {
      Authorization: `Bearer ${admin}`,
    });
    await ready(t);
    const hello = t.controls[0] as { type: string; cmd: string[]; execId: string; session: string };
    assert.equal(hello.type, 'ready', JSON.stringify(t.controls));
    assert.deepEqual(hello.cmd, ['/bin/ash'], 'the first shell the image has (busybox: no bash, ash)');
    t.send('echo $((6*7))\n');
    await waitFor(() => /\r\n42\r\n/.test(t.text()), { what: '42' });
    t.send('stty size\n');
    await waitFor(() => t.text().includes('30 100'), { what: 'stty size 30 100' });
    t.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    await waitFor(
      async () => {
        t.send('stty size\n');
        await new Promise((r) => setTimeout(r, 100));
        return t.text().includes('40 120');
      },
      { what: 'stty size after the resize' },
    );
    t.send('exit 3\n');
    const closed = await t.closed;
    assert.equal(closed.code, 1000);
    assert.deepEqual(t.controls.at(-1), { type: 'exit', code: 3 });

    const sessions = (await (
      await fetch(`${monitor.url}/api/v1/terminals`, { headers: { Authorization: `Bearer ${admin}` } })
    ).json()) as {
      id: string;
      by: string;
      exitCode: number;
      bytesIn: number;
      bytesOut: number;
      cmd: string[];
    }[];
    const mine = sessions.find((s) => s.id === hello.session);
    assert.ok(mine !== undefined, JSON.stringify(sessions));
    assert.equal(mine.by, 'root-admin');
    assert.equal(mine.exitCode, 3);
    assert.ok(mine.bytesIn > 20 && mine.bytesOut > 20, JSON.stringify(mine));
    const cast = await fetch(`${monitor.url}/api/v1/terminals/${hello.session}/cast`, {
      headers: { Authorization: `Bearer ${admin}` },
    });
    assert.equal(cast.status, 200);
    const lines = (await cast.text()).trim().split('\n');
    assert.equal((JSON.parse(lines[0] as string) as { version: number; width: number }).version, 2);
    const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    assert.ok(
      events.some(([, kind, text]) => kind === 'i' && text.includes('echo')),
      'input recorded',
    );
    assert.ok(
      events.some(([, kind, text]) => kind === 'o' && text.includes('42')),
      'output recorded',
    );
    assert.ok(
      events.some(([, kind, text]) => kind === 'r' && text === '120x40'),
      'resize recorded',
    );
    const viewerCast = await fetch(`${monitor.url}/api/v1/terminals/${hello.session}/cast`, {
      headers: { Authorization: `Bearer ${viewer}` },
    });
    assert.equal(viewerCast.status, 403, 'recordings are for admins');
    await waitFor(
      async () => {
        const detail = (await (
          await fetch(`${monitor.url}/api/v1/containers/local/${shellBox}`, {
            headers: { Authorization: `Bearer ${admin}` },
          })
        ).json()) as { timeline: { action: string; by?: string; exitCode?: number }[] };
        const actions = detail.timeline.filter((e) => e.action.startsWith('exec_'));
        return (
          actions.some((e) => e.action === 'exec_start' && e.by === 'root-admin') &&
          actions.some((e) => e.action === 'exec_die' && e.exitCode === 3)
        );
      },
      { what: 'exec_start and exec_die on the timeline' },
    );
    // The log is written in batches: the end line comes with the next one.
    await waitFor(
      () => /"audit":"terminal","event":"end","session":"[^"]+","by":"root-admin"/.test(monitor.stdout()),
      {
        what: 'the audit line of the end (the log is on stdout)',
      },
    );
  });

  it('terminal_auth_regression: refused before the upgrade — no credentials 401, a viewer or operator token 403, a cookie from another Origin, without Origin, without or with a forged csrf 403 — and nothing runs on the engine', async () => {
    const box = await createContainer(client, ['sleep', '600']);
    cleanup.push(box);
    const path = `/api/v1/containers/local/${box}/exec`;
    assert.equal(await refused(path), 401);
    assert.equal(await refused(path, { Authorization: `Bearer ${viewer}` }), 403);
    assert.equal(await refused(path, { Authorization: `Bearer ${operator}` }), 403);
    assert.equal(await refused(`${path}?access_token=${viewer}`), 403);
    const signIn = await fetch(`${monitor.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'alice', password: PASSWORD }),
    });
    assert.equal(signIn.status, 200);
    const cookie = /dockgate_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[0] ?? '';
    const me = (await (await fetch(`${monitor.url}/api/v1/me`, { headers: { Cookie: cookie } })).json()) as {
      csrf: string;
    };
    const own = monitor.url;
    assert.equal(
      await refused(`${path}?csrf=${me.csrf}`, { Cookie: cookie, Origin: 'https://evil.example' }),
      403,
    );
    assert.equal(await refused(`${path}?csrf=${me.csrf}`, { Cookie: cookie }), 403, 'no Origin');
    assert.equal(await refused(path, { Cookie: cookie, Origin: own }), 403, 'no csrf');
    assert.equal(await refused(`${path}?csrf=forged`, { Cookie: cookie, Origin: own }), 403, 'forged csrf');
    assert.deepEqual(await execIds(box), [], 'no exec was created by a refused request');
    // The dashboard's way: cookie, csrf and its own Origin.
    const t = await open(`${path}?csrf=${me.csrf}`, { Cookie: cookie, Origin: own });
    await ready(t);
    assert.equal(t.controls[0]?.type, 'ready', JSON.stringify(t.controls));
    t.ws.close();
    await t.closed;
    // A token in the query, as a browser without the cookie must send it.
    const q = await open(`${path}?access_token=${admin}&cmd=${encodeURIComponent('echo via-query')}`);
    await waitFor(() => q.text().includes('via-query'), {
      what: `the command ran: ${JSON.stringify(q.controls)}`,
    });
    assert.deepEqual((await q.closed).code, 1000);
  });

  it('no shell in the image: an error naming what was tried, then close 1011; a stopped container: "not running"', async () => {
    const tar = pack();
    tar.entry({ name: 'bin/busybox', mode: 0o755 }, readFileSync('/bin/busybox'));
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of tar as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
    const image = `dockgate-test/no-shell:${process.pid}`;
    const imported = await client.request('POST', '/images/create', {
      query: { fromSrc: '-', repo: image.split(':')[0], tag: image.split(':')[1] },
      body: Buffer.concat(chunks),
      headers: { 'content-type': 'application/x-tar' },
    });
    imported.body.resume();
    const created = await client.json<{ Id: string }>('POST', '/containers/create', {
      body: {
        Image: image,
        Cmd: ['/bin/busybox', 'sleep', '600'],
        Labels: { [RUN_LABEL]: testEngine().runId },
        HostConfig: { NetworkMode: 'none' },
      },
    });
    cleanup.push(created.Id);
    await client.json('POST', `/containers/${created.Id}/start`);
    await waitFor(
      async () =>
        (
          (await (
            await fetch(`${monitor.url}/api/v1/containers/local/${created.Id}`, {
              headers: { Authorization: `Bearer ${admin}` },
            })
          ).json()) as { state?: string }
        ).state === 'running',
      { what: 'the monitor sees it running' },
    );
    const t = await open(`/api/v1/containers/local/${created.Id}/exec`, { Authorization: `Bearer ${admin}` });
    const closed = await t.closed;
    assert.equal(closed.code, 1011);
    assert.deepEqual(t.controls, [
      {
        type: 'error',
        message: `no shell in ${(await client.json<{ Name: string }>('GET', `/containers/${created.Id}/json`)).Name.slice(1)}: tried /bin/bash, /bin/ash, /bin/sh, /busybox/sh`,
      },
    ]);
    const stopped = await createContainer(client, ['true'], { start: false });
    cleanup.push(stopped);
    await waitFor(
      async () =>
        (
          await fetch(`${monitor.url}/api/v1/containers/local/${stopped}`, {
            headers: { Authorization: `Bearer ${admin}` },
          })
        ).status === 200,
      { what: 'the monitor knows the stopped container' },
    );
    const s = await open(`/api/v1/containers/local/${stopped}/exec`, { Authorization: `Bearer ${admin}` });
    assert.equal((await s.closed).code, 1011);
    assert.equal(s.controls[0]?.message, 'container is not running (created)');
  });

  it('terminal_hangup_regression: closing the socket ends the shell, at its prompt and with a program in front (the engine itself leaves an exec running: moby#9098)', async () => {
    for (const typed of ['', 'cat\n', 'sleep 1000\n']) {
      const t = await open(`/api/v1/containers/local/${shellBox}/exec`, { Authorization: `Bearer ${admin}` });
      await ready(t);
      const execId = String(t.controls[0]?.execId);
      if (typed !== '') t.send(typed);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await client.json<{ Running: boolean }>('GET', `/exec/${execId}/json`)).Running, true);
      t.ws.close();
      await t.closed;
      await waitFor(
        async () => !(await client.json<{ Running: boolean }>('GET', `/exec/${execId}/json`)).Running,
        { what: `the shell gone after the socket closed (typed ${JSON.stringify(typed)})` },
      );
    }
  });

  it('terminal_session_cap_regression: one caller holds at most 8 sessions at once (the 9th is 429 before the upgrade); closing one makes room', async () => {
    const key = await monitorToken(data, 'busy-admin', 'admin');
    const path = `/api/v1/containers/local/${shellBox}/exec`;
    const headers = { Authorization: `Bearer ${key}` };
    const sessions: Terminal[] = [];
    for (let i = 0; i < 8; i++) {
      const t = await open(path, headers);
      await ready(t);
      sessions.push(t);
    }
    assert.equal(await refused(path, headers), 429);
    assert.equal(
      await refused(path, { Authorization: `Bearer ${admin}` }),
      101,
      'another caller is not held back',
    );
    const first = sessions.shift() as Terminal;
    first.ws.close();
    await first.closed;
    // Its end is recorded a moment after the socket closed (the hang-up is typed first).
    let again: Terminal | undefined;
    await waitFor(
      async () => {
        again = await open(path, headers).catch(() => undefined);
        return again !== undefined;
      },
      { what: 'room for one more session' },
    );
    await ready(again as Terminal);
    sessions.push(again as Terminal);
    for (const t of sessions) {
      t.ws.close();
      await t.closed;
    }
  });

  it('signing out ends a signed-in session (close 1008)', async () => {
    const signIn = await fetch(`${monitor.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'alice', password: PASSWORD }),
    });
    const cookie = /dockgate_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[0] ?? '';
    const me = (await (await fetch(`${monitor.url}/api/v1/me`, { headers: { Cookie: cookie } })).json()) as {
      csrf: string;
    };
    const t = await open(`/api/v1/containers/local/${shellBox}/exec?csrf=${me.csrf}`, {
      Cookie: cookie,
      Origin: monitor.url,
    });
    await ready(t);
    const out = await fetch(`${monitor.url}/api/v1/session`, {
      method: 'DELETE',
      headers: { Cookie: cookie, 'X-CSRF-Token': me.csrf },
    });
    assert.equal(out.status, 200);
    const closed = await t.closed;
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /alice signed out/);
  });

  it('bytes arrive whole and in order: 1,000 one-byte frames, and an emoji split across two frames', async () => {
    const cmd = encodeURIComponent("sh -c 'stty raw -echo; head -c 1004'");
    const t = await open(`/api/v1/containers/local/${shellBox}/exec?cmd=${cmd}`, {
      Authorization: `Bearer ${admin}`,
    });
    await ready(t);
    // Give stty its moment: the first bytes would be echoed in cooked mode otherwise.
    await waitFor(async () => {
      const out = await client.json<{ Running: boolean; Pid: number }>(
        'GET',
        `/exec/${String(t.controls[0]?.execId)}/json`,
      );
      return out.Running;
    });
    await new Promise((r) => setTimeout(r, 300));
    const sent = Buffer.from(Array.from({ length: 1000 }, (_, i) => 0x21 + (i % 90)));
    for (const byte of sent) t.send(Buffer.from([byte]));
    const emoji = Buffer.from('😀');
    t.send(emoji.subarray(0, 2));
    t.send(emoji.subarray(2));
    const closed = await t.closed;
    assert.equal(closed.code, 1000);
    const out = t.output();
    assert.ok(out.includes(sent), `the 1,000 bytes in order (got ${out.length} bytes)`);
    assert.ok(t.text().includes('😀'), 'the emoji whole');
  });

  it('flow control: a yes flood read slowly for 10 s grows the monitor by less than 32 MB', async () => {
    const rss = (): number =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${monitor.child.pid}/status`, 'utf8'))?.[1] ?? 0) *
      1024;
    const t = await open(`/api/v1/containers/local/${shellBox}/exec?cmd=yes`, {
      Authorization: `Bearer ${admin}`,
    });
    await ready(t);
    const before = rss();
    // Reading slowly: the client's socket is paused, 64 KiB taken every second.
    t.ws.pause();
    const started = Date.now();
    let peak = before;
    while (Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 1000));
      t.ws.resume();
      await new Promise((r) => setImmediate(r));
      t.ws.pause();
      peak = Math.max(peak, rss());
    }
    t.ws.resume();
    t.ws.close();
    await t.closed;
    process.stdout.write(
      `# monitor RSS ${(before / 1048576).toFixed(1)} MiB → peak ${(peak / 1048576).toFixed(1)} MiB\n`,
    );
    assert.ok(peak - before < 32 * 1024 * 1024, `grew ${((peak - before) / 1048576).toFixed(1)} MiB`);
  });

  it('a session ends when its token is revoked (within 5 s, close 1008) and when the container stops', async () => {
    const temporary = await monitorToken(data, 'temp-admin', 'admin');
    const t = await open(`/api/v1/containers/local/${shellBox}/exec`, {
      Authorization: `Bearer ${temporary}`,
    });
    await ready(t);
    const revoked = await monitorCli(['token', 'revoke', 'temp-admin', '--data', data]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const closed = await t.closed;
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /revoked/);
    const box = await createContainer(client, ['sleep', '600']);
    cleanup.push(box);
    // Running in the monitor's live state, not only known: its create event comes before its start,
    // and a terminal is refused while the state says "created" (a race seen on a loaded machine).
    await known(monitor.url, admin, box);
    const s = await open(`/api/v1/containers/local/${box}/exec`, { Authorization: `Bearer ${admin}` });
    await ready(s);
    await client.json('POST', `/containers/${box}/kill`);
    const ended = await s.closed;
    assert.match(ended.reason, /container stopped|exit/);
  });
});

describe('terminal: debug=1 beside a container without a shell', () => {
  it("a throwaway container of terminal.debugImage shares the target's PID namespace, and is removed when the session ends", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-terminal-debug-'));
    const config = join(dir, 'monitor.yaml');
    writeFileSync(config, `version: 1\nterminal:\n  debugImage: ${testEngine().image}\n`);
    const key = await monitorToken(join(dir, 'data'), 'debugger', 'admin');
    const debugMonitor = await startMonitor([
      '--engine',
      `local=${testEngine().host}`,
      '--config',
      config,
      '--data',
      join(dir, 'data'),
      '--anonymous-role',
      'none',
    ]);
    try {
      const target = await createContainer(client, ['sleep', '4321']);
      cleanup.push(target);
      await known(debugMonitor.url, key, target);
      const t = await open(
        `/api/v1/containers/local/${target}/exec?debug=1`,
        { Authorization: `Bearer ${key}` },
        debugMonitor.url,
      );
      await ready(t);
      assert.equal(t.controls[0]?.type, 'ready', JSON.stringify(t.controls));
      const debugContainers = async () =>
        client.json<{ Id: string }[]>('GET', '/containers/json', {
          query: { all: 1, filters: JSON.stringify({ label: [`dockgate.terminal.debug-for=${target}`] }) },
        });
      assert.equal((await debugContainers()).length, 1, 'one debug container beside it');
      t.send('ps\n');
      await waitFor(() => t.text().includes('sleep 4321'), {
        what: "the target's process, seen from the debug container",
      });
      t.ws.close();
      await t.closed;
      await waitFor(async () => (await debugContainers()).length === 0, {
        what: 'the debug container removed',
      });
    } finally {
      await debugMonitor.stop();
    }
  });
});

describe('terminal through a dockgate gateway (deploy, with a token)', () => {
  let gateway: TestGateway;
  let throughGateway: MonitorProcess;
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-terminal-gw-'));
  let sockBox: string;

  before(async () => {
    const tokens = join(dir, 'tokens.json');
    const token = addToken(tokens, 'monitor', 'deploy');
    gateway = await startGateway({ profile: 'read-only', tokens });
    const config = join(dir, 'monitor.yaml');
    writeFileSync(
      config,
      `version: 1\nengines:\n  - name: gw\n    url: tcp://127.0.0.1:${gateway.port}\n    token: ${token}\n`,
    );
    const socket = testEngine().host.replace(/^unix:\/\//, '');
    sockBox = await createContainer(client, ['sleep', '600'], {
      hostConfig: { Binds: [`${socket}:/var/run/docker.sock`] },
    });
    cleanup.push(sockBox);
    throughGateway = await startMonitor([
      '--config',
      config,
      '--data',
      join(dir, 'data'),
      '--anonymous-role',
      'none',
    ]);
  });

  after(async () => {
    await throughGateway?.stop();
    await gateway?.stop();
  });

  it('echo 42 through the gateway; into a container holding the engine socket → the gateway refusal, verbatim', async () => {
    const key = await monitorToken(join(dir, 'data'), 'gw-admin', 'admin');
    const headers = { Authorization: `Bearer ${key}` };
    const t = await open(`/api/v1/containers/gw/${shellBox}/exec`, headers, throughGateway.url);
    await ready(t);
    assert.equal(t.controls[0]?.type, 'ready', JSON.stringify(t.controls));
    t.send('echo $((6*7))\n');
    await waitFor(() => /\r\n42\r\n/.test(t.text()), { what: '42 through the gateway' });
    t.ws.close();
    await t.closed;
    const refusedSession = await open(`/api/v1/containers/gw/${sockBox}/exec`, headers, throughGateway.url);
    assert.equal((await refusedSession.closed).code, 1011);
    assert.equal(refusedSession.controls[0]?.type, 'error');
    assert.match(String(refusedSession.controls[0]?.message), /^dockgate: .*host escape/);
    assert.deepEqual(await execIds(sockBox), [], 'nothing ran in it');
  });
});
