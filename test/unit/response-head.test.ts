import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDockgateError } from '../../src/errors.js';
import { parseResponseHead } from '../../src/gateway/http/response-head.js';

const head = (text: string): Buffer => Buffer.from(`${text}\r\n\r\n`, 'latin1');

describe('parseResponseHead', () => {
  it('reads the framing of each kind of answer', () => {
    assert.deepEqual(parseResponseHead(head('HTTP/1.1 200 OK\r\nContent-Length: 3'), 'GET').body, {
      kind: 'length',
      length: 3,
    });
    assert.deepEqual(parseResponseHead(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'), 'GET').body, {
      kind: 'chunked',
    });
    assert.deepEqual(
      parseResponseHead(head('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream'), 'POST')
        .body,
      {
        kind: 'close',
      },
    );
    assert.deepEqual(parseResponseHead(head('HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp'), 'POST').body, {
      kind: 'close',
    });
    assert.deepEqual(parseResponseHead(head('HTTP/1.1 204 No Content'), 'DELETE').body, { kind: 'none' });
    assert.deepEqual(parseResponseHead(head('HTTP/1.1 304 Not Modified'), 'POST').body, { kind: 'none' });
  });

  it('a HEAD answer has no body whatever its Content-Length says', () => {
    assert.deepEqual(parseResponseHead(head('HTTP/1.1 200 OK\r\nContent-Length: 2'), 'HEAD').body, {
      kind: 'none',
    });
  });

  it('keeps the received bytes unless a hop-by-hop header must go', () => {
    const plain = head('HTTP/1.1 200 OK\r\nApi-Version: 1.41');
    assert.equal(parseResponseHead(plain, 'GET').forward, plain);
    const withHop = head('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nApi-Version: 1.41');
    assert.equal(
      parseResponseHead(withHop, 'GET').forward.toString(),
      'HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n\r\n',
    );
  });

  it('refuses a response that is not HTTP/1.x', () => {
    assert.throws(
      () => parseResponseHead(head('SSH-2.0-OpenSSH'), 'GET'),
      (error) => isDockgateError(error, 'DG_ENGINE_PROTOCOL'),
    );
  });

  it('head_memo_regression: a remembered head is framed by its request method and forwards its own bytes', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nApi-Version: 1.41';
    const first = head(text);
    const second = head(text);
    assert.deepEqual(parseResponseHead(first, 'GET').body, { kind: 'length', length: 2 });
    // The same bytes answering HEAD carry no body, even right after the GET was remembered.
    assert.deepEqual(parseResponseHead(second, 'HEAD').body, { kind: 'none' });
    assert.deepEqual(parseResponseHead(second, 'GET').body, { kind: 'length', length: 2 });
    // What is forwarded is the head just received, not the one remembered.
    assert.equal(parseResponseHead(second, 'GET').forward, second);
    // A bad head is refused every time: failures are never remembered.
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => parseResponseHead(head('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2'), 'GET'),
        (error) => isDockgateError(error, 'DG_ENGINE_PROTOCOL'),
      );
    }
  });

  it('head_memo_regression: a flood of distinct heads keeps answering correctly past the memo size', () => {
    for (let i = 0; i < 500; i++) {
      assert.deepEqual(parseResponseHead(head(`HTTP/1.1 200 OK\r\nContent-Length: ${i + 1}`), 'GET').body, {
        kind: 'length',
        length: i + 1,
      });
    }
  });

  it('connection_close_regression: `Connection: close` where Go puts it, on final answers only, never twice', () => {
    const close = (text: string, status = 'HTTP/1.1 200 OK'): string =>
      parseResponseHead(head(`${status}\r\n${text}`), 'GET', true).forward.toString('latin1');
    assert.equal(
      close('Content-Length: 2'),
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
    );
    assert.equal(
      close('Content-Type: text/plain\r\nTransfer-Encoding: chunked'),
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    // Twice: the second comes from the remembered head, the same bytes.
    for (let i = 0; i < 2; i++) {
      assert.equal(
        close('Connection: close\r\nContent-Length: 0'),
        'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
    }
    assert.equal(close('X: y', 'HTTP/1.1 100 Continue'), 'HTTP/1.1 100 Continue\r\nX: y\r\n\r\n');
    // Without the flag the same head goes out as received.
    const plain = head('HTTP/1.1 200 OK\r\nContent-Length: 2');
    assert.equal(parseResponseHead(plain, 'GET').forward, plain);
  });
});
