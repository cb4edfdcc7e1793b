import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { EngineRelay } from '../helpers/engine-relay.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawConnection, splitMessage } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Engine connections reused across client connections (issue 16): a relay in front of the
 * engine counts the gateway's engine connections. A connection is reused only at a clean
 * message boundary — never after a hijack, a half-sent body, or an error.
 */
const client = testClient();
let relay: EngineRelay;
let gw: TestGateway;
const cleanup: string[] = [];

before(async () => {
  relay = new EngineRelay();
  await relay.start();
  gw = await startGateway({ upstream: relay.url });
});

after(async () => {
  await gw.stop();
  await relay.stop();
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
});

/** One keep-alive request on a new client connection, answer read, then the client closes. */
async function pingAndClose(extraHeaders = ''): Promise<string> {
  const connection = await RawConnection.open({ port: gw.port });
  connection.write(`GET /_ping HTTP/1.1\r\nHost: docker\r\n${extraHeaders}\r\n`);
  const text = await connection.until((t) => t.endsWith('OK'));
  connection.close();
  // The gateway has seen the close (and pooled or closed its engine connection).
  await waitFor(() => gw.gateway.connections === 0, { what: 'the client connection gone' });
  return text;
}

const engineConnections = (): number => relay.sent.length;

describe('engine connection pool', () => {
  it('engine_pool_reuse_regression: ten client connections in a row, one engine connection', async () => {
    // The first test: the pool starts empty.
    assert.equal(engineConnections(), 0);
    for (let i = 0; i < 10; i++) await pingAndClose();
    assert.equal(engineConnections(), 1);
  });

  it('pool_race_retry_regression: a pooled connection the engine closes as a GET arrives: the GET is sent again on a new one, answered 200', async () => {
    await pingAndClose(); // a pooled connection
    const before = engineConnections();
    relay.resetOnNext(/^GET \/version /);
    const connection = await RawConnection.open({ port: gw.port });
    connection.write('GET /version HTTP/1.1\r\nHost: docker\r\n\r\n');
    const text = await connection.until((t) => /\r\n\r\n[\s\S]*\}\s*$/.test(t));
    connection.close();
    assert.match(text, /^HTTP\/1\.1 200 OK/, text);
    assert.equal(engineConnections(), before + 1, 'one new engine connection for the retry');
    // A POST is never sent twice: the engine might have acted on it.
    await pingAndClose();
    relay.resetOnNext(/^POST \/containers\/prune /);
    const post = await RawConnection.open({ port: gw.port });
    post.write('POST /containers/prune HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n');
    const refused = await post.until((t) => /\r\n\r\n[\s\S]*\}\s*$/.test(t));
    post.close();
    assert.match(refused, /^HTTP\/1\.1 502 /, refused);
  });

  it('`Connection: close`: answered with Connection: close (where the engine puts it), the client closed, the engine connection kept', async () => {
    await pingAndClose(); // one pooled connection to start from
    const before = engineConnections();
    for (let i = 0; i < 3; i++) {
      const connection = await RawConnection.open({ port: gw.port });
      connection.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n');
      const text = await connection.untilEnded();
      connection.close();
      const { head, body, status } = splitMessage(text);
      assert.equal(status, 200);
      assert.equal(body, 'OK');
      assert.match(head, /\r\nConnection: close$/, 'last, where Go puts it (the next test compares bytes)');
      await waitFor(() => gw.gateway.connections === 0);
    }
    assert.equal(engineConnections(), before, 'no new engine connection');
    // What reached the engine: the requests without `Connection: close`.
    assert.doesNotMatch(relay.sentText().split('GET /_ping').slice(-3).join(''), /Connection: close/);
  });

  it('the same answer bytes as the engine gives a `Connection: close` request (Date aside), every time', async () => {
    const withoutDate = (text: string): string => text.replace(/\r\nDate: [^\r]*/, '');
    // Three times: the rewritten heads are remembered (closing_head_memo_regression), and the
    // remembered ones must be the same bytes.
    for (let i = 0; i < 3; i++) {
      const direct = await RawConnection.open({ path: testEngine().host.replace('unix://', '') });
      direct.write('GET /version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n');
      const fromEngine = await direct.untilEnded();
      direct.close();
      const through = await RawConnection.open({ port: gw.port });
      through.write('GET /version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n');
      const fromGateway = await through.untilEnded();
      through.close();
      assert.equal(withoutDate(fromGateway), withoutDate(fromEngine), `round ${i + 1}`);
    }
  });

  it('closing_redacted_regression: a redacted answer to `Connection: close` says so too, and the client is closed', async () => {
    const id = await createContainer(client, ['true'], { config: { Env: ['SECRET=hunter2'] } });
    cleanup.push(id);
    const readOnly = await startGateway({ upstream: testEngine().host, profile: 'read-only' });
    try {
      const connection = await RawConnection.open({ port: readOnly.port });
      connection.write(
        `GET /v1.41/containers/${id}/json HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n`,
      );
      const { head, body, status } = splitMessage(await connection.untilEnded());
      connection.close();
      assert.equal(status, 200);
      assert.match(head, /\r\nContent-Length: \d+\r\nConnection: close$/);
      assert.ok(body.includes('SECRET=<redacted>'), 'Env redacted');
      assert.ok(!body.includes('hunter2'));
    } finally {
      await readOnly.stop();
    }
  });

  it('engine_pool_not_after_hijack_regression: an attached (hijacked) connection is never reused', async () => {
    await pingAndClose();
    // A container that ends soon: a hijacked connection lives until the stream ends.
    const id = await createContainer(client, ['sleep', '2']);
    cleanup.push(id);
    const before = engineConnections();
    const attach = await RawConnection.open({ port: gw.port });
    attach.write(
      `POST /v1.41/containers/${id}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
    await attach.until((t) => t.startsWith('HTTP/1.1 101'));
    attach.close();
    await waitFor(() => gw.gateway.connections === 0, { what: 'the attach stream over' });
    await pingAndClose();
    await pingAndClose();
    // The attach took the pooled connection and spoiled it; the pings needed exactly one new one.
    assert.equal(engineConnections() - before, 1);
  });

  it('engine_pool_not_mid_body_regression: a client gone halfway through a body leaves its engine connection closed', async () => {
    await pingAndClose();
    const before = engineConnections();
    const partial = await RawConnection.open({ port: gw.port });
    partial.write(
      'PUT /v1.41/containers/none/archive?path=/tmp HTTP/1.1\r\nHost: docker\r\nContent-Length: 1000\r\n\r\n0123456789',
    );
    await waitFor(() => relay.sentText().endsWith('0123456789'), { what: 'the partial body at the engine' });
    partial.close();
    await waitFor(() => gw.gateway.connections === 0);
    const text = await pingAndClose();
    assert.equal(splitMessage(text).status, 200, 'the next client is answered on a fresh connection');
    assert.equal(engineConnections() - before, 1);
  });
});
