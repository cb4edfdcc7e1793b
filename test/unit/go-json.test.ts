import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldKey, GoJsonError, GoObject, parseGoJson } from '../../src/policy/go-json.js';

const obj = (text: string): GoObject => {
  const value = parseGoJson(text);
  assert.ok(value instanceof GoObject);
  return value;
};

describe('parseGoJson: read a body as dockerd’s encoding/json does', () => {
  it('matches field names case-insensitively', () => {
    assert.equal(obj('{"privileged":true}').field('Privileged'), true);
    assert.equal(obj('{"PRIVILEGED":true}').field('Privileged'), true);
  });

  it('the last key folding to a field wins, whatever its spelling', () => {
    assert.equal(obj('{"Privileged":true,"privileged":false}').field('Privileged'), false);
    assert.equal(obj('{"Privileged":false,"privileged":true}').field('Privileged'), true);
    assert.equal(obj('{"Privileged":true,"privileged":false,"Privileged":true}').field('Privileged'), true);
  });

  it('folds like Go: long s (U+017F) is s, the Kelvin sign (U+212A) is k', () => {
    assert.equal(foldKey('Bind\u017f'), 'binds');
    assert.equal(foldKey('Networ\u212aMode'), 'networkmode');
    assert.deepEqual(obj('{"Bind\\u017f":["/:/h"]}').field('Binds'), ['/:/h']);
  });

  it('decodes escapes before matching, including surrogate pairs', () => {
    assert.equal(obj('{"\\u0050rivileged":true}').field('Privileged'), true);
    assert.equal(obj('{"a":"\\ud83d\\ude00\\n\\t\\"\\\\\\/"}').field('a'), '😀\n\t"\\/');
  });

  it('refuses what Go would read differently or not at all', () => {
    for (const bad of [
      '{"a":1} {"b":2}',
      '{"a":1,}',
      '[1,]',
      '{a:1}',
      "{'a':1}",
      '{"a":01}',
      '{"a":"\u0001"}',
      '{"a":tru}',
      '',
      '{"a":"\\x41"}',
      'NaN',
    ]) {
      assert.throws(() => parseGoJson(bad), GoJsonError, bad);
    }
  });

  it('keeps duplicate entries in order; map-typed fields keep exact keys (last wins)', () => {
    const labels = obj('{"L":{"a":"1","A":"2","a":"3"}}').field('L');
    assert.ok(labels instanceof GoObject);
    assert.deepEqual(
      [...labels.asMap()],
      [
        ['a', '3'],
        ['A', '2'],
      ],
    );
  });

  it('refuses nesting deeper than Go’s limit allows for a request', () => {
    assert.throws(() => parseGoJson(`${'['.repeat(600)}${']'.repeat(600)}`), /nesting too deep/);
  });
});
