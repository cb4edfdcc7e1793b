import type { Sql as PgClient } from 'postgres';
import { DockgateError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { openDatabase } from './database.js';
import { migratePostgres } from './postgres/pg-migrations.js';
import { connectPostgres, PostgresSql } from './postgres/pg-sql.js';
import { maintainSamplePartitions } from './postgres/sample-partitions.js';
import type { Sql } from './sql.js';
import { SqliteSql } from './sqlite/sqlite-sql.js';
import { describeStore, type StoreTarget } from './store-url.js';
import { Writer } from './writer.js';

/** An open store: the SQL every store class uses, its one writer, and PostgreSQL's pool if any. */
export interface Store {
  readonly target: StoreTarget;
  readonly sql: Sql;
  readonly writer: Writer;
  /** The pool (PostgreSQL only): the lease store's typed queries, LISTEN/NOTIFY. */
  readonly pg: PgClient | undefined;
  close(): Promise<void>;
}

/**
 * Opens the store and brings its schema up to date (SQLite: `PRAGMA user_version`; PostgreSQL:
 * `dockgate_schema`, under an advisory transaction lock). A schema newer than this dockgate
 * stops it here. On PostgreSQL the stats partitions of today and the next days are made before
 * the first sample arrives.
 */
export async function openStore(
  target: StoreTarget,
  log: Logger,
  options: { retention?: { rawMs: number; minuteMs: number } } = {},
): Promise<Store> {
  let sql: Sql;
  let pg: PgClient | undefined;
  if (target.kind === 'sqlite') {
    sql = new SqliteSql(openDatabase(target.dir));
  } else {
    pg = connectPostgres(target.url);
    sql = new PostgresSql(pg);
    try {
      await migratePostgres(pg);
      const retention = options.retention ?? { rawMs: 86_400_000, minuteMs: 7 * 86_400_000 };
      await sql.transaction((tx) => maintainSamplePartitions(tx, Date.now(), retention));
    } catch (error) {
      await pg.end({ timeout: 1 }).catch(() => {});
      if (error instanceof DockgateError) throw error;
      throw new DockgateError(
        'DG_STORE_UNAVAILABLE',
        `--store ${describeStore(target)}: ${(error as Error).message}`,
      );
    }
  }
  const writer = new Writer(sql, log);
  return {
    target,
    sql,
    writer,
    pg,
    async close() {
      await writer.close();
      await sql.close();
    },
  };
}
