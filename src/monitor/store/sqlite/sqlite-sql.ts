import type { Statement } from 'better-sqlite3';
import type { Db } from '../database.js';
import type { Param, Sql } from '../sql.js';

/**
 * `Sql` over better-sqlite3: statements run synchronously (better-sqlite3's design — one
 * connection, no thread hop) and resolve at once. A transaction holds the connection: other
 * callers wait for it, since their statements would otherwise run inside it between its awaits.
 */
export class SqliteSql implements Sql {
  readonly kind = 'sqlite';
  readonly db: Db;
  readonly #statements = new Map<string, Statement>();
  /** Ends when the last transaction asked for has ended: transactions run one at a time. */
  #chain: Promise<void> = Promise.resolve();

  constructor(db: Db) {
    this.db = db;
  }

  async all<T>(text: string, params: readonly Param[] = []): Promise<T[]> {
    await this.#idle();
    return this.#statement(text).all(...params) as T[];
  }

  async get<T>(text: string, params: readonly Param[] = []): Promise<T | undefined> {
    await this.#idle();
    return this.#statement(text).get(...params) as T | undefined;
  }

  async run(text: string, params: readonly Param[] = []): Promise<number> {
    await this.#idle();
    return this.#statement(text).run(...params).changes;
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const before = this.#chain;
    let release = (): void => {};
    this.#chain = new Promise((resolve) => {
      release = resolve;
    });
    await before;
    const inside: Sql = {
      kind: 'sqlite',
      all: async <R>(text: string, params: readonly Param[] = []) =>
        this.#statement(text).all(...params) as R[],
      get: async <R>(text: string, params: readonly Param[] = []) =>
        this.#statement(text).get(...params) as R | undefined,
      run: async (text: string, params: readonly Param[] = []) =>
        this.#statement(text).run(...params).changes,
      transaction: (inner) => inner(inside),
      close: async () => {},
    };
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(inside);
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.#idle();
    this.db.close();
  }

  /** Statements outside a transaction wait while one is open (they would land inside it). */
  async #idle(): Promise<void> {
    while (this.db.inTransaction) await this.#chain;
  }

  #statement(text: string): Statement {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }
}
