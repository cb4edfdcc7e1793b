import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDockgateError } from '../../src/errors.js';
import { ChunkedScanner } from '../../src/gateway/http/chunked-scanner.js';

/** Feeds `body` in pieces of `step` bytes; returns the offset where the body ended, or -1. */
function endOf(body: string, step: number): number {
  const scanner = new ChunkedScanner('DG_BAD_REQUEST');
  const bytes = Buffer.from(body, 'latin1');
  for (let offset = 0; offset < bytes.length; offset += step) {
    const piece = bytes.subarray(offset, offset + step);
    const end = scanner.scan(piece, 0);
    if (end >= 0) return offset + end;
  }
  return -1;
}

describe('ChunkedScanner', () => {
  const body = '5\r\nhello\r\n1A;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n';

  for (const step of [1, 2, 3, 7, 1000]) {
    it(`finds the end of a body fed ${step} byte(s) at a time, trailers included`, () => {
      assert.equal(endOf(`${body}GET / HTTP/1.1`, step), body.length);
    });
  }

  it('stops at the end and leaves the next message alone', () => {
    const scanner = new ChunkedScanner('DG_BAD_REQUEST');
    const bytes = Buffer.from('0\r\n\r\nNEXT');
    assert.equal(scanner.scan(bytes, 0), 5);
    assert.equal(scanner.done, true);
  });

  it('says -1 while the body goes on', () => {
    assert.equal(endOf('10\r\n0123456789', 100), -1);
  });

  for (const [name, bad] of [
    ['a size that is not hex', 'zz\r\n'],
    ['a size with no digits', ';x\r\n'],
    ['a missing CRLF after the data', '2\r\nabXY'],
    ['a bare LF after the size', '2\nab\r\n'],
    ['a size over 13 hex digits', 'fffffffffffffff\r\n'],
  ] as const) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => endOf(bad, 1),
        (error) => isDockgateError(error, 'DG_BAD_REQUEST'),
      );
    });
  }
});
