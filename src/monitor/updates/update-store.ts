import type { Sql } from '../store/sql.js';

/** What a registry said of one `registry/repository:tag` at its last check. */
export interface TagCheck {
  readonly key: string;
  readonly digest: string | null;
  readonly error: string | null;
  /** unauthorized, not-found, rate-limited, unreachable, bad-answer (registry-client.ts). */
  readonly reason: string | null;
  readonly checkedAt: number;
  /** Not asked again before this (a 429's Retry-After), ms. */
  readonly retryAt: number | null;
}

interface Row {
  key: string;
  digest: string | null;
  error: string | null;
  reason: string | null;
  checked_at: number;
  retry_at: number | null;
}

/** The last answer per tag, in the monitor's SQLite file. */
export class UpdateStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async get(key: string): Promise<TagCheck | undefined> {
    const row = await this.#sql.get<Row>('SELECT * FROM update_checks WHERE key = ?', [key]);
    return row === undefined
      ? undefined
      : {
          key: row.key,
          digest: row.digest,
          error: row.error,
          reason: row.reason,
          checkedAt: row.checked_at,
          retryAt: row.retry_at,
        };
  }

  async put(check: TagCheck): Promise<void> {
    await this.#sql.run(
      `INSERT INTO update_checks (key, digest, error, reason, checked_at, retry_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET digest = excluded.digest, error = excluded.error,
         reason = excluded.reason, checked_at = excluded.checked_at, retry_at = excluded.retry_at`,
      [check.key, check.digest, check.error, check.reason, check.checkedAt, check.retryAt],
    );
  }
}
