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
  // 2: the monitor's own tables, the same columns as SQLite's (store/migrations.ts 1–6), so one
  // SQL text serves both. Stats samples are partitioned by tier, the raw and minute tiers by day
  // (sample-partitions.ts creates the days ahead and drops the days past retention: a partition
  // drop, not a DELETE), with a BRIN index on the time (rows arrive in time order).
  `
  CREATE TABLE engines (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    last_event_nano TEXT,
    last_event_keys TEXT
  );
  CREATE TABLE containers (
    engine TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    item TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    removed_at BIGINT,
    PRIMARY KEY (engine, id)
  );
  CREATE INDEX containers_name ON containers (engine, name);
  CREATE INDEX containers_live ON containers (engine) WHERE removed_at IS NULL;
  CREATE TABLE timeline (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    engine TEXT NOT NULL,
    container TEXT NOT NULL,
    time_nano BIGINT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    exit_code INTEGER,
    expected INTEGER,
    "by" TEXT,
    detail TEXT,
    dedupe TEXT UNIQUE
  );
  CREATE INDEX timeline_container ON timeline (engine, container, time_nano);
  CREATE INDEX timeline_time ON timeline USING brin (time_nano);
  CREATE TABLE samples (
    tier SMALLINT NOT NULL,
    engine TEXT NOT NULL,
    container TEXT NOT NULL,
    t BIGINT NOT NULL,
    cpu DOUBLE PRECISION,
    mem BIGINT,
    mem_limit BIGINT,
    net_rx BIGINT,
    net_tx BIGINT,
    blk_r BIGINT,
    blk_w BIGINT,
    pids BIGINT,
    PRIMARY KEY (tier, engine, container, t)
  ) PARTITION BY LIST (tier);
  CREATE TABLE samples_raw PARTITION OF samples FOR VALUES IN (0) PARTITION BY RANGE (t);
  CREATE TABLE samples_raw_default PARTITION OF samples_raw DEFAULT;
  CREATE TABLE samples_minute PARTITION OF samples FOR VALUES IN (1) PARTITION BY RANGE (t);
  CREATE TABLE samples_minute_default PARTITION OF samples_minute DEFAULT;
  CREATE TABLE samples_hour PARTITION OF samples FOR VALUES IN (2);
  CREATE INDEX samples_time ON samples USING brin (t);
  CREATE TABLE engine_periods (
    engine TEXT NOT NULL,
    status TEXT NOT NULL,
    since BIGINT NOT NULL,
    until BIGINT,
    error TEXT
  );
  CREATE INDEX engine_periods_engine ON engine_periods (engine, since);
  CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    engine TEXT NOT NULL,
    container_id TEXT,
    container_name TEXT,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT,
    acknowledged_at BIGINT,
    count INTEGER NOT NULL,
    summary TEXT NOT NULL,
    details TEXT NOT NULL,
    last_notified_at BIGINT
  );
  CREATE INDEX alerts_open ON alerts (state, rule, target);
  CREATE INDEX alerts_opened ON alerts (opened_at);
  CREATE TABLE deliveries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id TEXT NOT NULL,
    notifier TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at BIGINT NOT NULL,
    ok INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    response TEXT
  );
  CREATE INDEX deliveries_alert ON deliveries (alert_id, seq);
  CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    "user" TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
  );
  CREATE INDEX sessions_user ON sessions ("user");
  CREATE TABLE terminals (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    via TEXT NOT NULL,
    address TEXT NOT NULL,
    engine TEXT NOT NULL,
    container TEXT NOT NULL,
    container_name TEXT NOT NULL,
    cmd TEXT NOT NULL,
    exec_id TEXT,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    exit_code INTEGER,
    end_reason TEXT,
    bytes_in BIGINT NOT NULL DEFAULT 0,
    bytes_out BIGINT NOT NULL DEFAULT 0,
    record TEXT NOT NULL,
    cast_bytes BIGINT NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX terminals_started ON terminals (started_at);
  CREATE TABLE update_checks (
    key TEXT PRIMARY KEY,
    digest TEXT,
    error TEXT,
    reason TEXT,
    checked_at BIGINT NOT NULL,
    retry_at BIGINT
  );
  CREATE TABLE update_runs (
    id TEXT PRIMARY KEY,
    engine TEXT NOT NULL,
    name TEXT NOT NULL,
    old_id TEXT NOT NULL,
    new_id TEXT,
    image TEXT NOT NULL,
    from_digest TEXT,
    to_digest TEXT,
    step TEXT NOT NULL,
    was_running INTEGER NOT NULL,
    "by" TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    result TEXT,
    reason TEXT
  );
  CREATE INDEX update_runs_open ON update_runs (engine, finished_at);
  `,
  // 3: as SQLite's 7 — when each container, engine view and alert last changed, and the engine
  // view: what the monitors that do not own an engine follow (cluster/replica.ts).
  `
  ALTER TABLE containers ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
  CREATE INDEX containers_changed ON containers (changed_at);
  ALTER TABLE engines ADD COLUMN view TEXT;
  ALTER TABLE engines ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE alerts ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
  CREATE INDEX alerts_changed ON alerts (changed_at);
  `,
  // 4: as SQLite's 8 — the notification outbox.
  `
  CREATE TABLE outbox (
    key TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    engine TEXT NOT NULL,
    event TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    sent_at BIGINT
  );
  CREATE INDEX outbox_unsent ON outbox (engine, claimed_at) WHERE sent_at IS NULL;
  `,
  // 5: as SQLite's 9 — host samples (small: one row per engine per interval, not partitioned)
  // and the cleanups asked.
  `
  CREATE TABLE host_samples (
    tier INTEGER NOT NULL,
    engine TEXT NOT NULL,
    t BIGINT NOT NULL,
    cpu DOUBLE PRECISION,
    mem_used BIGINT,
    mem_avail BIGINT,
    swap_used BIGINT,
    root_used BIGINT,
    root_avail BIGINT,
    load1 DOUBLE PRECISION,
    net_rx DOUBLE PRECISION,
    net_tx DOUBLE PRECISION,
    psi_cpu DOUBLE PRECISION,
    psi_mem DOUBLE PRECISION,
    psi_io DOUBLE PRECISION,
    disk_read DOUBLE PRECISION,
    disk_write DOUBLE PRECISION,
    temp DOUBLE PRECISION,
    PRIMARY KEY (tier, engine, t)
  );
  CREATE TABLE host_fs_samples (
    tier INTEGER NOT NULL,
    engine TEXT NOT NULL,
    mount TEXT NOT NULL,
    t BIGINT NOT NULL,
    used BIGINT,
    avail BIGINT,
    PRIMARY KEY (tier, engine, mount, t)
  );
  CREATE TABLE prunes (
    id TEXT PRIMARY KEY,
    engine TEXT NOT NULL,
    at BIGINT NOT NULL,
    "by" TEXT NOT NULL,
    options TEXT NOT NULL,
    result TEXT NOT NULL
  );
  CREATE INDEX prunes_engine ON prunes (engine, at);
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
        'DG_STORE_UNAVAILABLE',
        `the store's schema is version ${current}, newer than this monitor knows (${PG_MIGRATIONS.length}): run the newer dockgate`,
      );
    for (let v = current; v < PG_MIGRATIONS.length; v++) await tx.unsafe(PG_MIGRATIONS[v] as string);
    if (row === undefined) await tx`INSERT INTO dockgate_schema (version) VALUES (${PG_MIGRATIONS.length})`;
    else await tx`UPDATE dockgate_schema SET version = ${PG_MIGRATIONS.length}`;
    return PG_MIGRATIONS.length;
  }) as Promise<number>;
}
