import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ErrorCode, isDockgateError } from '../../src/errors.js';
import { engineRequestHead, parseRequestHead } from '../../src/gateway/http/request-head.js';

const head = (text: string): Buffer => Buffer.from(`${text}\r\n\r\n`, 'latin1');
const rejects = (text: string, code: ErrorCode): void => {
  assert.throws(
    () => parseRequestHead(head(text)),
    (error) => isDockgateError(error, code),
  );
};

describe('parseRequestHead', () => {
  it('reads method, target, version, headers and keep-alive', () => {
    const request = parseRequestHead(
      head('GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: x'),
    );
    assert.equal(request.method, 'GET');
    assert.equal(request.target, '/v1.41/containers/json?all=1');
    assert.equal(request.version, '1.1');
    assert.deepEqual(request.headers, ['Host', 'docker', 'User-Agent', 'x']);
    assert.equal(request.keepAlive, true);
    assert.deepEqual(request.body, { kind: 'none' });
  });

  it('reads Content-Length and chunked bodies', () => {
    assert.deepEqual(parseRequestHead(head('POST / HTTP/1.1\r\nContent-Length: 12')).body, {
      kind: 'length',
      length: 12,
    });
    assert.deepEqual(parseRequestHead(head('POST / HTTP/1.1\r\nTransfer-Encoding: Chunked')).body, {
      kind: 'chunked',
    });
  });

  it('sees an upgrade only with Connection: upgrade', () => {
    assert.equal(
      parseRequestHead(head('POST /exec/1/start HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp')).upgrade,
      'tcp',
    );
    assert.equal(parseRequestHead(head('POST /exec/1/start HTTP/1.1\r\nUpgrade: tcp')).upgrade, undefined);
  });

  it('HTTP/1.0 closes unless keep-alive is asked', () => {
    assert.equal(parseRequestHead(head('GET / HTTP/1.0')).keepAlive, false);
    assert.equal(parseRequestHead(head('GET / HTTP/1.0\r\nConnection: keep-alive')).keepAlive, true);
  });

  // Request smuggling (RFC 9112 §6.3, §11.2): each framing ambiguity is refused, never guessed.
  it('closeOnly: HTTP/1.1 with `Connection: close` and no other token (the engine connection may be kept)', () => {
    assert.equal(parseRequestHead(head('GET / HTTP/1.1\r\nConnection: close')).closeOnly, true);
    assert.equal(
      parseRequestHead(head('GET / HTTP/1.1\r\nConnection: close\r\nConnection: close')).closeOnly,
      true,
    );
    assert.equal(parseRequestHead(head('GET / HTTP/1.1\r\nConnection: close, X-Trace')).closeOnly, false);
    assert.equal(parseRequestHead(head('GET / HTTP/1.1')).closeOnly, false);
    assert.equal(parseRequestHead(head('GET / HTTP/1.0\r\nConnection: close')).closeOnly, false);
  });

  it('smuggling: Content-Length together with Transfer-Encoding (CL.TE)', () => {
    rejects('POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked', 'DG_REQUEST_SMUGGLING');
  });
  it('smuggling: two Content-Length headers, even equal ones', () => {
    rejects('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5', 'DG_REQUEST_SMUGGLING');
  });
  it('smuggling: a Content-Length list or sign', () => {
    rejects('POST / HTTP/1.1\r\nContent-Length: 5, 5', 'DG_REQUEST_SMUGGLING');
    rejects('POST / HTTP/1.1\r\nContent-Length: +5', 'DG_REQUEST_SMUGGLING');
  });
  it('smuggling: two Transfer-Encoding headers', () => {
    rejects(
      'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
      'DG_REQUEST_SMUGGLING',
    );
  });
  it('smuggling: chunked on HTTP/1.0', () => {
    rejects('POST / HTTP/1.0\r\nTransfer-Encoding: chunked', 'DG_REQUEST_SMUGGLING');
  });
  it('smuggling: whitespace between header name and colon', () => {
    rejects('POST / HTTP/1.1\r\nTransfer-Encoding : chunked', 'DG_BAD_REQUEST');
  });
  it('smuggling: obsolete line folding', () => {
    rejects('POST / HTTP/1.1\r\nX-A: 1\r\n Transfer-Encoding: chunked', 'DG_BAD_REQUEST');
  });
  it('smuggling: a bare LF inside the head', () => {
    rejects('POST / HTTP/1.1\nContent-Length: 5\r\nX: y', 'DG_BAD_REQUEST');
  });
  it('smuggling: a NUL or other control character in a value', () => {
    rejects('GET / HTTP/1.1\r\nX-A: a\u0000b', 'DG_BAD_REQUEST');
  });

  it('refuses codings other than chunked with 501', () => {
    rejects('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked', 'DG_NOT_IMPLEMENTED');
  });
  it('refuses HTTP/2.0 with 505 and garbage with 400', () => {
    rejects('GET / HTTP/2.0', 'DG_HTTP_VERSION');
    rejects('GET / HTTX/1.1', 'DG_BAD_REQUEST');
    rejects('GET  / HTTP/1.1', 'DG_BAD_REQUEST');
    rejects('GET http://docker/info HTTP/1.1', 'DG_BAD_REQUEST');
    rejects('G(T / HTTP/1.1', 'DG_BAD_REQUEST');
  });
});

describe('engineRequestHead', () => {
  it('forwards the very bytes received when nothing changes', () => {
    const bytes = head('GET /info HTTP/1.1\r\nHost: docker');
    assert.equal(engineRequestHead(bytes, parseRequestHead(bytes), ''), bytes);
  });

  it('drops hop-by-hop headers and those named by Connection, keeps Upgrade', () => {
    const bytes = head(
      'POST /exec/1/start HTTP/1.1\r\nHost: d\r\nProxy-Authorization: Basic x\r\nConnection: Upgrade, X-Hop\r\nUpgrade: tcp\r\nX-Hop: 1\r\nKeep-Alive: timeout=5',
    );
    assert.equal(
      engineRequestHead(bytes, parseRequestHead(bytes), '').toString(),
      'POST /exec/1/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade, X-Hop\r\nUpgrade: tcp\r\n\r\n',
    );
  });

  it('head_memo_regression: a remembered rebuild is per change: keep-alive, base path, target', () => {
    const bytes = head('GET /_ping HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer dg_x\r\nConnection: close');
    const request = parseRequestHead(bytes);
    for (let round = 0; round < 2; round++) {
      assert.equal(
        engineRequestHead(bytes, request, '').toString(),
        'GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
      );
      assert.equal(
        engineRequestHead(bytes, request, '', { keepAlive: true }).toString(),
        'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n',
      );
      assert.equal(
        engineRequestHead(bytes, request, '/docker', { keepAlive: true }).toString(),
        'GET /docker/_ping HTTP/1.1\r\nHost: d\r\n\r\n',
      );
      assert.equal(
        engineRequestHead(bytes, request, '', { target: '/v1.41/_ping' }).toString(),
        'GET /v1.41/_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
      );
    }
  });

  it('puts the target under the engine base path', () => {
    const bytes = head('GET /_ping HTTP/1.1\r\nHost: d');
    assert.equal(
      engineRequestHead(bytes, parseRequestHead(bytes), '/docker').toString(),
      'GET /docker/_ping HTTP/1.1\r\nHost: d\r\n\r\n',
    );
  });
});

describe('parseRequestHead: remembered heads', () => {
  it('head_memo_regression: the same bytes parse to the same request, and a refused head stays refused', () => {
    const text = 'GET /v1.41/containers/json HTTP/1.1\r\nHost: docker';
    const first = parseRequestHead(head(text));
    assert.equal(parseRequestHead(head(text)), first);
    assert.equal(first.target, '/v1.41/containers/json');
    for (let i = 0; i < 2; i++)
      rejects('POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked', 'DG_REQUEST_SMUGGLING');
  });

  it('head_memo_regression: heads differing by one byte are parsed apart', () => {
    assert.equal(parseRequestHead(head('GET / HTTP/1.1\r\nConnection: close')).closeOnly, true);
    assert.equal(parseRequestHead(head('GET / HTTP/1.1\r\nConnection: closE')).closeOnly, true);
    assert.equal(parseRequestHead(head('GET / HTTP/1.1\r\nConnection: close, te')).closeOnly, false);
    assert.equal(parseRequestHead(head('GET / HTTP/1.0\r\nConnection: close')).closeOnly, false);
  });
});
