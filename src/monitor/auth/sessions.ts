import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Clock, systemClock } from '../../clock.js';
import { DockgateError } from '../../errors.js';
import type { Role } from '../config/monitor-config.js';
import type { Sql } from '../store/sql.js';
import type { Authenticator, RequestCredentials } from './principal.js';

/** The cookie's name. */
export const SESSION_COOKIE = 'dockgate_session';
/** A session unused this long ends (an on-call phone signed in at night still is in the morning). */
export const SESSION_IDLE_MS = 12 * 3_600_000;
/** …and any session ends this long after sign-in, used or not. */
export const SESSION_MAX_MS = 7 * 24 * 3_600_000;
/** last_seen is written at most this often (not once per request). */
const TOUCH_MS = 60_000;

export interface Session {
  /** The cookie's value: shown once, to the browser. */
  readonly id: string;
  /** Sent back by the page in `X-CSRF-Token` with every change. */
  readonly csrf: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Browser sessions in the monitor's SQLite file: only a hash of the cookie is stored. A session
 * carries its user's name, never a copy of the role: `user add` with another role, or `user
 * remove`, applies to an open browser at its next request.
 */
export class Sessions {
  readonly #sql: Sql;
  readonly #now: Clock;

  constructor(sql: Sql, now: Clock = systemClock) {
    this.#sql = sql;
    this.#now = now;
  }

  async create(user: string, now = this.#now()): Promise<Session> {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    await this.#sql.run(
      'INSERT INTO sessions (hash, "user", csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?)',
      [sha256(id), user, csrf, now, now],
    );
    // Ended sessions go when a new one starts: the table stays the size of who is signed in.
    await this.#sql.run('DELETE FROM sessions WHERE last_seen < ? OR created_at < ?', [
      now - SESSION_IDLE_MS,
      now - SESSION_MAX_MS,
    ]);
    return { id, csrf };
  }

  /** The signed-in user of a cookie value, or undefined (unknown, ended, user removed). */
  async find(
    id: string,
    now = this.#now(),
  ): Promise<{ readonly user: string; readonly role: Role; readonly csrf: string } | undefined> {
    const row = await this.#sql.get<{
      hash: string;
      user: string;
      csrf: string;
      created: number;
      seen: number;
      role: Role;
    }>(
      `SELECT s.hash, s."user" AS "user", s.csrf, s.created_at AS created, s.last_seen AS seen, u.role
       FROM sessions s JOIN users u ON u.name = s."user" WHERE s.hash = ?`,
      [sha256(id)],
    );
    if (row === undefined) return undefined;
    if (row.seen < now - SESSION_IDLE_MS || row.created < now - SESSION_MAX_MS) {
      await this.#sql.run('DELETE FROM sessions WHERE hash = ?', [row.hash]);
      return undefined;
    }
    if (now - row.seen > TOUCH_MS)
      await this.#sql.run('UPDATE sessions SET last_seen = ? WHERE hash = ?', [now, row.hash]);
    return { user: row.user, role: row.role, csrf: row.csrf };
  }

  async end(id: string): Promise<void> {
    await this.#sql.run('DELETE FROM sessions WHERE hash = ?', [sha256(id)]);
  }
}

/** The session cookie's value in a Cookie header, if any. */
export function sessionCookie(header: string | string[] | undefined): string | undefined {
  for (const line of Array.isArray(header) ? header : header === undefined ? [] : [header]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/** The methods that change something: they must carry the session's CSRF token. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The dashboard's session cookie. A cookie that proves no one (ended, forged) is ignored — the
 * browser then sees the sign-in page, not an error. A change (POST, DELETE…) must carry the
 * session's CSRF token in `X-CSRF-Token`: SameSite=Strict already keeps the cookie off other
 * sites' requests; the token also covers a browser that ignores SameSite and a same-site page
 * that is not the dashboard.
 */
export function sessionAuthenticator(sessions: Sessions): Authenticator {
  return {
    async authenticate(request: RequestCredentials) {
      const id = sessionCookie(request.cookie);
      if (id === undefined || id === '') return undefined;
      const found = await sessions.find(id);
      if (found === undefined) return undefined;
      if (request.method !== undefined && !SAFE.has(request.method) && !request.csrfExempt) {
        const sent = request.csrf;
        if (typeof sent !== 'string' || !sameText(sent, found.csrf))
          throw new DockgateError(
            'DG_CSRF',
            'a signed-in change needs the X-CSRF-Token header the dashboard sends (GET /api/v1/me gives it)',
          );
      }
      return { name: found.user, role: found.role, via: 'session', csrf: found.csrf };
    },
  };
}

/** Compares secrets in constant time. */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
