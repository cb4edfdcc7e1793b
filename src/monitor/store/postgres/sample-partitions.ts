import type { Sql } from '../sql.js';

const DAY_MS = 86_400_000;

/** `samples_raw_20261207`: the raw (or minute) tier's partition of one UTC day. */
export function partitionName(parent: 'samples_raw' | 'samples_minute', dayStart: number): string {
  return `${parent}_${new Date(dayStart).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/**
 * The daily partitions of the raw and minute tiers on PostgreSQL (pg-migrations.ts 2): today's,
 * tomorrow's and the day after are created ahead (a sample never lands in the default partition
 * unless a clock is days off), and each day wholly older than its tier's retention is dropped —
 * retention as a partition drop, not a DELETE of millions of rows; the DELETE that follows only
 * trims the oldest day still kept. Runs in its own transaction after each rollup, every minute,
 * under the rollup's advisory lock.
 */
export async function maintainSamplePartitions(
  sql: Sql,
  now: number,
  retention: { readonly rawMs: number; readonly minuteMs: number },
): Promise<{ created: string[]; dropped: string[] }> {
  const created: string[] = [];
  const dropped: string[] = [];
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  for (const [parent, keepMs] of [
    ['samples_raw', retention.rawMs],
    ['samples_minute', retention.minuteMs],
  ] as const) {
    const existing = await partitionsOf(sql, parent);
    for (let day = today; day <= today + 2 * DAY_MS; day += DAY_MS)
      if (!existing.has(partitionName(parent, day))) created.push(await makeDay(sql, parent, day));
    const cut = now - keepMs;
    for (const name of existing) {
      const match = /_(\d{4})(\d{2})(\d{2})$/.exec(name);
      if (match === null) continue; // the default partition
      const start = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
      if (start + DAY_MS <= cut) {
        await sql.run(`DROP TABLE IF EXISTS ${name}`);
        dropped.push(name);
      }
    }
  }
  return { created, dropped };
}

/** Makes the partition of one day, moving in any of its samples that landed in the default one. */
async function makeDay(sql: Sql, parent: 'samples_raw' | 'samples_minute', day: number): Promise<string> {
  const name = partitionName(parent, day);
  // Names and bounds are computed here, never from input: safe to interpolate.
  const range = `t >= ${day} AND t < ${day + DAY_MS}`;
  const strays = await sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${parent}_default WHERE ${range}`);
  if (Number(strays?.n ?? 0) === 0) {
    await sql.run(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ${parent} FOR VALUES FROM (${day}) TO (${day + DAY_MS})`,
    );
    return name;
  }
  // Samples of that day already landed in the default partition (a clock that jumped, a monitor
  // down over midnight): PostgreSQL cannot create a partition over them, so the day is made as a
  // table, they are moved into it, and it is attached.
  await sql.run(`CREATE TABLE ${name} (LIKE ${parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
  await sql.run(`INSERT INTO ${name} SELECT * FROM ${parent}_default WHERE ${range}`);
  await sql.run(`DELETE FROM ${parent}_default WHERE ${range}`);
  await sql.run(
    `ALTER TABLE ${parent} ATTACH PARTITION ${name} FOR VALUES FROM (${day}) TO (${day + DAY_MS})`,
  );
  return name;
}

/**
 * The raw and minute partitions of every day from `first` to `last` (ms), at most the last 400 of
 * them: `monitor migrate` makes the days a SQLite history covers before copying it.
 */
export async function ensureSampleDays(sql: Sql, first: number, last: number): Promise<void> {
  const end = Math.floor(last / DAY_MS) * DAY_MS;
  const start = Math.max(Math.floor(first / DAY_MS) * DAY_MS, end - 399 * DAY_MS);
  await sql.transaction(async (tx) => {
    for (const parent of ['samples_raw', 'samples_minute'] as const) {
      const existing = await partitionsOf(tx, parent);
      for (let day = start; day <= end; day += DAY_MS)
        if (!existing.has(partitionName(parent, day))) await makeDay(tx, parent, day);
    }
  });
}

async function partitionsOf(sql: Sql, parent: string): Promise<Set<string>> {
  return new Set(
    (
      await sql.all<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ?`,
        [parent],
      )
    ).map((r) => r.name),
  );
}
