import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDockgateError } from '../../src/errors.js';
import { describeStore, parseStoreUrl } from '../../src/monitor/store/store-url.js';

describe('--store URL', () => {
  it('sqlite: in --data by default, sqlite:DIR, postgres:// with a host or a socket directory', () => {
    assert.deepEqual(parseStoreUrl(undefined, '/data'), { kind: 'sqlite', dir: '/data' });
    assert.deepEqual(parseStoreUrl('sqlite:', '/data'), { kind: 'sqlite', dir: '/data' });
    assert.deepEqual(parseStoreUrl('sqlite:/var/lib/x', '/data'), { kind: 'sqlite', dir: '/var/lib/x' });
    for (const url of [
      'postgres://dockgate:secret@db:5432/dockgate?sslmode=verify-full',
      'postgresql://db/dockgate',
      // store_url_socket_regression: no host before the path, which WHATWG URL refuses.
      'postgres://dockgate@/dockgate?host=/run/postgresql',
      'postgres://postgres@/x?host=%2Ftmp%2Fpg&port=5433',
    ])
      assert.deepEqual(parseStoreUrl(url, '/data'), { kind: 'postgres', url });
  });

  it('anything else stops the monitor with the forms it takes; a password is never echoed', () => {
    for (const bad of [
      'mysql://db/x',
      'postgres://db',
      'postgres://db/',
      'redis:',
      'postgres://u:hunter2@db',
    ]) {
      assert.throws(
        () => parseStoreUrl(bad, '/data'),
        (error) =>
          isDockgateError(error, 'DG_CONFIG_INVALID') &&
          !String((error as Error).message).includes('hunter2'),
        bad,
      );
    }
    assert.equal(
      describeStore({ kind: 'postgres', url: 'postgres://u:hunter2@db/x' }),
      'postgres://u:***@db/x',
    );
  });
});
