import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isDockgateError } from '../../src/errors.js';
import { LOGIN_FAILURES, LOGIN_WINDOW_MS, LoginLimiter } from '../../src/monitor/auth/login-limiter.js';
import { MonitorUsers } from '../../src/monitor/auth/monitor-users.js';
import {
  SESSION_IDLE_MS,
  SESSION_MAX_MS,
  Sessions,
  sessionAuthenticator,
  sessionCookie,
} from '../../src/monitor/auth/sessions.js';
import { openDatabase } from '../../src/monitor/store/database.js';

const fresh = () => openDatabase(mkdtempSync(join(tmpdir(), 'dockgate-auth-')));
const PASSWORD = 'correct horse battery';

describe('monitor users', () => {
  it('stores an argon2id hash, never the password; checks it; an unknown name and a wrong password both fail', async () => {
    const db = fresh();
    const users = new MonitorUsers(db);
    await users.add('alice', 'operator', PASSWORD);
    const stored = db.prepare('SELECT password FROM users').pluck().get() as string;
    assert.match(stored, /^\$argon2id\$/);
    assert.ok(!stored.includes(PASSWORD));
    assert.deepEqual(await users.check('alice', PASSWORD), { name: 'alice', role: 'operator' });
    assert.equal(await users.check('alice', 'correct horse batterY'), undefined);
    assert.equal(await users.check('mallory', PASSWORD), undefined);
    assert.equal(await users.check('alice', 'x'.repeat(5000)), undefined, 'an oversized password is no work');
    db.close();
  });

  it('refuses short passwords, bad names and unknown roles with a clear message', async () => {
    const users = new MonitorUsers(fresh());
    await assert.rejects(users.add('alice', 'viewer', 'short'), /at least 10 characters/);
    await assert.rejects(users.add('../alice', 'viewer', PASSWORD), /letters, digits/);
    await assert.rejects(users.add('alice', 'root', PASSWORD), /--role must be one of/);
  });

  it('a role change applies to an open session; a new password or removing the user ends it', async () => {
    const db = fresh();
    const users = new MonitorUsers(db);
    const sessions = new Sessions(db);
    await users.add('alice', 'viewer', PASSWORD);
    const one = sessions.create('alice');
    assert.equal(sessions.find(one.id)?.role, 'viewer');
    db.prepare("UPDATE users SET role = 'admin' WHERE name = 'alice'").run();
    assert.equal(sessions.find(one.id)?.role, 'admin', 'the role is read per request');
    await users.add('alice', 'operator', 'another long password');
    assert.equal(sessions.find(one.id), undefined, 'a new password ends the sessions');
    const two = sessions.create('alice');
    assert.ok(users.remove('alice'));
    assert.equal(sessions.find(two.id), undefined, 'removing the user ends the sessions');
    assert.equal(users.remove('alice'), false);
  });
});

describe('sessions', () => {
  it('store only a hash of the cookie; end after 12 h unused or 7 days in all', async () => {
    const db = fresh();
    await new MonitorUsers(db).add('alice', 'viewer', PASSWORD);
    const sessions = new Sessions(db);
    const t0 = 1_000_000_000_000;
    const s = sessions.create('alice', t0);
    assert.equal(db.prepare('SELECT count(*) FROM sessions WHERE hash = ?').pluck().get(s.id), 0);
    assert.equal(sessions.find(s.id, t0 + SESSION_IDLE_MS - 1)?.user, 'alice');
    // Used just now (touched): idle counts from the last use.
    let t = t0 + SESSION_IDLE_MS - 1;
    while (t < t0 + SESSION_MAX_MS - 3_600_000) {
      t += SESSION_IDLE_MS - 120_000;
      assert.equal(sessions.find(s.id, t)?.user, 'alice', 'in use, still on');
    }
    assert.equal(sessions.find(s.id, t0 + SESSION_MAX_MS + 1), undefined, 'ends 7 days after sign-in');
    const idle = sessions.create('alice', t0);
    assert.equal(sessions.find(idle.id, t0 + SESSION_IDLE_MS + 1), undefined, 'ends after 12 h unused');
    sessions.end(s.id);
    assert.equal(sessions.find(s.id, t0), undefined);
  });

  it('the cookie is read from a Cookie header among others', () => {
    assert.equal(sessionCookie('a=1; dockgate_session=abc; b=2'), 'abc');
    assert.equal(sessionCookie(['x=1', 'dockgate_session=def']), 'def');
    assert.equal(sessionCookie('dockgate_sessionx=abc'), undefined);
    assert.equal(sessionCookie(undefined), undefined);
  });

  it("csrf_regression: a change with the cookie but without the session's X-CSRF-Token is refused; reads and sign-in are not", async () => {
    const db = fresh();
    await new MonitorUsers(db).add('alice', 'operator', PASSWORD);
    const sessions = new Sessions(db);
    const auth = sessionAuthenticator(sessions);
    const s = sessions.create('alice');
    const cookie = `dockgate_session=${s.id}`;
    assert.equal(auth.authenticate({ cookie, method: 'GET' })?.role, 'operator');
    for (const csrf of [undefined, '', 'forged', `${s.csrf}x`, [s.csrf, s.csrf]]) {
      assert.throws(
        () => auth.authenticate({ cookie, method: 'POST', csrf }),
        (e) => isDockgateError(e, 'DG_CSRF'),
      );
    }
    assert.throws(
      () => auth.authenticate({ cookie, method: 'DELETE' }),
      (e) => isDockgateError(e, 'DG_CSRF'),
    );
    assert.equal(auth.authenticate({ cookie, method: 'POST', csrf: s.csrf })?.name, 'alice');
    assert.equal(auth.authenticate({ cookie, method: 'POST', csrfExempt: true })?.name, 'alice');
    assert.equal(auth.authenticate({ cookie: 'dockgate_session=forged', method: 'POST' }), undefined);
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
