import { createHash, randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../../clock.js';
import { DockgateError } from '../../errors.js';
import { ROLES, type Role } from '../config/monitor-config.js';
import type { Sql } from '../store/sql.js';

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
 * The monitor's API tokens, in its store: a name, a role, the hash. Looked up on every request
 * (one indexed read), so `token add` and `token revoke` from another process — or another monitor
 * sharing the PostgreSQL store — take effect at once, without a restart.
 */
export class MonitorTokens {
  readonly #sql: Sql;
  readonly #now: Clock;

  constructor(sql: Sql, now: Clock = systemClock) {
    this.#sql = sql;
    this.#now = now;
  }

  /** Creates a token for `name` (replacing its old one) and returns it: the only time it is shown. */
  async add(name: string, role: string): Promise<string> {
    if (!NAME.test(name))
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `token name "${name}": letters, digits, . _ @ - (up to 63)`,
      );
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new DockgateError('DG_CONFIG_INVALID', `--role must be one of ${ROLES.join(', ')}`);
    }
    const token = `dgm_${randomBytes(32).toString('base64url')}`;
    await this.#sql.run(
      `INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash, created_at = excluded.created_at`,
      [name, role, hashMonitorToken(token), this.#now()],
    );
    return token;
  }

  async list(): Promise<MonitorToken[]> {
    return (
      await this.#sql.all<{ name: string; role: Role; at: number }>(
        'SELECT name, role, created_at AS at FROM tokens ORDER BY name',
      )
    ).map((r) => ({ name: r.name, role: r.role, createdAt: new Date(r.at).toISOString() }));
  }

  /** True when a token of that name existed. */
  async revoke(name: string): Promise<boolean> {
    return (await this.#sql.run('DELETE FROM tokens WHERE name = ?', [name])) > 0;
  }

  /** The holder of a presented token, or undefined (unknown or revoked). */
  find(token: string): Promise<{ readonly name: string; readonly role: Role } | undefined> {
    return this.#sql.get<{ name: string; role: Role }>('SELECT name, role FROM tokens WHERE hash = ?', [
      hashMonitorToken(token),
    ]);
  }
}
