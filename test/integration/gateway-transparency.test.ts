import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engineTarget, testClient } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawConnection, splitMessage } from '../helpers/raw-http.js';

/** One request on a fresh raw connection; resolves with the whole answer once it is complete. */
async function exchange(target: { port: number } | { path: string }, request: string): Promise<string> {
  const connection = await RawConnection.open(target);
  try {
    connection.write(request);
    return await connection.until((text) => isComplete(text));
  } finally {
    connection.close();
  }
}

/** True once `text` holds a whole Content-Length or chunked answer (or a body-less one). */
function isComplete(text: string): boolean {
  const { head, body } = splitMessage(text);
  if (!text.includes('\r\n\r\n')) return false;
  const length = /\r\ncontent-length: (\d+)/i.exec(head);
  if (length) return Buffer.byteLength(body, 'latin1') >= Number(length[1]);
  if (/\r\ntransfer-encoding: chunked/i.test(head)) return body.endsWith('0\r\n\r\n');
  return true;
}

/** Headers without Date (which differs by the second). */
function comparableHead(text: string): string[] {
  return splitMessage(text)
    .head.split('\r\n')
    .filter((line) => !/^date:/i.test(line))
    .sort();
}

describe('gateway transparency', () => {
  let gateway: TestGateway;
  const direct = engineTarget();
  const client = testClient();

  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.stop();
    await client.close();
  });

  for (const request of [
    'HEAD /_ping HTTP/1.1\r\nHost: docker\r\n\r\n',
    'GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n',
    'GET /v1.41/_ping HTTP/1.1\r\nHost: docker\r\n\r\n',
    'GET /version HTTP/1.1\r\nHost: docker\r\n\r\n',
    'GET /v1.24/version HTTP/1.1\r\nHost: docker\r\n\r\n',
    'GET /v1.99/version HTTP/1.1\r\nHost: docker\r\n\r\n',
    'GET /v1.41/containers/no-such-container/json HTTP/1.1\r\nHost: docker\r\n\r\n',
    'GET /v1.41/no/such/route HTTP/1.1\r\nHost: docker\r\n\r\n',
    'POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}',
    'GET /_ping HTTP/1.0\r\n\r\n',
  ]) {
    const line = request.split('\r\n')[0];
    it(`answers ${line} exactly as the engine does (status, headers, body)`, async () => {
      const viaEngine = await exchange(direct, request);
      const viaGateway = await exchange({ port: gateway.port }, request);
      assert.deepEqual(comparableHead(viaGateway), comparableHead(viaEngine));
      assert.equal(splitMessage(viaGateway).body, splitMessage(viaEngine).body);
    });
  }

  it('keeps the connection alive across requests', async () => {
    const connection = await RawConnection.open({ port: gateway.port });
    try {
      for (let i = 0; i < 3; i++) {
        const before = connection.bytes.length;
        connection.write('GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n');
        await connection.until((text) => text.length > before && text.endsWith('OK'));
      }
      assert.equal(connection.text.match(/HTTP\/1\.1 200 OK/g)?.length, 3);
      assert.equal(connection.ended, false);
    } finally {
      connection.close();
    }
  });

  it('answers pipelined requests in order', async () => {
    const connection = await RawConnection.open({ port: gateway.port });
    try {
      connection.write(
        'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n' +
          'GET /v1.41/containers/nope/json HTTP/1.1\r\nHost: d\r\n\r\n' +
          'HEAD /_ping HTTP/1.1\r\nHost: d\r\n\r\n',
      );
      const text = await connection.until(
        (t) => (t.match(/HTTP\/1\.1 /g)?.length ?? 0) === 3 && t.includes('nope'),
      );
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
      assert.deepEqual(statuses, ['200', '404', '200']);
    } finally {
      connection.close();
    }
  });

  it('passes request and response bodies byte for byte (a JSON create and its answer)', async () => {
    const body = JSON.stringify({ Image: 'no-such-image:1', Cmd: ['true'] });
    const request = `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const viaEngine = await exchange(direct, request);
    const viaGateway = await exchange({ port: gateway.port }, request);
    assert.equal(splitMessage(viaGateway).status, 404);
    assert.equal(splitMessage(viaGateway).body, splitMessage(viaEngine).body);
  });

  it('forwards a chunked request body and keeps the connection for the next request', async () => {
    const connection = await RawConnection.open({ port: gateway.port });
    try {
      connection.write(
        'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '5\r\n{"Ima\r\n' +
          '12\r\nge":"no-such:1"}  \r\n0\r\n\r\n' +
          'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n',
      );
      const text = await connection.until((t) => t.endsWith('OK'));
      assert.match(text, /^HTTP\/1\.1 404 /);
      assert.match(text, /No such image: no-such:1/);
    } finally {
      connection.close();
    }
  });

  it('sends hop-by-hop headers no further than the gateway, and everything else unchanged', async () => {
    const relay = new EngineRelay();
    await relay.start();
    const viaRelay = await startGateway({ upstream: relay.url });
    try {
      const answer = await exchange(
        { port: viaRelay.port },
        'GET /_ping HTTP/1.1\r\nHost: docker\r\nProxy-Authorization: Basic c2VjcmV0\r\nKeep-Alive: timeout=5\r\nX-Custom: kept\r\nUser-Agent: Docker-Client/28 (linux)\r\n\r\n',
      );
      assert.equal(splitMessage(answer).status, 200);
      assert.equal(
        relay.sentText(),
        'GET /_ping HTTP/1.1\r\nHost: docker\r\nX-Custom: kept\r\nUser-Agent: Docker-Client/28 (linux)\r\n\r\n',
      );
    } finally {
      await viaRelay.stop();
      await relay.stop();
    }
  });

  it('writes one access log line per request with id, client, method, path, status, bytes and duration', async () => {
    await exchange({ port: gateway.port }, 'GET /v1.41/info HTTP/1.1\r\nHost: d\r\n\r\n');
    const line = gateway.logs.find((entry) => entry.msg === 'request' && entry.path === '/v1.41/info');
    assert.ok(line, 'an access log line for GET /v1.41/info');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.match(String(line.req), /^[0-9a-f]{6}-[0-9a-z]+$/);
    assert.match(String(line.client), /^127\.0\.0\.1:\d+$/);
    assert.ok(Number(line.in) > 0 && Number(line.out) > 0 && typeof line.ms === 'number');
  });
});
