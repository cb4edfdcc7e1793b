import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FrameSplitter } from '../../src/client/streams.js';
import { createContainer, demux, removeContainer, testClient } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawConnection, splitMessage } from '../helpers/raw-http.js';

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: tcp\r\n';

function startRequest(execId: string, headers: string): string {
  const body = '{"Detach":false,"Tty":false}';
  return `POST /v1.41/exec/${execId}/start HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`;
}

/** The demuxed output after the first head of `bytes`. */
function streamOutput(bytes: Buffer): { stdout: string; stderr: string } {
  const end = bytes.indexOf('\r\n\r\n');
  return demux(bytes.subarray(end + 4));
}

describe('gateway hijack (exec, attach, upgrade)', () => {
  let gateway: TestGateway;
  let container: string;
  const direct = testClient();

  const exec = async (cmd: string[], stdin: boolean): Promise<string> => {
    const created = await direct.json<{ Id: string }>('POST', `/containers/${container}/exec`, {
      body: { Cmd: cmd, AttachStdin: stdin, AttachStdout: true, AttachStderr: true },
    });
    return created.Id;
  };

  before(async () => {
    gateway = await startGateway();
    container = await createContainer(direct, ['sleep', '600']);
  });
  after(async () => {
    await removeContainer(direct, container);
    await direct.close();
    await gateway.stop();
  });

  it('answers Upgrade: tcp with 101 UPGRADED and keeps stdout and stderr apart', async () => {
    const id = await exec(['sh', '-c', 'echo to-out; echo to-err >&2'], false);
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(startRequest(id, UPGRADE));
    connection.shutdownWrite();
    await connection.untilEnded();
    assert.match(connection.text, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    assert.deepEqual(streamOutput(connection.bytes), { stdout: 'to-out\n', stderr: 'to-err\n' });
  });

  it('half-close regression: output written after the client closed stdin still arrives (moby#11714)', async () => {
    const id = await exec(['sh', '-c', 'cat; sleep 1; echo after'], true);
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(startRequest(id, UPGRADE));
    await connection.until((text) => text.includes('\r\n\r\n'));
    connection.write('hello\n');
    connection.shutdownWrite();
    await connection.untilEnded();
    assert.equal(streamOutput(connection.bytes).stdout, 'hello\nafter\n');
  });

  it('half-close regression: exec without stdin, the client shuts its write side at once, output comes seconds later', async () => {
    const id = await exec(['sh', '-c', 'sleep 2; echo late-output'], false);
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(startRequest(id, UPGRADE));
    connection.shutdownWrite();
    await connection.untilEnded(15_000);
    assert.equal(streamOutput(connection.bytes).stdout, 'late-output\n');
  });

  it('legacy hijack without an Upgrade header: 200 raw stream used both ways, half-close kept', async () => {
    const id = await exec(['sh', '-c', 'cat; sleep 0.5; echo legacy-after'], true);
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(startRequest(id, ''));
    await connection.until((text) => text.includes('\r\n\r\n'));
    assert.equal(splitMessage(connection.text).status, 200);
    assert.match(connection.text, /application\/vnd\.docker\.raw-stream/);
    connection.write('legacy-in\n');
    connection.shutdownWrite();
    await connection.untilEnded();
    assert.equal(streamOutput(connection.bytes).stdout, 'legacy-in\nlegacy-after\n');
  });

  it('replays stdin bytes sent in the same write as the request, before the 101 (dockerode#777 order)', async () => {
    const id = await exec(['sh', '-c', 'head -c 11'], true);
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(`${startRequest(id, UPGRADE)}early-bytes`);
    await connection.untilEnded();
    assert.equal(streamOutput(connection.bytes).stdout, 'early-bytes');
  });

  it('moves 32 MiB through exec cat both ways with backpressure, intact', async () => {
    const id = await exec(['cat'], true);
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(startRequest(id, UPGRADE));
    await connection.until((text) => text.includes('\r\n\r\n'));
    const size = 32 * 1024 * 1024;
    const input = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4) input.writeUInt32LE((i * 2246822519) >>> 0, i);
    connection.socket.end(input);
    await connection.untilEnded(60_000);
    // Binary data: read the stdout frames' payloads as bytes, not as text.
    const end = connection.bytes.indexOf('\r\n\r\n') + 4;
    const frames = new FrameSplitter().push(connection.bytes.subarray(end));
    const received = Buffer.concat(frames.filter((f) => f.stream === 'stdout').map((f) => f.data));
    assert.equal(received.length, size);
    assert.equal(
      createHash('sha256').update(received).digest('hex'),
      createHash('sha256').update(input).digest('hex'),
    );
  });

  it('attaches to a container with stdin (docker run -i) and forwards the half-close', async () => {
    const id = await createContainer(
      direct,
      ['sh', '-c', 'read line; echo got-$line; sleep 0.5; echo done'],
      {
        start: false,
        config: { OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true },
      },
    );
    try {
      const connection = await RawConnection.open({ port: gateway.port });
      connection.write(
        `POST /v1.41/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n${UPGRADE}Content-Length: 0\r\n\r\n`,
      );
      await connection.until((text) => text.includes('\r\n\r\n'));
      assert.equal(splitMessage(connection.text).status, 101);
      await direct.json('POST', `/containers/${id}/start`);
      connection.write('ping\n');
      connection.shutdownWrite();
      await connection.untilEnded();
      assert.equal(streamOutput(connection.bytes).stdout, 'got-ping\ndone\n');
    } finally {
      await removeContainer(direct, id);
    }
  });

  it('passes the websocket attach (/attach/ws)', async () => {
    const id = await createContainer(direct, ['sh', '-c', 'sleep 1; echo over-websocket; sleep 1'], {
      start: false,
    });
    try {
      const connection = await RawConnection.open({ port: gateway.port });
      connection.write(
        `GET /v1.41/containers/${id}/attach/ws?stream=1&stdout=1 HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost\r\n` +
          'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      await connection.until((text) => text.includes('\r\n\r\n'));
      assert.equal(splitMessage(connection.text).status, 101);
      assert.match(connection.text, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
      await direct.json('POST', `/containers/${id}/start`);
      await connection.until((text) => text.includes('over-websocket'));
      connection.close();
    } finally {
      await removeContainer(direct, id);
    }
  });

  it('passes Upgrade: h2c for BuildKit sessions (/session)', async () => {
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(
      'POST /v1.41/session HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n' +
        'X-Docker-Expose-Session-Uuid: dockgate-test\r\nX-Docker-Expose-Session-Name: test\r\nX-Docker-Expose-Session-Sharedkey: k\r\nContent-Length: 0\r\n\r\n',
    );
    // After the 101 the engine speaks HTTP/2 first: its connection preface.
    await connection.until((text) => text.includes('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    assert.match(connection.text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    connection.close();
  });

  it('keeps plain requests working on a connection whose hijack request was refused', async () => {
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(
      `POST /v1.41/exec/no-such-exec/start HTTP/1.1\r\nHost: d\r\n${UPGRADE}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}` +
        'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n',
    );
    const text = await connection.until((t) => t.endsWith('OK'));
    assert.match(text, /^HTTP\/1\.1 404 /);
    connection.close();
  });
});

describe('gateway hijack edge cases (raw upstream reproducing what dockerd may do)', () => {
  let upstream: Server;
  let gateway: TestGateway;
  let path: string;

  before(async () => {
    // An upstream that writes the 101 head and stream bytes in ONE write. dockerd flushes the
    // head first; a proxy that coalesces them breaks clients that read the head with a buffered
    // reader (docker-py over TCP). The gateway must deliver the head on its own.
    path = `/tmp/dockgate-upstream-${process.pid}.sock`;
    upstream = createServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nSTREAM-BYTES');
        socket.end();
      });
    });
    await new Promise<void>((resolve) => upstream.listen(path, resolve));
    gateway = await startGateway({ upstream: `unix://${path}` });
  });
  after(async () => {
    await gateway.stop();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('delivers the upgrade head alone, before stream bytes that came in the same read', async () => {
    const connection = await RawConnection.open({ port: gateway.port });
    connection.write(`POST /exec/x/start HTTP/1.1\r\nHost: d\r\n${UPGRADE}Content-Length: 0\r\n\r\n`);
    await connection.untilEnded();
    assert.equal(
      connection.reads[0]?.toString(),
      'HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
    assert.match(connection.text, /STREAM-BYTES$/);
  });
});
