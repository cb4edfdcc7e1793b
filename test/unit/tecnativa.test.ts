import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, decideBody, decideHead } from '../../src/policy/decide.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { tecnativaProfile } from '../../src/policy/tecnativa.js';

function decider(env: Record<string, string>): (method: string, path: string) => string {
  const settings = tecnativaProfile(env);
  const policy = compilePolicy(
    { profiles: { tecnativa: settings.profile }, identities: {}, listeners: {} },
    [],
    1,
  );
  const profile = policy.profiles.get('tecnativa');
  assert.ok(profile);
  return (method, path) => {
    const { decision } = decide(profile, method, path, undefined, 'x');
    return decision.allow ? 'allow' : `deny ${decision.status}`;
  };
}

describe('--tecnativa-env: docker-socket-proxy variables → a profile', () => {
  it('defaults: EVENTS, PING, VERSION on; everything else off; GET only', () => {
    const d = decider({});
    assert.equal(d('GET', '/v1.41/events'), 'allow');
    assert.equal(d('HEAD', '/_ping'), 'allow');
    assert.equal(d('GET', '/version'), 'allow');
    assert.equal(d('GET', '/containers/json'), 'deny 403');
    assert.equal(d('POST', '/containers/create'), 'deny 403');
  });

  it('CONTAINERS=1 with POST=0: reads only, and no file contents through archive/export (Tecnativa#182)', () => {
    const d = decider({ CONTAINERS: '1' });
    assert.equal(d('GET', '/containers/json'), 'allow');
    assert.equal(d('GET', '/containers/abc/logs'), 'allow');
    assert.equal(d('GET', '/containers/abc/archive'), 'deny 403');
    assert.equal(d('GET', '/containers/abc/export'), 'deny 403');
    // 403, not 405: what Tecnativa's HAProxy answers (tecnativa_403_regression).
    assert.equal(d('POST', '/containers/abc/start'), 'deny 403');
  });

  it('ALLOW_START, ALLOW_STOP, ALLOW_RESTARTS work without POST=1 (Tecnativa#101)', () => {
    const d = decider({ ALLOW_START: '1', ALLOW_STOP: '1', ALLOW_RESTARTS: '1' });
    for (const verb of ['start', 'stop', 'restart', 'kill'])
      assert.equal(d('POST', `/containers/abc/${verb}`), 'allow', verb);
    assert.equal(d('POST', '/containers/abc/pause'), 'deny 403');
  });

  it('POST=1 opens writes on the enabled sections, with bodies still inspected', () => {
    const settings = tecnativaProfile({ CONTAINERS: '1', POST: '1' });
    const policy = compilePolicy(
      { profiles: { tecnativa: settings.profile }, identities: {}, listeners: {} },
      [],
      1,
    );
    const profile = policy.profiles.get('tecnativa');
    assert.ok(profile);
    const head = decideHead(profile, 'POST', '/containers/create', true);
    assert.equal(head.kind, 'allow');
    if (head.kind === 'allow') {
      const outcome = decideBody(profile, head, Buffer.from('{"HostConfig":{"Privileged":true}}'), 'x');
      assert.equal(outcome.kind, 'deny');
    }
    assert.equal(tecnativaProfile({ CONTAINERS: '1', POST: '1', INSPECT: '0' }).profile.inspect, false);
  });

  it('SOCKET_PATH and LOG_LEVEL map onto --upstream and --log-level; bad flags fail loudly', () => {
    const settings = tecnativaProfile({ SOCKET_PATH: '/run/docker.sock', LOG_LEVEL: 'warning' });
    assert.equal(settings.upstream, 'unix:///run/docker.sock');
    assert.equal(settings.logLevel, 'warn');
    assert.throws(() => tecnativaProfile({ CONTAINERS: 'maybe' }), /CONTAINERS=maybe: use 1 or 0/);
  });
});
