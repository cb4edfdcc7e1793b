import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseTarget } from '../../src/policy/normalize.js';

const ok = (
  target: string,
): { path: string; versionPrefix: string; query: string; rewritten: boolean; canonicalTarget: string } => {
  const n = normaliseTarget(target);
  assert.ok(n.ok, `${target}: ${n.ok ? '' : n.reason}`);
  return n.target;
};
const refused = (target: string, why: RegExp): void => {
  const n = normaliseTarget(target);
  assert.equal(n.ok, false, target);
  if (!n.ok) assert.match(n.reason, why);
};

describe('normaliseTarget: one spelling per path, ambiguity refused', () => {
  it('strips the API version prefix and keeps the query as sent', () => {
    assert.deepEqual(ok('/v1.41/containers/json?all=1&filters=%7B%7D'), {
      path: '/containers/json',
      versionPrefix: '/v1.41',
      query: 'all=1&filters=%7B%7D',
      rewritten: false,
      canonicalTarget: '/v1.41/containers/json?all=1&filters=%7B%7D',
    });
    assert.equal(ok('/_ping').path, '/_ping');
    assert.equal(ok('/v1.41').path, '/');
  });

  it('percent-decodes, %2F included (dockerd routes the decoded path)', () => {
    assert.equal(ok('/containers%2Fcreate').path, '/containers/create');
    assert.equal(ok('/images/library%2Fbusybox%3A1/json').path, '/images/library/busybox:1/json');
  });

  it('collapses repeated slashes and forwards the collapsed path', () => {
    const n = ok('/v1.41//containers///json?x=1');
    assert.equal(n.path, '/containers/json');
    assert.equal(n.rewritten, true);
    assert.equal(n.canonicalTarget, '/v1.41/containers/json?x=1');
  });

  it('refuses dot segments, plain or encoded', () => {
    for (const t of [
      '/containers/../create',
      '/containers/%2e%2e/create',
      '/./_ping',
      '/containers/%2E/json',
      '/a/..',
    ])
      refused(t, /dot segment/);
  });

  it('refuses version-prefix tricks', () => {
    refused('/v1.41/v1.40/containers/json', /repeated API version prefix/);
    refused('/%761.41/containers/json', /percent-encoded API version prefix/);
    refused('/v1.41%2Fcontainers/json', /percent-encoded API version prefix/);
  });

  it('refuses encoded controls, NUL, "?", backslashes, fragments and broken escapes', () => {
    for (const t of [
      '/containers%00/json',
      '/containers%3F/json',
      '/containers\\json',
      '/containers%5Cjson',
      '/a#b',
      '/a%zz',
      '/a%',
    ]) {
      assert.equal(normaliseTarget(t).ok, false, t);
    }
  });
});
