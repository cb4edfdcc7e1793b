import type { Clock } from '../../clock.js';
import type { Retention } from '../store/history.js';
import type { Sql } from '../store/sql.js';
import type { Writer } from '../store/writer.js';

/** One host sample as stored: rates per second, bytes, percent of all cores. */
export interface HostPoint {
  /** ms since the epoch. */
  readonly t: number;
  readonly cpuPercent: number | null;
  readonly memoryUsedBytes: number | null;
  readonly memoryAvailableBytes: number | null;
  readonly swapUsedBytes: number | null;
  readonly dockerRootUsedBytes: number | null;
  readonly dockerRootAvailableBytes: number | null;
  readonly load1: number | null;
  readonly netRxBytesPerSecond: number | null;
  readonly netTxBytesPerSecond: number | null;
}

/** One point of `GET /api/v1/engines/{name}/host` (docs/hosts.md): the contract's names. */
export interface HostSeriesPoint extends Omit<HostPoint, 't'> {
  readonly time: string;
}

const COLUMNS = 'cpu, mem_used, mem_avail, swap_used, root_used, root_avail, load1, net_rx, net_tx';

const SQL = {
  add: `INSERT INTO host_samples (tier, engine, t, ${COLUMNS}) VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (tier, engine, t) DO NOTHING`,
  series: `SELECT CAST(t / ? AS BIGINT) * ? AS bucket, avg(cpu) AS cpu, avg(mem_used) AS "memUsed",
      avg(mem_avail) AS "memAvail", avg(swap_used) AS "swapUsed", avg(root_used) AS "rootUsed",
      avg(root_avail) AS "rootAvail", avg(load1) AS load1, avg(net_rx) AS "netRx", avg(net_tx) AS "netTx"
    FROM host_samples WHERE engine = ? AND t >= ?
      AND ((tier = 2 AND t < ?) OR (tier = 1 AND t >= ? AND t < ?) OR (tier = 0 AND t >= ?))
    GROUP BY bucket ORDER BY bucket`,

  rollup: `INSERT INTO host_samples (tier, engine, t, ${COLUMNS})
    SELECT CAST(? AS INTEGER), engine, CAST(t / ? AS BIGINT) * ?, avg(cpu), avg(mem_used), avg(mem_avail),
      avg(swap_used), avg(root_used), avg(root_avail), avg(load1), avg(net_rx), avg(net_tx)
    FROM host_samples WHERE tier = ? AND t >= ? AND t < ? GROUP BY 2, 3
    ON CONFLICT (tier, engine, t) DO UPDATE SET cpu = excluded.cpu, mem_used = excluded.mem_used,
      mem_avail = excluded.mem_avail, swap_used = excluded.swap_used, root_used = excluded.root_used,
      root_avail = excluded.root_avail, load1 = excluded.load1, net_rx = excluded.net_rx, net_tx = excluded.net_tx`,
  cut: 'DELETE FROM host_samples WHERE tier = ? AND t < ?',
  meta: 'SELECT value FROM meta WHERE key = ?',
  setMeta:
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
} as const;

const TIERS = [
  { tier: 1, size: 60_000, from: 0 },
  { tier: 2, size: 3_600_000, from: 1 },
] as const;

/**
 * The hosts' samples in the store, in the tiers container stats use (raw, one-minute, one-hour;
 * the same retention): written through the one writer, rolled up by the monitor's minute timer,
 * read back as a series whose finest tier still holds the range.
 */
export class HostHistory {
  readonly #sql: Sql;
  readonly #writer: Writer;
  readonly #retention: Retention;
  readonly #now: Clock;

  constructor(sql: Sql, writer: Writer, retention: Retention, now: Clock) {
    this.#sql = sql;
    this.#writer = writer;
    this.#retention = retention;
    this.#now = now;
  }

  add(engine: string, p: HostPoint): void {
    this.#writer.push(
      SQL.add,
      [
        engine,
        p.t,
        p.cpuPercent,
        p.memoryUsedBytes,
        p.memoryAvailableBytes,
        p.swapUsedBytes,
        p.dockerRootUsedBytes,
        p.dockerRootAvailableBytes,
        p.load1,
        p.netRxBytesPerSecond,
        p.netTxBytesPerSecond,
      ],
      { engine },
    );
  }

  /** Points from `sinceMs`, one per `stepMs`, averaged; each range from the finest tier that has it. */
  async series(engine: string, sinceMs: number, stepMs: number): Promise<HostSeriesPoint[]> {
    await this.#writer.flush();
    const mark1 = await this.#mark(this.#sql, 1);
    const mark2 = await this.#mark(this.#sql, 2);
    // The tier as History.stats picks it; what that tier has not rolled up yet from the finer ones.
    const age = this.#now() - sinceMs;
    const tier =
      stepMs >= 3_600_000 || age > this.#retention.minuteMs
        ? 2
        : stepMs >= 60_000 || age > this.#retention.rawMs
          ? 1
          : 0;
    const [hourUntil, minuteFrom, minuteUntil, rawFrom] =
      tier === 0 ? [0, 0, 0, 0] : tier === 1 ? [0, 0, mark1, mark1] : [mark2, mark2, mark1, mark1];
    const rows = await this.#sql.all<{
      bucket: number;
      cpu: number | null;
      memUsed: number | null;
      memAvail: number | null;
      swapUsed: number | null;
      rootUsed: number | null;
      rootAvail: number | null;
      load1: number | null;
      netRx: number | null;
      netTx: number | null;
    }>(SQL.series, [stepMs, stepMs, engine, sinceMs, hourUntil, minuteFrom, minuteUntil, rawFrom]);
    const round = (v: number | null, digits = 0): number | null =>
      v === null ? null : Math.round(Number(v) * 10 ** digits) / 10 ** digits;
    return rows.map((r) => ({
      time: new Date(Number(r.bucket)).toISOString(),
      cpuPercent: round(r.cpu, 2),
      memoryUsedBytes: round(r.memUsed),
      memoryAvailableBytes: round(r.memAvail),
      swapUsedBytes: round(r.swapUsed),
      dockerRootUsedBytes: round(r.rootUsed),
      dockerRootAvailableBytes: round(r.rootAvail),
      load1: round(r.load1, 2),
      netRxBytesPerSecond: round(r.netRx),
      netTxBytesPerSecond: round(r.netTx),
    }));
  }

  /** Rolls closed minutes and hours up and drops what retention no longer keeps (idempotent). */
  async rollup(now = this.#now()): Promise<void> {
    await this.#writer.flush();
    await this.#sql.transaction(async (tx) => {
      for (const { tier, size, from } of TIERS) {
        const done = await this.#mark(tx, tier);
        const until = Math.floor(now / size) * size;
        if (until <= done) continue;
        await tx.run(SQL.rollup, [tier, size, size, from, Math.floor(done / size) * size, until]);
        await tx.run(SQL.setMeta, [`host.rollup.${tier}`, String(until)]);
      }
      await tx.run(SQL.cut, [0, now - this.#retention.rawMs]);
      await tx.run(SQL.cut, [1, now - this.#retention.minuteMs]);
      await tx.run(SQL.cut, [2, now - this.#retention.hourMs]);
    });
  }

  async #mark(sql: Sql, tier: 1 | 2): Promise<number> {
    return Number((await sql.get<{ value: string }>(SQL.meta, [`host.rollup.${tier}`]))?.value ?? 0);
  }
}
