import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideHead } from '../../src/policy/decide.js';
import { HeadMemo } from '../../src/policy/head-memo.js';
import { compileProfiles } from '../../src/policy/profile.js';

const profiles = compileProfiles({});
const profile = (name: string) => {
  const found = profiles.get(name);
  if (found === undefined) throw new Error(`no profile ${name}`);
  return found;
};

describe('policy head memo', () => {
  it('head_memo_regression: answers what decideHead answers, per profile, method, target and body', () => {
    const memo = new HeadMemo(false);
    const cases: [string, string, string, boolean][] = [
      ['read-only', 'GET', '/_ping', false],
      ['read-only', 'POST', '/containers/create', true],
      ['deploy', 'POST', '/containers/create', true],
      ['deploy', 'POST', '/containers/create', false],
      ['read-only', 'GET', '/v1.41/containers/%2e%2e/json', false],
      ['deploy', 'GET', '/containers//json', false],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [name, method, target, body] of cases) {
        assert.deepEqual(
          memo.decide(profile(name), method, target, body),
          decideHead(profile(name), method, target, body),
          `${name} ${method} ${target} body=${body} (round ${round})`,
        );
      }
    }
  });

  it('head_memo_regression: a reloaded profile is decided afresh, never from the old one', () => {
    const memo = new HeadMemo(false);
    const before = compileProfiles({}).get('read-only');
    // The same name compiled again, as a reload does, now allowing stop.
    const after = compileProfiles({
      'read-only': { rules: [{ allow: 'GET,POST /**' }] },
    }).get('read-only');
    assert.ok(before !== undefined && after !== undefined);
    assert.equal(memo.decide(before, 'POST', '/containers/x/stop', false).kind, 'deny');
    assert.equal(memo.decide(after, 'POST', '/containers/x/stop', false).kind, 'allow');
  });

  it('head_memo_regression: a flood of distinct targets stays correct past the memo size', () => {
    const memo = new HeadMemo(false);
    const readOnly = profile('read-only');
    for (let i = 0; i < 3000; i++) {
      assert.equal(memo.decide(readOnly, 'GET', `/containers/c${i}/json`, false).kind, 'allow');
      assert.equal(memo.decide(readOnly, 'DELETE', `/containers/c${i}`, false).kind, 'deny');
    }
    const long = `/containers/${'x'.repeat(400)}/json`;
    assert.equal(memo.decide(readOnly, 'GET', long, false).kind, 'allow');
  });
});
