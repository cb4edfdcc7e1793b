import postgres, { type Sql as PgClient, type TransactionSql } from 'postgres';
import type { Param, Sql } from '../sql.js';

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the stores' SQL never has a `?` in a literal). */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/**
 * Opens a pool to `url` (`postgres://user@host:port/db`, `?host=/run/postgresql` for a socket,
 * `sslmode=require|verify-full` for TLS — postgres.js reads them all from the URL). int8 and
 * numeric come back as numbers (sql.ts).
 */
export function connectPostgres(url: string, options: { max?: number } = {}): PgClient {
  return postgres(url, {
    max: options.max ?? 8,
    onnotice: () => {},
    // Idle connections are closed after a minute, and none lives forever (PgBouncer, failovers).
    idle_timeout: 60,
    max_lifetime: 30 * 60,
    connect_timeout: 10,
    connection: {
      // A monitor stopped (SIGSTOP, a VM paused) inside a transaction would hold the row locks of
      // what it wrote and block the next owner's writes: PostgreSQL ends such a session after
      // 5 s. No statement waits more than 3 s for a lock (a membership round goes on), none runs
      // more than a minute.
      idle_in_transaction_session_timeout: 5_000,
      lock_timeout: 3_000,
      statement_timeout: 60_000,
    },
    types: {
      bigint: {
        to: 20,
        from: [20, 1700],
        serialize: (x: unknown) => String(x),
        parse: (x: string) => Number(x),
      },
    },
  });
}

/** `Sql` over a postgres.js pool; `client` is the pool itself, for the lease store's typed queries. */
export class PostgresSql implements Sql {
  readonly kind = 'postgres';
  readonly client: PgClient;
  readonly #texts = new Map<string, string>();

  constructor(client: PgClient) {
    this.client = client;
  }

  all<T>(text: string, params: readonly Param[] = []): Promise<T[]> {
    return query<T>(this.client, this.#text(text), params);
  }

  async get<T>(text: string, params: readonly Param[] = []): Promise<T | undefined> {
    return (await this.all<T>(text, params))[0];
  }

  async run(text: string, params: readonly Param[] = []): Promise<number> {
    const result = await this.client.unsafe(this.#text(text), params as Param[], { prepare: true });
    return result.count;
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.client.begin(async (tx) => fn(this.#inside(tx))) as Promise<T>;
  }

  close(): Promise<void> {
    return this.client.end({ timeout: 5 });
  }

  #inside(tx: TransactionSql): Sql {
    const inside: Sql = {
      kind: 'postgres',
      all: <R>(text: string, params: readonly Param[] = []) => query<R>(tx, this.#text(text), params),
      get: async <R>(text: string, params: readonly Param[] = []) =>
        (await query<R>(tx, this.#text(text), params))[0],
      run: async (text: string, params: readonly Param[] = []) =>
        (await tx.unsafe(this.#text(text), params as Param[], { prepare: true })).count,
      transaction: (inner) => inner(inside),
      close: async () => {},
    };
    return inside;
  }

  #text(text: string): string {
    let pg = this.#texts.get(text);
    if (pg === undefined) {
      pg = numbered(text);
      this.#texts.set(text, pg);
    }
    return pg;
  }
}

async function query<T>(
  client: PgClient | TransactionSql,
  text: string,
  params: readonly Param[],
): Promise<T[]> {
  const rows = await client.unsafe(text, params as Param[], { prepare: true });
  return [...rows] as T[];
}
