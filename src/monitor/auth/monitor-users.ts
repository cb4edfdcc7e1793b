import { type Clock, systemClock } from '../../clock.js';
import { DockgateError } from '../../errors.js';
import { ROLES, type Role } from '../config/monitor-config.js';
import type { Sql } from '../store/sql.js';

export interface MonitorUser {
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,62}$/;
/** Shorter passwords are refused: the login limiter slows guessing, it does not make "1234" safe. */
export const MIN_PASSWORD = 10;
const MAX_PASSWORD = 1024;

/**
 * A hash to verify against when the name is unknown, so "no such user" takes as long as "wrong
 * password" and the answer time does not tell which names exist.
 */
let decoy: Promise<string> | undefined;

/** Loaded at the first use: a gateway, or a monitor without users, never loads the native module. */
const argon2 = () => import('@node-rs/argon2');

/**
 * The dashboard's users, in the monitor's SQLite file: a name, a role, an argon2id hash of the
 * password (@node-rs/argon2: a maintained binding of the reference implementation, prebuilt, no
 * install script; OWASP's argon2id defaults). Like tokens, read on every sign-in, so
 * `user add`/`user remove` from another process take effect at once.
 */
export class MonitorUsers {
  readonly #sql: Sql;
  readonly #now: Clock;

  constructor(sql: Sql, now: Clock = systemClock) {
    this.#sql = sql;
    this.#now = now;
  }

  /** Creates `name` or replaces its role and password; its open sessions end. */
  async add(name: string, role: string, password: string): Promise<void> {
    if (!NAME.test(name))
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `user name "${name}": letters, digits, . _ @ - (up to 63)`,
      );
    if (!(ROLES as readonly string[]).includes(role))
      throw new DockgateError('DG_CONFIG_INVALID', `--role must be one of ${ROLES.join(', ')}`);
    checkPassword(password);
    const stored = await (await argon2()).hash(password);
    await this.#sql.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO users (name, role, password, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET role = excluded.role, password = excluded.password`,
        [name, role, stored, this.#now()],
      );
      await tx.run('DELETE FROM sessions WHERE "user" = ?', [name]);
    });
  }

  async list(): Promise<MonitorUser[]> {
    return (
      await this.#sql.all<{ name: string; role: Role; at: number }>(
        'SELECT name, role, created_at AS at FROM users ORDER BY name',
      )
    ).map((r) => ({ name: r.name, role: r.role, createdAt: new Date(r.at).toISOString() }));
  }

  /** True once any user exists (the dashboard then offers to sign in). */
  async any(): Promise<boolean> {
    return (await this.#sql.get('SELECT 1 AS one FROM users LIMIT 1')) !== undefined;
  }

  /** True when the user existed; their sessions end with them. */
  remove(name: string): Promise<boolean> {
    return this.#sql.transaction(async (tx) => {
      await tx.run('DELETE FROM sessions WHERE "user" = ?', [name]);
      return (await tx.run('DELETE FROM users WHERE name = ?', [name])) > 0;
    });
  }

  /** The user, when `password` is theirs; undefined otherwise (unknown name or wrong password). */
  async check(name: string, password: string): Promise<{ name: string; role: Role } | undefined> {
    const row = await this.#sql.get<{ name: string; role: Role; password: string }>(
      'SELECT name, role, password FROM users WHERE name = ?',
      [name],
    );
    if (password.length > MAX_PASSWORD) return undefined;
    const { hash, verify } = await argon2();
    if (row === undefined) {
      decoy ??= hash('dockgate-decoy-password');
      await verify(await decoy, password).catch(() => false);
      return undefined;
    }
    const ok = await verify(row.password, password).catch(() => false);
    return ok ? { name: row.name, role: row.role } : undefined;
  }
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD)
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `the password must have at least ${MIN_PASSWORD} characters`,
    );
  if (password.length > MAX_PASSWORD)
    throw new DockgateError('DG_CONFIG_INVALID', `the password must have at most ${MAX_PASSWORD} characters`);
}
