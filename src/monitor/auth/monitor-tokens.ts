import { createHash, randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../../clock.js';
import { DockgateError } from '../../errors.js';
import { ROLES, type Role } from '../config/monitor-config.js';
import type { Db } from '../store/database.js';

export interface MonitorToken {
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,62}$/;

/** SHA-256 of a token: only the hash is stored; the token is shown once. */
export function hashMonitorToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * The monitor's API tokens, in its SQLite file: a name, a role, the hash. Looked up on every
 * request (one indexed read), so `token add` and `token revoke` from another process take effect
 * at once, without a restart.
 */
export class MonitorTokens {
  readonly #db: Db;
  readonly #now: Clock;

  constructor(db: Db, now: Clock = systemClock) {
    this.#db = db;
    this.#now = now;
  }

  /** Creates a token for `name` (replacing its old one) and returns it: the only time it is shown. */
  add(name: string, role: string): string {
    if (!NAME.test(name))
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `token name "${name}": letters, digits, . _ @ - (up to 63)`,
      );
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new DockgateError('DG_CONFIG_INVALID', `--role must be one of ${ROLES.join(', ')}`);
    }
    const token = `dgm_${randomBytes(32).toString('base64url')}`;
    this.#db
      .prepare(
        `INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash, created_at = excluded.created_at`,
      )
      .run(name, role, hashMonitorToken(token), this.#now());
    return token;
  }

  list(): MonitorToken[] {
    return (
      this.#db.prepare('SELECT name, role, created_at AS at FROM tokens ORDER BY name').all() as {
        name: string;
        role: Role;
        at: number;
      }[]
    ).map((r) => ({ name: r.name, role: r.role, createdAt: new Date(r.at).toISOString() }));
  }

  /** True when a token of that name existed. */
  revoke(name: string): boolean {
    return this.#db.prepare('DELETE FROM tokens WHERE name = ?').run(name).changes > 0;
  }

  /** The holder of a presented token, or undefined (unknown or revoked). */
  find(token: string): { readonly name: string; readonly role: Role } | undefined {
    return this.#db.prepare('SELECT name, role FROM tokens WHERE hash = ?').get(hashMonitorToken(token)) as
      | { name: string; role: Role }
      | undefined;
  }
}
