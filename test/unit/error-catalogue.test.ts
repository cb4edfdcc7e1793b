import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DockgateError, dockerErrorBody, ERRORS } from '../../src/errors.js';

describe('error catalogue', () => {
  it('lists the same codes, with the same statuses, as docs/errors.md', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Map(
      [...doc.matchAll(/^\| `(DG_[A-Z_]+)` +\| +(\d{3}|—) +\|/gm)].map((m) => [
        m[1],
        m[2] === '—' ? undefined : Number(m[2]),
      ]),
    );
    const catalogued = new Map(Object.entries(ERRORS).map(([code, entry]) => [code, entry.status]));
    assert.deepEqual(documented, catalogued);
  });

  it('gives every error its catalogue status', () => {
    assert.equal(new DockgateError('DG_HEADERS_TOO_LARGE', 'x').status, 431);
  });

  it('answers in Docker’s shape, with the request id', () => {
    assert.deepEqual(JSON.parse(dockerErrorBody('engine unreachable', 'r1')), {
      message: 'dockgate: engine unreachable (request r1)',
    });
  });
});
