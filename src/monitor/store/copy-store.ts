import { DockgateError } from '../../errors.js';
import { HOST_SAMPLE_COLUMNS } from '../hosts/host-history.js';
import type { Store } from './open-store.js';
import { ensureSampleDays } from './postgres/sample-partitions.js';
import type { Param } from './sql.js';
import { SqliteSql } from './sqlite/sqlite-sql.js';

/**
 * What `monitor migrate` copies, in this order, with the columns both schemas have. Not copied:
 * browser sessions (people sign in again), the outbox (what was sent is in `deliveries`), the
 * timeline's and deliveries' own sequence numbers (the target numbers them, in the same order).
 */
const TABLES: readonly {
  readonly table: string;
  readonly columns: readonly string[];
  readonly order: string;
}[] = [
  { table: 'users', columns: ['name', 'role', 'password', 'created_at'], order: 'name' },
  { table: 'tokens', columns: ['name', 'role', 'hash', 'created_at'], order: 'name' },
  {
    table: 'engines',
    columns: ['name', 'url', 'last_event_nano', 'last_event_keys', 'view', 'changed_at'],
    order: 'name',
  },
  {
    table: 'containers',
    columns: ['engine', 'id', 'name', 'item', 'first_seen', 'removed_at', 'changed_at'],
    order: 'engine, id',
  },
  {
    table: 'timeline',
    columns: [
      'engine',
      'container',
      'time_nano',
      'kind',
      'action',
      'exit_code',
      'expected',
      '"by"',
      'detail',
      'dedupe',
    ],
    order: 'seq',
  },
  {
    table: 'samples',
    columns: [
      'tier',
      'engine',
      'container',
      't',
      'cpu',
      'mem',
      'mem_limit',
      'net_rx',
      'net_tx',
      'blk_r',
      'blk_w',
      'pids',
    ],
    order: 'tier, t',
  },
  { table: 'engine_periods', columns: ['engine', 'status', 'since', 'until', 'error'], order: 'since' },
  { table: 'meta', columns: ['key', 'value'], order: 'key' },
  {
    table: 'alerts',
    columns: [
      'id',
      'rule',
      'kind',
      'engine',
      'container_id',
      'container_name',
      'target',
      'state',
      'opened_at',
      'resolved_at',
      'acknowledged_at',
      'count',
      'summary',
      'details',
      'last_notified_at',
      'changed_at',
    ],
    order: 'opened_at',
  },
  {
    table: 'deliveries',
    columns: ['alert_id', 'notifier', 'event', 'attempt', 'at', 'ok', 'status', 'error', 'response'],
    order: 'seq',
  },
  {
    table: 'terminals',
    columns: [
      'id',
      'principal',
      'via',
      'address',
      'engine',
      'container',
      'container_name',
      'cmd',
      'exec_id',
      'started_at',
      'ended_at',
      'exit_code',
      'end_reason',
      'bytes_in',
      'bytes_out',
      'record',
      'cast_bytes',
      'truncated',
    ],
    order: 'started_at',
  },
  {
    table: 'update_checks',
    columns: ['key', 'digest', 'error', 'reason', 'checked_at', 'retry_at'],
    order: 'key',
  },
  {
    table: 'update_runs',
    columns: [
      'id',
      'engine',
      'name',
      'old_id',
      'new_id',
      'image',
      'from_digest',
      'to_digest',
      'step',
      'was_running',
      '"by"',
      'started_at',
      'finished_at',
      'result',
      'reason',
    ],
    order: 'started_at',
  },
  {
    table: 'host_samples',
    columns: ['tier', 'engine', 't', ...HOST_SAMPLE_COLUMNS],
    order: 'tier, t',
  },
  {
    table: 'host_fs_samples',
    columns: ['tier', 'engine', 'mount', 't', 'used', 'avail'],
    order: 'tier, t',
  },
  { table: 'prunes', columns: ['id', 'engine', 'at', '"by"', 'options', 'result'], order: 'at' },
];

/** Rows per INSERT (16 columns × 500 stays far below PostgreSQL's 65,535 parameters). */
const BATCH = 500;

/**
 * `dockgate monitor migrate --from sqlite:DIR --to postgres://…`: copies a SQLite store into an
 * empty PostgreSQL one — users, tokens, containers, timelines, stats in every tier (the days they
 * cover made as partitions first), engine periods, alerts with their deliveries, terminal sessions,
 * update checks and runs, host samples and cleanups — each table in one transaction, and says how many rows of each. A target
 * that already holds users, tokens, containers or alerts is refused: nothing is merged.
 */
export async function copyStore(from: Store, to: Store): Promise<{ table: string; rows: number }[]> {
  if (!(from.sql instanceof SqliteSql) || to.sql.kind !== 'postgres')
    throw new DockgateError('DG_CONFIG_INVALID', 'migrate copies from sqlite:DIR to postgres://…');
  const source = from.sql.db;
  for (const table of ['users', 'tokens', 'containers', 'alerts', 'timeline']) {
    const row = await to.sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
    if (Number(row?.n ?? 0) > 0)
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `--to: the PostgreSQL store already has ${table}; migrate copies into an empty one only`,
      );
  }
  const span = source.prepare('SELECT min(t) AS first, max(t) AS last FROM samples').get() as {
    first: number | null;
    last: number | null;
  };
  if (span.first !== null && span.last !== null) await ensureSampleDays(to.sql, span.first, span.last);
  const copied: { table: string; rows: number }[] = [];
  for (const { table, columns, order } of TABLES) {
    const list = columns.join(', ');
    const rows = source.prepare(`SELECT ${list} FROM ${table} ORDER BY ${order}`).raw().iterate() as Iterable<
      Param[]
    >;
    let count = 0;
    await to.sql.transaction(async (tx) => {
      let batch: Param[][] = [];
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const values = batch.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ');
        await tx.run(`INSERT INTO ${table} (${list}) VALUES ${values}`, batch.flat());
        count += batch.length;
        batch = [];
      };
      for (const row of rows) {
        batch.push(row);
        if (batch.length >= BATCH) await flush();
      }
      await flush();
    });
    copied.push({ table, rows: count });
  }
  return copied;
}
