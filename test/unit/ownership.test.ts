import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideBody, decideHead } from '../../src/policy/decide.js';
import { type GoObject, parseGoJson } from '../../src/policy/go-json.js';
import { labelBody, ownerBuildLabels, ownerFilter } from '../../src/policy/ownership.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { referencedContainers } from '../../src/policy/references.js';

const policy = compilePolicy(
  { profiles: { team: { extends: 'deploy', ownership: true } }, identities: {}, listeners: {} },
  [],
  1,
);
const team = policy.profiles.get('team');
assert.ok(team);

function effects(method: string, target: string, body?: string) {
  assert.ok(team);
  const raw = body === undefined ? undefined : Buffer.from(body);
  const head = decideHead(team, method, target, raw !== undefined);
  assert.equal(head.kind, 'allow', target);
  if (head.kind !== 'allow') throw new Error('denied');
  const outcome = decideBody(team, head, raw, 'alice');
  assert.equal(outcome.kind, 'allow');
  if (outcome.kind !== 'allow') throw new Error('denied');
  return outcome.effects;
}

describe('ownership rewrites', () => {
  it('lists, prunes and events get the owner filter, combined with the caller’s own (either filter form)', () => {
    for (const path of [
      '/v1.41/containers/json',
      '/v1.41/volumes',
      '/v1.41/networks',
      '/v1.41/events',
      '/v1.41/containers/prune',
      '/v1.41/volumes/prune',
      '/v1.41/networks/prune',
    ]) {
      const method = path.endsWith('prune') ? 'POST' : 'GET';
      const target = effects(
        method,
        `${path}?filters=${encodeURIComponent('{"status":["running"]}')}`,
      ).target;
      assert.ok(target?.startsWith(`${path}?`), `${path}: ${target}`);
      const filters = JSON.parse(new URLSearchParams(target?.split('?')[1]).get('filters') ?? '{}');
      assert.deepEqual(filters, { status: { running: true }, label: { 'dockgate.owner=alice': true } });
    }
    const mapForm = ownerFilter('filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D&all=1', 'bob');
    assert.deepEqual(JSON.parse(new URLSearchParams(mapForm).get('filters') ?? ''), {
      label: { 'a=b': true, 'dockgate.owner=bob': true },
    });
    assert.equal(new URLSearchParams(mapForm).get('all'), '1');
  });

  it('a repeated or malformed filters parameter is refused, not guessed', () => {
    assert.equal(ownerFilter('filters=%7B%7D&filters=%7B%7D', 'a'), undefined);
    assert.equal(ownerFilter('filters=nope', 'a'), undefined);
    assert.ok(team);
    const head = decideHead(team, 'GET', '/containers/json?filters={}&filters={}', false);
    assert.ok(head.kind === 'allow');
    if (head.kind === 'allow') assert.equal(decideBody(team, head, undefined, 'a').kind, 'deny');
  });

  it('builds get the owner label in the labels query parameter', () => {
    const target = effects('POST', '/v1.41/build?t=app&labels=%7B%22x%22%3A%221%22%7D').target;
    assert.deepEqual(JSON.parse(new URLSearchParams(target?.split('?')[1]).get('labels') ?? ''), {
      x: '1',
      'dockgate.owner': 'alice',
    });
    assert.equal(
      JSON.parse(new URLSearchParams(ownerBuildLabels('', 'b')).get('labels') ?? '')['dockgate.owner'],
      'b',
    );
  });

  it('creates of containers, volumes and networks are labelled; every spelling of Labels collapses to one', () => {
    for (const path of ['/containers/create', '/volumes/create', '/networks/create']) {
      const body = effects(
        'POST',
        path,
        '{"Name":"n","labels":{"dockgate.owner":"mallory","keep":"1"}}',
      ).body;
      assert.ok(body);
      assert.deepEqual(JSON.parse(body.toString()).Labels, { keep: '1', 'dockgate.owner': 'alice' });
    }
    const labelled = labelBody(parseGoJson('{"Labels":{"keep":"1"},"Image":"x"}') as GoObject, 'alice');
    assert.deepEqual(JSON.parse(labelled.toString()), {
      Image: 'x',
      Labels: { keep: '1', 'dockgate.owner': 'alice' },
    });
  });

  it('per-object routes ask for an owner check; referenced containers of a create too', () => {
    assert.deepEqual(effects('POST', '/containers/abc/start').ownerChecks, [
      { kind: 'container', id: 'abc' },
    ]);
    assert.deepEqual(effects('DELETE', '/volumes/data').ownerChecks, [{ kind: 'volume', id: 'data' }]);
    assert.deepEqual(effects('POST', '/exec/e1/start', '{}').ownerChecks, [{ kind: 'exec', id: 'e1' }]);
    assert.deepEqual(effects('DELETE', '/images/team/app:1').ownerChecks, [
      { kind: 'image', id: 'team/app:1' },
    ]);
    assert.deepEqual(effects('GET', '/images/team/app:1/json').ownerChecks, []);
    assert.deepEqual(
      referencedContainers(
        parseGoJson(
          '{"HostConfig":{"VolumesFrom":["a:ro"],"NetworkMode":"container:b","IpcMode":"container:c"}}',
        ) as GoObject,
      ).map((r) => r.ref),
      ['a', 'b', 'c'],
    );
  });

  it('ownership_join_regression: a create asks whose volumes, networks and linked containers it joins; a connect whose container', () => {
    const created = effects(
      'POST',
      '/containers/create',
      JSON.stringify({
        Image: 'busybox',
        HostConfig: {
          NetworkMode: 'theirs',
          Binds: ['data:/x:ro'],
          Mounts: [
            { Type: 'volume', Source: 'cache', Target: '/c' },
            { Type: 'volume', Target: '/anon' },
          ],
          Links: ['/db:db'],
        },
        NetworkingConfig: { EndpointsConfig: { bridge: {}, other: { Links: ['web:w'] } } },
      }),
    );
    assert.deepEqual(created.ownerChecks, [
      { kind: 'volume', id: 'data', createIfMissing: true },
      { kind: 'volume', id: 'cache', createIfMissing: true },
      { kind: 'network', id: 'theirs' },
      { kind: 'network', id: 'other' },
      { kind: 'container', id: 'db' },
      { kind: 'container', id: 'web' },
    ]);
    // Predefined networks are nobody's: no check.
    assert.deepEqual(
      effects('POST', '/containers/create', '{"Image":"busybox","HostConfig":{"NetworkMode":"none"}}')
        .ownerChecks,
      [],
    );
    assert.deepEqual(effects('POST', '/networks/mine/connect', '{"Container":"hers"}').ownerChecks, [
      { kind: 'container', id: 'hers' },
      { kind: 'network', id: 'mine' },
    ]);
  });
});
