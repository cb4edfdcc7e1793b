import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pack } from 'tar-stream';
import { DockerClient } from '../../src/client/index.js';
import { createContainer, RUN_LABEL, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawConnection, splitMessage } from '../helpers/raw-http.js';

/** A tar holding one file of `size` pseudo-random bytes. */
async function tarOf(name: string, size: number): Promise<Buffer> {
  const tar = pack();
  const content = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) content.writeUInt32LE((i * 2654435761) >>> 0, i);
  tar.entry({ name, mode: 0o644 }, content);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('gateway streams', () => {
  let gateway: TestGateway;
  let viaGateway: DockerClient;
  const direct = testClient();

  before(async () => {
    gateway = await startGateway();
    viaGateway = new DockerClient({ engine: gateway.dockerHost });
  });
  after(async () => {
    await viaGateway.close();
    await direct.close();
    await gateway.stop();
  });

  it('flushes /events as they happen (follow)', async () => {
    const events = await RawConnection.open({ port: gateway.port });
    try {
      events.write(
        'GET /v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D HTTP/1.1\r\nHost: d\r\n\r\n',
      );
      await events.until((text) => text.includes('\r\n\r\n'));
      assert.equal(splitMessage(events.text).status, 200);
      const id = await createContainer(direct, ['true'], { start: false });
      await events.until((text) => text.includes('"Action":"create"') && text.includes(id));
      await removeContainer(direct, id);
      await events.until((text) => text.includes('"Action":"destroy"'));
    } finally {
      events.close();
    }
  });

  it('replays /events with since and until, then ends the stream', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await createContainer(direct, ['true'], { start: false });
    await removeContainer(direct, id);
    const until = Math.floor(Date.now() / 1000) + 1;
    const response = await viaGateway.request('GET', '/events', { query: { since, until } });
    let text = '';
    for await (const chunk of response.body) text += chunk.toString();
    assert.equal(response.status, 200);
    const mine = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id?: string; Action?: string })
      .filter((event) => event.id === id)
      .map((event) => event.Action);
    assert.deepEqual(mine, ['create', 'destroy']);
  });

  it('streams logs?follow while the container runs', async () => {
    const id = await createContainer(direct, [
      'sh',
      '-c',
      'for i in 1 2 3 4 5 6 7 8 9 10; do echo line-$i; sleep 0.3; done',
    ]);
    try {
      const logs = await RawConnection.open({ port: gateway.port });
      logs.write(`GET /v1.41/containers/${id}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\n\r\n`);
      await logs.until((text) => text.includes('line-2'));
      const state = await direct.json<{ State: { Running: boolean } }>('GET', `/containers/${id}/json`);
      assert.equal(state.State.Running, true, 'line-2 arrived while the container was still running');
      await logs.until((text) => text.includes('line-10'));
      logs.close();
    } finally {
      await removeContainer(direct, id);
    }
  });

  it('streams stats, one JSON object after another', async () => {
    const id = await createContainer(direct, ['sleep', '30']);
    try {
      const stats = await RawConnection.open({ port: gateway.port });
      stats.write(`GET /v1.41/containers/${id}/stats HTTP/1.1\r\nHost: d\r\n\r\n`);
      await stats.until((text) => (text.match(/"read":/g)?.length ?? 0) >= 2, 15_000);
      stats.close();
    } finally {
      await removeContainer(direct, id);
    }
  });

  it('sends /wait status and headers at once, the body when the container exits', async () => {
    const id = await createContainer(direct, ['sleep', '30']);
    try {
      const wait = await RawConnection.open({ port: gateway.port });
      wait.write(`POST /v1.41/containers/${id}/wait HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n`);
      await wait.until((text) => text.includes('\r\n\r\n'));
      assert.equal(splitMessage(wait.text).status, 200);
      assert.doesNotMatch(wait.text, /StatusCode/);
      await direct.json('POST', `/containers/${id}/kill`, { query: { signal: 'KILL' } });
      await wait.until((text) => text.includes('"StatusCode":137'));
      wait.close();
    } finally {
      await removeContainer(direct, id);
    }
  });

  it('passes build progress with its in-band error after a 200', async () => {
    const tar = pack();
    // The LABEL marks the intermediate containers and images too, so a shared engine is cleaned.
    tar.entry(
      { name: 'Dockerfile' },
      `FROM ${testEngine().image}\nLABEL ${RUN_LABEL}=${testEngine().runId}\nRUN echo building-now\nRUN exit 3\n`,
    );
    tar.finalize();
    const response = await viaGateway.request('POST', '/build', {
      query: {
        t: 'dockgate-test/build-fails:1',
        forcerm: 1,
      },
      headers: { 'content-type': 'application/x-tar' },
      body: tar,
    });
    let text = '';
    for await (const chunk of response.body) text += chunk.toString();
    assert.equal(response.status, 200);
    assert.match(text, /building-now/);
    assert.match(text, /"errorDetail":\{"code":3/);
  });

  it('uploads and downloads a 64 MiB archive intact (PUT and GET archive)', async () => {
    const id = await createContainer(direct, ['sleep', '60']);
    try {
      const archive = await tarOf('big.bin', 64 * 1024 * 1024);
      const put = await viaGateway.request('PUT', `/containers/${id}/archive`, {
        query: { path: '/tmp' },
        headers: { 'content-type': 'application/x-tar' },
        body: archive,
      });
      put.body.resume();
      assert.equal(put.status, 200);
      const get = await viaGateway.request('GET', `/containers/${id}/archive`, {
        query: { path: '/tmp/big.bin' },
      });
      assert.equal(get.status, 200);
      assert.ok(get.headers['x-docker-container-path-stat'], 'the path-stat header passes');
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of get.body) {
        hash.update(chunk);
        size += chunk.length;
      }
      const viaEngine = await direct.request('GET', `/containers/${id}/archive`, {
        query: { path: '/tmp/big.bin' },
      });
      const expected = createHash('sha256');
      for await (const chunk of viaEngine.body) expected.update(chunk);
      assert.ok(size > 64 * 1024 * 1024);
      assert.equal(hash.digest('hex'), expected.digest('hex'));
    } finally {
      await removeContainer(direct, id);
    }
  });
});

describe('gateway full duplex (raw upstream answering while the body still uploads)', () => {
  it('forwards answer bytes while the request body is still coming (docker build progress during the upload)', async () => {
    const { createServer } = await import('node:net');
    const path = `/tmp/dockgate-duplex-${process.pid}.sock`;
    // Like a builder that streams progress while reading its context: answer at the head,
    // report each body chunk as it arrives, finish when the body is complete.
    const upstream = createServer((socket) => {
      let seen = '';
      let answered = false;
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1');
        if (!answered && seen.includes('\r\n\r\n')) {
          answered = true;
          socket.write(
            'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
          );
        }
        const progress = `{"stream":"received ${seen.length} bytes"}\r\n`;
        socket.write(`${Buffer.byteLength(progress).toString(16)}\r\n${progress}\r\n`);
        if (seen.endsWith('0\r\n\r\n')) socket.write('0\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => upstream.listen(path, resolve));
    const gateway = await startGateway({ upstream: `unix://${path}` });
    try {
      const build = await RawConnection.open({ port: gateway.port });
      build.write(
        'POST /v1.41/build HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      build.write('5\r\nfirst\r\n');
      await build.until((text) => text.includes('"stream":"received'));
      const progressBeforeEnd = build.text;
      build.write('6\r\nsecond\r\n0\r\n\r\n');
      await build.until((text) => text.endsWith('0\r\n\r\n'));
      assert.match(progressBeforeEnd, /^HTTP\/1\.1 200 OK/);
      assert.doesNotMatch(
        progressBeforeEnd,
        /\r\n0\r\n\r\n$/,
        'the answer was still open while the upload went on',
      );
      build.close();
    } finally {
      await gateway.stop();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});
