import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDockgateError } from '../../src/errors.js';
import { BodyCursor } from '../../src/gateway/http/body-cursor.js';

describe('BodyCursor', () => {
  it('counts a Content-Length body down across reads and stops at its end', () => {
    const cursor = new BodyCursor('DG_BAD_REQUEST');
    cursor.start({ kind: 'length', length: 10 });
    assert.equal(cursor.advance(Buffer.from('xxabcdef'), 2), 8);
    assert.equal(cursor.complete, false);
    // The last 4 bytes of the body, then the next request's head.
    assert.equal(cursor.advance(Buffer.from('ghijGET / HTTP/1.1'), 0), 4);
    assert.equal(cursor.complete, true);
  });

  it('finds the end of a chunked body split anywhere, and starts over for the next one', () => {
    const cursor = new BodyCursor('DG_ENGINE_PROTOCOL');
    const body = Buffer.from('3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK');
    for (let split = 1; split < 13; split++) {
      cursor.start({ kind: 'chunked' });
      assert.equal(cursor.advance(body.subarray(0, split), 0), split, `split at ${split}`);
      assert.equal(cursor.complete, false);
      assert.equal(cursor.advance(body, split), 13);
      assert.equal(cursor.complete, true);
    }
  });

  it('malformed chunk framing throws the code it was made with', () => {
    for (const code of ['DG_BAD_REQUEST', 'DG_ENGINE_PROTOCOL'] as const) {
      const cursor = new BodyCursor(code);
      cursor.start({ kind: 'chunked' });
      assert.throws(
        () => cursor.advance(Buffer.from('zz\r\n'), 0),
        (error) => isDockgateError(error, code),
      );
    }
  });
});
