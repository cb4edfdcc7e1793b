import type { Clock } from '../../clock.js';
import type { HostFilesystem } from '../../engine/host/host-answer.js';
import { type Retention, statsTier, TIERS } from '../store/history.js';
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
  /** PSI `some avg10` (percent of time stalled), where the kernel has it. */
  readonly cpuPressurePercent: number | null;
  readonly memoryPressurePercent: number | null;
  readonly ioPressurePercent: number | null;
  /** Every whole disk's bytes read and written per second. */
  readonly diskReadBytesPerSecond: number | null;
  readonly diskWriteBytesPerSecond: number | null;
  /** The hottest sensor's temperature, where the host has sensors. */
  readonly temperatureCelsius: number | null;
}

/** One point of `GET /api/v1/engines/{name}/host` (docs/hosts.md): the contract's names. */
export interface HostSeriesPoint extends Omit<HostPoint, 't'> {
  readonly time: string;
}

/** One filesystem's use over the range (`filesystems` of the same answer). */
export interface FilesystemSeries {
  readonly mount: string;
  readonly points: readonly { time: string; usedBytes: number | null; availableBytes: number | null }[];
}

/** Each stored figure: its column, its name in the API, the digits it is rounded to. */
const FIELDS = [
  ['cpu', 'cpuPercent', 2],
  ['mem_used', 'memoryUsedBytes', 0],
  ['mem_avail', 'memoryAvailableBytes', 0],
  ['swap_used', 'swapUsedBytes', 0],
  ['root_used', 'dockerRootUsedBytes', 0],
  ['root_avail', 'dockerRootAvailableBytes', 0],
  ['load1', 'load1', 2],
  ['net_rx', 'netRxBytesPerSecond', 0],
  ['net_tx', 'netTxBytesPerSecond', 0],
  ['psi_cpu', 'cpuPressurePercent', 2],
  ['psi_mem', 'memoryPressurePercent', 2],
  ['psi_io', 'ioPressurePercent', 2],
  ['disk_read', 'diskReadBytesPerSecond', 0],
  ['disk_write', 'diskWriteBytesPerSecond', 0],
  ['temp', 'temperatureCelsius', 1],
] as const satisfies readonly (readonly [string, keyof HostSeriesPoint, number])[];

/** The host_samples columns past the key, in FIELDS' order (store/copy-store.ts copies them). */
export const HOST_SAMPLE_COLUMNS: readonly string[] = FIELDS.map(([column]) => column);
const COLUMNS = HOST_SAMPLE_COLUMNS.join(', ');
/** Raw rows from the tiers the range needs: each tier up to where the coarser one has rolled up. */
const TIERED = '((tier = 2 AND t < ?) OR (tier = 1 AND t >= ? AND t < ?) OR (tier = 0 AND t >= ?))';

const SQL = {
  add: `INSERT INTO host_samples (tier, engine, t, ${COLUMNS}) VALUES (0, ?, ?, ${FIELDS.map(() => '?').join(', ')})
    ON CONFLICT (tier, engine, t) DO NOTHING`,
  addFs: `INSERT INTO host_fs_samples (tier, engine, mount, t, used, avail) VALUES (0, ?, ?, ?, ?, ?)
    ON CONFLICT (tier, engine, mount, t) DO NOTHING`,
  series: `SELECT CAST(t / ? AS BIGINT) * ? AS bucket, ${FIELDS.map(([c, name]) => `avg(${c}) AS "${name}"`).join(', ')}
    FROM host_samples WHERE engine = ? AND t >= ? AND ${TIERED}
    GROUP BY bucket ORDER BY bucket`,
  fsSeries: `SELECT mount, CAST(t / ? AS BIGINT) * ? AS bucket, avg(used) AS used, avg(avail) AS avail
    FROM host_fs_samples WHERE engine = ? AND t >= ? AND ${TIERED}
    GROUP BY mount, bucket ORDER BY mount, bucket`,
  recentFree: `SELECT mount, t, avail FROM host_fs_samples WHERE tier = 0 AND engine = ? AND t >= ? ORDER BY t`,
  rollup: `INSERT INTO host_samples (tier, engine, t, ${COLUMNS})
    SELECT CAST(? AS INTEGER), engine, CAST(t / ? AS BIGINT) * ?, ${FIELDS.map(([c]) => `avg(${c})`).join(', ')}
    FROM host_samples WHERE tier = ? AND t >= ? AND t < ? GROUP BY 2, 3
    ON CONFLICT (tier, engine, t) DO UPDATE SET ${FIELDS.map(([c]) => `${c} = excluded.${c}`).join(', ')}`,
  rollupFs: `INSERT INTO host_fs_samples (tier, engine, mount, t, used, avail)
    SELECT CAST(? AS INTEGER), engine, mount, CAST(t / ? AS BIGINT) * ?, avg(used), avg(avail)
    FROM host_fs_samples WHERE tier = ? AND t >= ? AND t < ? GROUP BY 2, 3, 4
    ON CONFLICT (tier, engine, mount, t) DO UPDATE SET used = excluded.used, avail = excluded.avail`,
  cut: 'DELETE FROM host_samples WHERE tier = ? AND t < ?',
  cutFs: 'DELETE FROM host_fs_samples WHERE tier = ? AND t < ?',
  meta: 'SELECT value FROM meta WHERE key = ?',
  setMeta:
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
} as const;

const round = (v: number | null, digits = 0): number | null =>
  v === null ? null : Math.round(Number(v) * 10 ** digits) / 10 ** digits;

/**
 * The hosts' samples in the store, in the tiers container stats use (raw, one-minute, one-hour;
 * the same retention): one row per reading for the host, one per filesystem; written through the
 * one writer, rolled up by the monitor's minute timer, read back as series whose finest tier still
 * holds the range — and the free space of the last hours, so `disk-fill` has its window again after
 * a restart or a takeover.
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

  add(engine: string, p: HostPoint, filesystems: readonly HostFilesystem[]): void {
    this.#writer.push(SQL.add, [engine, p.t, ...FIELDS.map(([, name]) => p[name])], { engine });
    for (const fs of filesystems)
      this.#writer.push(SQL.addFs, [engine, fs.mount, p.t, fs.usedBytes, fs.availableBytes], { engine });
  }

  /** The tier bounds of a range, as History.stats picks them. */
  async #tiers(sinceMs: number, stepMs: number): Promise<[number, number, number, number]> {
    const mark1 = await this.#mark(this.#sql, 1);
    const mark2 = await this.#mark(this.#sql, 2);
    const tier = statsTier(this.#now() - sinceMs, stepMs, this.#retention);
    // [hour tier until, minute tier from, minute tier until, raw tier from]
    return tier === 0 ? [0, 0, 0, 0] : tier === 1 ? [0, 0, mark1, mark1] : [mark2, mark2, mark1, mark1];
  }

  /** Points from `sinceMs`, one per `stepMs`, averaged; each range from the finest tier that has it. */
  async series(engine: string, sinceMs: number, stepMs: number): Promise<HostSeriesPoint[]> {
    await this.#writer.flush();
    const rows = await this.#sql.all<Record<string, number | null> & { bucket: number }>(SQL.series, [
      stepMs,
      stepMs,
      engine,
      sinceMs,
      ...(await this.#tiers(sinceMs, stepMs)),
    ]);
    return rows.map(
      (r) =>
        Object.fromEntries([
          ['time', new Date(Number(r.bucket)).toISOString()],
          ...FIELDS.map(([, name, digits]) => [name, round(r[name] ?? null, digits)]),
        ]) as unknown as HostSeriesPoint,
    );
  }

  /** Every filesystem's used and available bytes over the range, as `series` steps them. */
  async filesystems(engine: string, sinceMs: number, stepMs: number): Promise<FilesystemSeries[]> {
    await this.#writer.flush();
    const rows = await this.#sql.all<{
      mount: string;
      bucket: number;
      used: number | null;
      avail: number | null;
    }>(SQL.fsSeries, [stepMs, stepMs, engine, sinceMs, ...(await this.#tiers(sinceMs, stepMs))]);
    const out = new Map<string, FilesystemSeries['points'][number][]>();
    for (const r of rows) {
      const points = out.get(r.mount) ?? out.set(r.mount, []).get(r.mount) ?? [];
      points.push({
        time: new Date(Number(r.bucket)).toISOString(),
        usedBytes: round(r.used),
        availableBytes: round(r.avail),
      });
    }
    return [...out].map(([mount, points]) => ({ mount, points }));
  }

  /** Free bytes per mount of the raw tier since `sinceMs`: `disk-fill`'s window, read back. */
  async recentFree(engine: string, sinceMs: number): Promise<{ t: number; free: Map<string, number> }[]> {
    await this.#writer.flush();
    const rows = await this.#sql.all<{ mount: string; t: number; avail: number | null }>(SQL.recentFree, [
      engine,
      sinceMs,
    ]);
    const byTime = new Map<number, Map<string, number>>();
    for (const r of rows) {
      if (r.avail === null) continue;
      const t = Number(r.t);
      const free = byTime.get(t) ?? byTime.set(t, new Map()).get(t) ?? new Map<string, number>();
      free.set(r.mount, Number(r.avail));
    }
    return [...byTime].map(([t, free]) => ({ t, free }));
  }

  /** Rolls closed minutes and hours up and drops what retention no longer keeps (idempotent). */
  async rollup(now = this.#now()): Promise<void> {
    await this.#writer.flush();
    await this.#sql.transaction(async (tx) => {
      for (const { tier, size, from } of TIERS) {
        const done = await this.#mark(tx, tier);
        const until = Math.floor(now / size) * size;
        if (until <= done) continue;
        const args = [tier, size, size, from, Math.floor(done / size) * size, until];
        await tx.run(SQL.rollup, args);
        await tx.run(SQL.rollupFs, args);
        await tx.run(SQL.setMeta, [`host.rollup.${tier}`, String(until)]);
      }
      for (const [tier, keep] of [
        [0, this.#retention.rawMs],
        [1, this.#retention.minuteMs],
        [2, this.#retention.hourMs],
      ] as const) {
        await tx.run(SQL.cut, [tier, now - keep]);
        await tx.run(SQL.cutFs, [tier, now - keep]);
      }
    });
  }

  async #mark(sql: Sql, tier: 1 | 2): Promise<number> {
    return Number((await sql.get<{ value: string }>(SQL.meta, [`host.rollup.${tier}`]))?.value ?? 0);
  }
}
