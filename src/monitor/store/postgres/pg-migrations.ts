import type { Sql } from 'postgres';
import { DockgateError } from '../../../errors.js';

/**
 * The PostgreSQL store's schema, numbered like the SQLite one (store/migrations.ts): migration N
 * brings the schema to version N. Applied in one transaction under a transaction-scoped advisory
 * lock (safe behind PgBouncer in transaction mode, unlike a session lock), so monitors started
 * together migrate once; a schema newer than this monitor knows stops it at start.
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: monitors alive (heartbeats) and one lease row per engine (docs/scaling.md): the owner,
  // its term (a fencing token, +1 at each change of owner) and the expiry on the database's clock.
  `
  CREATE TABLE monitor_instances (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    listen TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE engine_leases (
    engine TEXT PRIMARY KEY,
    owner TEXT,
    term BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  `,
];

/** Arbitrary, fixed: the advisory lock key of dockgate's migrations. */
const MIGRATION_LOCK = 0x646f636b;

/** Brings the database to the latest schema; the version it is at. */
export async function migratePostgres(sql: Sql): Promise<number> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS dockgate_schema (version INTEGER NOT NULL)`;
    const [row] = await tx<{ version: number }[]>`SELECT version FROM dockgate_schema`;
    const current = row?.version ?? 0;
    if (current > PG_MIGRATIONS.length)
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `the store's schema is version ${current}, newer than this monitor knows (${PG_MIGRATIONS.length}): run the newer dockgate`,
      );
    for (let v = current; v < PG_MIGRATIONS.length; v++) await tx.unsafe(PG_MIGRATIONS[v] as string);
    if (row === undefined) await tx`INSERT INTO dockgate_schema (version) VALUES (${PG_MIGRATIONS.length})`;
    else await tx`UPDATE dockgate_schema SET version = ${PG_MIGRATIONS.length}`;
    return PG_MIGRATIONS.length;
  }) as Promise<number>;
}
