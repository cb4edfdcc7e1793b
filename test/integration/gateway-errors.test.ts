import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createContainer, removeContainer, testClient } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawConnection, splitMessage } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

async function ask(port: number, request: string | Buffer): Promise<RawConnection> {
  const connection = await RawConnection.open({ port });
  connection.write(request);
  await connection.untilEnded();
  return connection;
}

async function pingWorks(port: number): Promise<void> {
  const connection = await RawConnection.open({ port });
  connection.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
  await connection.until((text) => text.endsWith('OK'));
  connection.close();
}

describe('gateway errors: engine unreachable, gone, recovering', () => {
  const relay = new EngineRelay();
  let gateway: TestGateway;

  before(async () => {
    gateway = await startGateway({ upstream: relay.url }); // the relay is not listening yet
  });
  after(async () => {
    await gateway.stop();
    await relay.stop();
  });

  it('answers 502 with a Docker-shaped message and a request id that is in the access log', async () => {
    const connection = await ask(gateway.port, 'GET /v1.41/info HTTP/1.1\r\nHost: d\r\n\r\n');
    const { status, head, body } = splitMessage(connection.text);
    assert.equal(status, 502);
    const id = /X-Dockgate-Request-Id: (\S+)/.exec(head)?.[1];
    assert.ok(id);
    assert.deepEqual(JSON.parse(body), {
      message: `dockgate: cannot reach the Docker engine at ${relay.url}: connect ENOENT ${relay.path} (request ${id})`,
    });
    const line = gateway.logs.find((entry) => entry.req === id);
    assert.equal(line?.status, 502);
  });

  it('the docker CLI prints the message verbatim', async () => {
    const result = await run('docker', ['-H', gateway.dockerHost, 'ps']).catch(
      (error: { stderr: string; code: number }) => error,
    );
    assert.ok('code' in result && result.code !== 0);
    assert.match(
      (result as { stderr: string }).stderr,
      /Error response from daemon: dockgate: cannot reach the Docker engine at unix:\/\/.*\(request [0-9a-f]{6}-[0-9a-z]+\)/,
    );
  });

  it('recovers as soon as the engine is back', async () => {
    await relay.start();
    await pingWorks(gateway.port);
  });

  it('ends the client stream cleanly when the engine goes away mid-stream, and keeps serving', async () => {
    const events = await RawConnection.open({ port: gateway.port });
    events.write('GET /v1.41/events HTTP/1.1\r\nHost: d\r\n\r\n');
    await events.until((text) => text.includes('\r\n\r\n'));
    relay.cut();
    await events.untilEnded();
    assert.equal(splitMessage(events.text).status, 200);
    await pingWorks(gateway.port);
  });

  it('aborts the engine request when the client disconnects (a cancelled logs -f stops in the engine)', async () => {
    const direct = testClient();
    const id = await createContainer(direct, ['sleep', '60']);
    try {
      const logs = await RawConnection.open({ port: gateway.port });
      logs.write(`GET /v1.41/containers/${id}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\n\r\n`);
      await logs.until((text) => text.includes('\r\n\r\n'));
      assert.equal(relay.open.size, 1);
      logs.close();
      await waitFor(() => relay.open.size === 0, { what: 'the gateway closed its engine connection' });
    } finally {
      await removeContainer(direct, id);
      await direct.close();
    }
  });
});

describe('gateway errors: an engine that hangs up before answering', () => {
  let upstream: Server;
  let gateway: TestGateway;

  before(async () => {
    const path = `/tmp/dockgate-hangup-${process.pid}.sock`;
    upstream = createServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((resolve) => upstream.listen(path, resolve));
    gateway = await startGateway({ upstream: `unix://${path}` });
  });
  after(async () => {
    await gateway.stop();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('answers 502 DG_ENGINE_DISCONNECTED', async () => {
    const connection = await ask(gateway.port, 'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
    assert.equal(splitMessage(connection.text).status, 502);
    assert.match(splitMessage(connection.text).body, /closed the connection/);
  });
});

describe('gateway errors: bad input from clients', () => {
  const relay = new EngineRelay();
  let gateway: TestGateway;

  before(async () => {
    await relay.start();
    gateway = await startGateway({ upstream: relay.url, maxHeaderSize: '4096' });
  });
  after(async () => {
    await gateway.stop();
    await relay.stop();
  });

  it('answers malformed HTTP with 400 and closes', async () => {
    const connection = await ask(gateway.port, 'HELLO\r\n\r\n');
    assert.equal(splitMessage(connection.text).status, 400);
    assert.match(connection.text, /Connection: close/);
    assert.match(
      splitMessage(connection.text).body,
      /^\{"message":"dockgate: malformed request line \(request /,
    );
  });

  it('answers oversized headers with 431 and closes', async () => {
    const connection = await ask(
      gateway.port,
      `GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`,
    );
    assert.equal(splitMessage(connection.text).status, 431);
  });

  it('answers 431 even when the oversized head never ends', async () => {
    const connection = await ask(gateway.port, `GET /_ping HTTP/1.1\r\nX-Big: ${'a'.repeat(5000)}`);
    assert.equal(splitMessage(connection.text).status, 431);
  });

  it('smuggling regression: CL.TE is refused and the hidden request never reaches the engine', async () => {
    const before = relay.sentText().length;
    const smuggled = 'GET /v1.41/containers/json?smuggled=1 HTTP/1.1\r\nHost: d\r\n\r\n';
    const body = `0\r\n\r\n${smuggled}`;
    const connection = await ask(
      gateway.port,
      `POST /v1.41/containers/prune HTTP/1.1\r\nHost: d\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    );
    assert.equal(splitMessage(connection.text).status, 400);
    assert.doesNotMatch(relay.sentText().slice(before), /smuggled|prune/);
  });

  it('smuggling regression: a malformed chunk mid-body ends the request with 400, nothing after it is forwarded', async () => {
    const connection = await ask(
      gateway.port,
      'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '2\r\n{}\r\nZZ\r\nGET /v1.41/info?smuggled=2 HTTP/1.1\r\n\r\n',
    );
    assert.equal(splitMessage(connection.text).status, 400);
    assert.doesNotMatch(relay.sentText(), /smuggled=2/);
  });

  it('answers an allowed request, then refuses the malformed one pipelined behind it, in order', async () => {
    const connection = await ask(
      gateway.port,
      'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\nGET /_ping HTTP/9.9\r\n\r\n',
    );
    const statuses = [...connection.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '505']);
  });

  it('survives resets, abrupt closes and binary garbage, and keeps serving', async () => {
    const reset = await RawConnection.open({ port: gateway.port });
    reset.write('POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 1000\r\n\r\n{"Ima');
    reset.socket.resetAndDestroy();
    const abrupt = await RawConnection.open({ port: gateway.port });
    abrupt.write('GET /v1.41/events HTTP/1.1\r\nHost: d\r\n\r\n');
    await abrupt.until((text) => text.includes('\r\n\r\n'));
    abrupt.close();
    const garbage = await ask(
      gateway.port,
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]),
    );
    assert.equal(splitMessage(garbage.text).status, 400);
    const half = await RawConnection.open({ port: gateway.port });
    half.write('GET /_pi');
    half.shutdownWrite();
    await half.untilEnded();
    await pingWorks(gateway.port);
  });
});
