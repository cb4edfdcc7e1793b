import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOGIN_FAILURES, LOGIN_WINDOW_MS, LoginLimiter } from '../../src/monitor/auth/login-limiter.js';
import { MonitorUsers } from '../../src/monitor/auth/monitor-users.js';
import { sessionCookie } from '../../src/monitor/auth/sessions.js';

describe('sessions', () => {
  it('the cookie is read from a Cookie header among others', () => {
    assert.equal(sessionCookie('a=1; dockgate_session=abc; b=2'), 'abc');
    assert.equal(sessionCookie(['x=1', 'dockgate_session=def']), 'def');
    assert.equal(sessionCookie('dockgate_sessionx=abc'), undefined);
    assert.equal(sessionCookie(undefined), undefined);
  });

  it('refuses short passwords, bad names and unknown roles with a clear message (before any store is asked)', async () => {
    const users = new MonitorUsers(undefined as never);
    await assert.rejects(users.add('alice', 'viewer', 'short'), /at least 10 characters/);
    await assert.rejects(users.add('../alice', 'viewer', 'correct horse battery'), /letters, digits/);
    await assert.rejects(users.add('alice', 'root', 'correct horse battery'), /--role must be one of/);
  });
});

describe('login limiter', () => {
  it('login_rate_limit_regression: 5 failures per address or per name in 15 min, then a wait; a success clears', () => {
    let now = 0;
    const limiter = new LoginLimiter(() => now);
    for (let i = 0; i < LOGIN_FAILURES; i++) {
      assert.equal(limiter.retryAfter('10.0.0.1', 'alice'), 0);
      limiter.failed('10.0.0.1', 'alice');
      now += 1000;
    }
    assert.equal(limiter.retryAfter('10.0.0.1', 'alice'), LOGIN_WINDOW_MS / 1000 - 5);
    assert.ok(limiter.retryAfter('10.0.0.2', 'alice') > 0, 'the name is limited from any address');
    assert.ok(limiter.retryAfter('10.0.0.1', 'bob') > 0, 'the address is limited for any name');
    assert.equal(limiter.retryAfter('10.0.0.2', 'bob'), 0);
    now += LOGIN_WINDOW_MS;
    assert.equal(limiter.retryAfter('10.0.0.1', 'alice'), 0, 'the window passed');
    for (let i = 0; i < LOGIN_FAILURES - 1; i++) limiter.failed('10.0.0.3', 'carol');
    limiter.succeeded('10.0.0.3', 'carol');
    limiter.failed('10.0.0.3', 'carol');
    assert.equal(limiter.retryAfter('10.0.0.3', 'carol'), 0, 'a success starts the count again');
  });

  it('a flood of addresses cannot grow it without end', () => {
    const limiter = new LoginLimiter(() => 0);
    for (let i = 0; i < 30_000; i++) limiter.failed(`a${i}`, `n${i % 7}`);
    // Names stay limited through the flood (they are among the newest keys).
    assert.ok(limiter.retryAfter('fresh', 'n1') > 0);
  });
});
