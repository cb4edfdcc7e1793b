import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addToken } from '../../src/auth/tokens.js';
import { DockerClient } from '../../src/client/index.js';
import { type FileLogEntry, unixParamTime } from '../../src/engine/log-files/file-entry.js';
import { readLogFiles } from '../../src/engine/log-files/log-file-reader.js';
import { type LogInspect, logLocation } from '../../src/engine/log-files/log-location.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ask, RawConnection } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 25's agent path: a container's log read from the files its driver writes (json-file,
 * local) gives what the engine's `/containers/{id}/logs` gives — the same entries, times and
 * order, rotated and compressed files included — and the gateway serves it under the caller's
 * policy (`GET /dockgate/v1/containers/{id}/logs`).
 */
const client = testClient();
const created: string[] = [];

/** stdout and stderr interleaved, a 40 000-byte line (three partial messages), a line without an end. */
const MIXED =
  'echo hello; echo err >&2; head -c 40000 /dev/zero | tr "\\0" x; echo; printf "no end"; sleep 0.1; echo; i=0; while [ $i -lt 300 ]; do echo "line $i"; echo "e$i" >&2; i=$((i+1)); done';
/** The same without the long line (dockerd 20.10's reader of `local` drops a long line's end). */
const SHORT =
  'echo hello; echo err >&2; i=0; while [ $i -lt 300 ]; do echo "line $i"; echo "e$i" >&2; i=$((i+1)); done';

async function finished(script: string, log: Record<string, unknown>, tty = false): Promise<string> {
  const id = await createContainer(client, ['sh', '-c', script], {
    config: { Tty: tty },
    hostConfig: { LogConfig: log },
  });
  created.push(id);
  await client.containers.wait(id);
  return id;
}

async function location(id: string): Promise<{ path: string; format: 'json-file' | 'local' }> {
  const found = logLocation((await client.containers.inspect(id)) as unknown as LogInspect);
  assert.ok(found?.kind === 'file', 'a log file');
  return found;
}

/** The engine's answer as `stream time text` entries (timestamps on). */
async function engineEntries(id: string, since?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const frame of client.containers.logs(id, {
    timestamps: true,
    ...(since === undefined ? {} : { since }),
  }))
    out.push(`${frame.stream} ${frame.data.toString()}`);
  return out;
}

async function fileEntries(id: string, since?: string): Promise<string[]> {
  const { path, format } = await location(id);
  const out: string[] = [];
  const show = (e: FileLogEntry): string => `${e.stream} ${e.time} ${e.text.toString()}`;
  for await (const batch of readLogFiles({
    path,
    format,
    follow: false,
    since: since === undefined ? undefined : unixParamTime(since),
  }))
    out.push(...batch.map(show));
  return out;
}

/** `since` as the CLI sends it, at the time of entry `at`. */
function sinceOf(entries: string[], at: number): string {
  const time = (entries[at] as string).split(' ')[1] as string;
  return `${Math.floor(Date.parse(`${time.slice(0, 19)}Z`) / 1000)}.${time.slice(20, 29)}`;
}

after(async () => {
  for (const id of created) await removeContainer(client, id).catch(() => {});
});

describe('reading log files as the engine answers', () => {
  for (const [name, log] of [
    ['json-file', { Type: 'json-file', Config: {} }],
    ['json-file rotated (4 KiB × 3)', { Type: 'json-file', Config: { 'max-size': '4k', 'max-file': '3' } }],
    [
      'json-file rotated and compressed',
      { Type: 'json-file', Config: { 'max-size': '4k', 'max-file': '3', compress: 'true' } },
    ],
  ] as const) {
    it(`${name}: every entry, then since an entry in the middle`, async () => {
      const id = await finished(MIXED, log);
      const engine = await engineEntries(id);
      assert.ok(engine.length > 0);
      assert.deepEqual(await fileEntries(id), engine);
      const since = sinceOf(engine, Math.floor(engine.length / 2));
      const at = unixParamTime(since) as string;
      const expected = engine.filter((e) => (e.split(' ')[1] as string) >= at);
      assert.deepEqual(await fileEntries(id, since), expected);
      // dockerd 20.10 skips a compressed file whole by its time, more than `since` asks.
      if (!name.includes('compressed')) assert.deepEqual(await engineEntries(id, since), expected);
    });
  }

  it('local: every entry; since an entry: every entry at or after it (rotated, compressed files too)', async () => {
    const plain = await finished(SHORT, { Type: 'local', Config: {} });
    const engine = await engineEntries(plain);
    assert.equal(engine.length, 602);
    assert.deepEqual(await fileEntries(plain), engine);
    const rotated = await finished(SHORT, { Type: 'local', Config: { 'max-size': '4k', 'max-file': '3' } });
    const kept = await engineEntries(rotated);
    assert.deepEqual(await fileEntries(rotated), kept);
    // dockerd 20.10 skips whole compressed files by their time, more than `since` asks: the
    // expected entries are the engine's whole answer from that time on.
    const since = sinceOf(kept, Math.floor(kept.length / 2));
    const at = unixParamTime(since) as string;
    assert.deepEqual(
      await fileEntries(rotated, since),
      kept.filter((e) => (e.split(' ')[1] as string) >= at),
    );
  });

  it("local: a long line's last piece keeps its line end", async () => {
    const id = await finished(MIXED, { Type: 'local', Config: {} });
    const text = (await fileEntries(id)).map((e) => e.slice(e.indexOf('Z ') + 2)).join('');
    assert.ok(text.includes(`${'x'.repeat(40000)}\n`), 'the 40 000 x and their newline');
    assert.ok(text.includes('no end\n'));
  });

  it('TTY: the same bytes in the same order', async () => {
    const id = await finished(MIXED, { Type: 'json-file', Config: {} }, true);
    const engine = (await engineEntries(id)).map((e) => e.slice('stdout '.length)).join('');
    const files = (await fileEntries(id)).map((e) => e.slice('stdout '.length)).join('');
    assert.equal(files, engine);
  });

  it('follow: across rotations while the container writes, to its stop; each entry once', async () => {
    const id = await createContainer(
      client,
      ['sh', '-c', 'sleep 1; i=0; while [ $i -lt 3000 ]; do echo "follow $i"; i=$((i+1)); done; sleep 1'],
      { hostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '16k', 'max-file': '100' } } } },
    );
    created.push(id);
    const { path, format } = await location(id);
    const stopped = client.containers.wait(id);
    const seen: string[] = [];
    for await (const batch of readLogFiles({ path, format, follow: true, stopped }))
      for (const e of batch) seen.push(e.text.toString().trim());
    assert.equal(seen.length, 3000);
    assert.deepEqual(
      seen,
      Array.from({ length: 3000 }, (_, i) => `follow ${i}`),
    );
  });
});

describe('GET /dockgate/v1/containers/{id}/logs', () => {
  let gateway: TestGateway;
  let logged: string;
  before(async () => {
    gateway = await startGateway({ profile: 'read-only' });
    logged = await finished(MIXED, { Type: 'json-file', Config: { 'max-size': '8k', 'max-file': '4' } });
  });
  after(() => gateway.stop());

  it("the engine's own answer, byte for byte; the audit line names the route", async () => {
    const path = `/dockgate/v1/containers/${logged}/logs?stdout=1&stderr=1&timestamps=1`;
    const mine = await ask(gateway.port, 'GET', path);
    assert.equal(mine.status, 200, mine.body);
    assert.match(mine.head, /Content-Type: application\/vnd\.docker\.multiplexed-stream/);
    const engine = await client.request('GET', `/containers/${logged}/logs`, {
      query: { stdout: 1, stderr: 1, timestamps: 1 },
      stream: true,
    });
    let expected = '';
    for await (const chunk of engine.body as AsyncIterable<Buffer>) expected += chunk.toString('latin1');
    assert.equal(Buffer.from(mine.body, 'latin1').length > 0, true);
    assert.equal(mine.body, Buffer.from(expected, 'latin1').toString());
    const line = gateway.logs.findLast((l) => String(l.path).startsWith('/dockgate/v1/containers/'));
    assert.equal(line?.route, 'GET /dockgate/v1/containers/{id}/logs');
    assert.equal(line?.decision, 'allow');
  });

  it('the typed client reads through it (agent: true); follow ends when the container stops', async () => {
    const id = await createContainer(client, ['sh', '-c', 'echo one; sleep 1; echo two >&2; sleep 1']);
    created.push(id);
    const through = new DockerClient({ url: gateway.dockerHost });
    const frames: string[] = [];
    for await (const frame of through.containers.logs(id, { follow: true, agent: true }))
      frames.push(`${frame.stream}:${frame.data.toString()}`);
    assert.deepEqual(frames, ['stdout:one\n', 'stderr:two\n']);
  });

  it('what the files cannot answer is said, never guessed', async () => {
    const none = await finished('echo gone', { Type: 'none', Config: {} });
    const driver = await ask(gateway.port, 'GET', `/dockgate/v1/containers/${none}/logs?stdout=1`);
    assert.equal(driver.status, 501);
    assert.match(driver.body, /driver none: not a file the gateway reads/);
    const tail = await ask(gateway.port, 'GET', `/dockgate/v1/containers/${logged}/logs?stdout=1&tail=5`);
    assert.equal(tail.status, 400);
    const streams = await ask(gateway.port, 'GET', `/dockgate/v1/containers/${logged}/logs`);
    assert.equal(streams.status, 400);
    assert.match(streams.body, /choose at least one stream/);
    const missing = await ask(gateway.port, 'GET', '/dockgate/v1/containers/dg-no-such/logs?stdout=1');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /No such container: dg-no-such/);
  });

  it('agent_logs_not_started_regression: a container created and never started has an empty log, as the engine says (not a 501 that turned a monitor off the gateway)', async () => {
    const id = await createContainer(client, ['sh', '-c', 'echo never'], { start: false });
    created.push(id);
    for (const query of [
      { stdout: '1', stderr: '1', timestamps: '1' },
      { stdout: '1', follow: '1' },
    ]) {
      const mine = await ask(
        gateway.port,
        'GET',
        `/dockgate/v1/containers/${id}/logs?${new URLSearchParams(query)}`,
      );
      const engine = await client.request('GET', `/containers/${id}/logs`, { query, stream: true });
      let expected = '';
      for await (const chunk of engine.body as AsyncIterable<Buffer>) expected += chunk.toString('latin1');
      assert.equal(engine.status, 200);
      assert.equal(mine.status, 200, mine.body);
      assert.equal(mine.body, expected, JSON.stringify(query));
      assert.equal(mine.body, '');
    }
  });

  it('agent_logs_path_regression: the file read is the one the engine names, never one the caller names', async () => {
    for (const ref of ['..%2F..%2F..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '..', '.']) {
      const answer = await ask(gateway.port, 'GET', `/dockgate/v1/containers/${ref}/logs?stdout=1`);
      assert.notEqual(answer.status, 200, ref);
      assert.doesNotMatch(answer.body, /root:/, ref);
    }
  });

  it('is not a write: POST is refused', async () => {
    assert.equal((await ask(gateway.port, 'POST', `/dockgate/v1/containers/${logged}/logs`)).status, 405);
  });
});

describe('GET /dockgate/v1/containers/{id}/logs held open', () => {
  it('agent_logs_client_gone_regression: a follow whose caller went away lets go of its file and its slot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-agent-logs-'));
    const config = join(dir, 'one.yaml');
    writeFileSync(config, 'version: 1\nprofiles:\n  one:\n    extends: read-only\n    concurrency: 1\n');
    const gateway = await startGateway({ profile: 'one', config });
    const quiet = await createContainer(client, ['sh', '-c', 'echo started; sleep 300']);
    created.push(quiet);
    try {
      const path = `/dockgate/v1/containers/${quiet}/logs?stdout=1&follow=1`;
      for (let round = 0; round < 3; round++) {
        const connection = await RawConnection.open({ port: gateway.port });
        connection.write(`GET ${path} HTTP/1.1\r\nHost: d\r\n\r\n`);
        await waitFor(() => connection.text.includes('started'), { what: 'the first line' });
        // The one slot is held while the follow lasts.
        assert.equal((await ask(gateway.port, 'GET', path)).status, 429);
        connection.socket.destroy();
        await waitFor(
          async () =>
            (await ask(gateway.port, 'GET', `/dockgate/v1/containers/${quiet}/logs?stdout=1`)).status === 200,
          {
            what: 'the slot given back',
          },
        );
      }
    } finally {
      await gateway.stop();
    }
  });
});

describe('GET /dockgate/v1/containers/{id}/logs with ownership', () => {
  it("agent_logs_ownership_regression: another identity's container is no such container", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-agent-logs-'));
    const tokens = join(dir, 'tokens.json');
    const alice = addToken(tokens, 'alice', 'team');
    const bob = addToken(tokens, 'bob', 'team');
    const config = join(dir, 'team.yaml');
    writeFileSync(config, 'version: 1\nprofiles:\n  team:\n    extends: read-only\n    ownership: true\n');
    const gateway = await startGateway({ profile: 'read-only', tokens, config });
    const owned = await createContainer(client, ['echo', 'alice-secret'], {
      config: { Labels: { [RUN_LABEL]: testEngine().runId, 'dockgate.owner': 'alice' } },
    });
    created.push(owned);
    try {
      await client.containers.wait(owned);
      const path = `/dockgate/v1/containers/${owned}/logs?stdout=1&stderr=1`;
      const mine = await ask(gateway.port, 'GET', path, { Authorization: `Bearer ${alice}` });
      assert.equal(mine.status, 200);
      assert.match(mine.body, /alice-secret/);
      const theirs = await ask(gateway.port, 'GET', path, { Authorization: `Bearer ${bob}` });
      assert.equal(theirs.status, 404);
      assert.doesNotMatch(theirs.body, /alice-secret/);
      const line = gateway.logs.findLast((l) => l.identity === 'bob');
      assert.equal(line?.decision, 'deny');
    } finally {
      await gateway.stop();
    }
  });
});
