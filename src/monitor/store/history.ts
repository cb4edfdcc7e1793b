import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import { type ContainerItem, UNKNOWN_UPDATE } from '../model/container.js';
import type { EngineView } from '../state/live-state.js';
import { maintainSamplePartitions } from './postgres/sample-partitions.js';
import type { Sql } from './sql.js';
import type { Writer, WriterStatus } from './writer.js';

/** One entry of a container's timeline (`GET /api/v1/containers/{engine}/{id}`). */
export interface TimelineEntry {
  /** ISO 8601 UTC. */
  readonly time: string;
  /** `event`: the engine said so; `action`: asked through the monitor; `reconcile`: seen on (re)connect. */
  readonly kind: 'event' | 'action' | 'reconcile';
  /** Docker's event action names: create, start, kill, stop, die, oom, pause, health_status, … */
  readonly action: string;
  readonly exitCode?: number;
  /** On a `die` that a user's stop or kill caused. */
  readonly expected?: boolean;
  /** Who asked (a token's name), on actions asked through the monitor. */
  readonly by?: string;
  /** Event attributes worth keeping (signal, health status, new name, error). */
  readonly detail?: Readonly<Record<string, string>>;
}

export interface Sample {
  readonly engine: string;
  readonly container: string;
  /** ms since the epoch. */
  readonly t: number;
  readonly cpu: number | null;
  readonly mem: number | null;
  readonly memLimit: number | null;
  readonly netRx: number | null;
  readonly netTx: number | null;
  readonly blkR: number | null;
  readonly blkW: number | null;
  readonly pids: number | null;
}

/** One point of `GET …/stats`. */
export interface StatsPoint {
  readonly time: string;
  readonly cpuPercent: number | null;
  readonly memoryBytes: number | null;
  readonly memoryLimitBytes: number | null;
  readonly networkRxBytes: number | null;
  readonly networkTxBytes: number | null;
  readonly blockReadBytes: number | null;
  readonly blockWriteBytes: number | null;
  readonly pids: number | null;
  /** The step still under way: its newest sample (the value the live state shows). */
  readonly partial?: true;
}

export interface Retention {
  readonly rawMs: number;
  readonly minuteMs: number;
  readonly hourMs: number;
}

/** A sample's values, as the stats queries read them (averaged or last per bucket). */
type SampleValues = Omit<Sample, 'engine' | 'container' | 't'>;

/** One bucket of the stats query. */
interface SampleRow extends SampleValues {
  readonly bucket: number;
}

function point(time: number, r: SampleValues): StatsPoint {
  return {
    time: new Date(time).toISOString(),
    cpuPercent: r.cpu === null ? null : Math.round(r.cpu * 100) / 100,
    memoryBytes: r.mem === null ? null : Math.round(r.mem),
    memoryLimitBytes: r.memLimit,
    networkRxBytes: r.netRx,
    networkTxBytes: r.netTx,
    blockReadBytes: r.blkR,
    blockWriteBytes: r.blkW,
    pids: r.pids,
  };
}

/**
 * The tier a range reads from: the finest one whose retention still holds it and whose grain
 * is not finer than the step (0 raw, 1 one-minute, 2 one-hour) — container stats and hosts alike.
 */
export function statsTier(ageMs: number, stepMs: number, retention: Retention): 0 | 1 | 2 {
  if (stepMs >= 3_600_000 || ageMs > retention.minuteMs) return 2;
  if (stepMs >= 60_000 || ageMs > retention.rawMs) return 1;
  return 0;
}

/** The advisory lock key of the rollup (transaction-scoped: safe behind PgBouncer). */
const ROLLUP_LOCK = 0x64677275;

/** The rolled-up tiers: each bucket size, and the finer tier it is made from. */
export const TIERS = [
  { tier: 1, size: 60_000, from: 0 },
  { tier: 2, size: 3_600_000, from: 1 },
] as const;

const SQL = {
  saveContainer: `INSERT INTO containers (engine, id, name, item, first_seen, removed_at, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (engine, id) DO UPDATE SET name = excluded.name, item = excluded.item, removed_at = excluded.removed_at,
      changed_at = excluded.changed_at`,
  saveEngineView: `INSERT INTO engines (name, url, view, changed_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET url = excluded.url, view = excluded.view, changed_at = excluded.changed_at`,
  addTimeline: `INSERT INTO timeline (engine, container, time_nano, kind, action, exit_code, expected, "by", detail, dedupe)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  addSample: `INSERT INTO samples (tier, engine, container, t, cpu, mem, mem_limit, net_rx, net_tx, blk_r, blk_w, pids)
    VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (tier, engine, container, t) DO UPDATE SET cpu = excluded.cpu, mem = excluded.mem,
      mem_limit = excluded.mem_limit, net_rx = excluded.net_rx, net_tx = excluded.net_tx,
      blk_r = excluded.blk_r, blk_w = excluded.blk_w, pids = excluded.pids`,
  setLastEvent: `INSERT INTO engines (name, url, last_event_nano, last_event_keys) VALUES (?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET url = excluded.url, last_event_nano = excluded.last_event_nano, last_event_keys = excluded.last_event_keys`,
  closePeriod: 'UPDATE engine_periods SET until = ? WHERE engine = ? AND until IS NULL',
  openPeriod: 'INSERT INTO engine_periods (engine, status, since, error) VALUES (?, ?, ?, ?)',
  lastEvent: 'SELECT last_event_nano AS nano, last_event_keys AS keys FROM engines WHERE name = ?',
  timeline: `SELECT time_nano AS nano, kind, action, exit_code AS "exitCode", expected, "by", detail FROM timeline
    WHERE engine = ? AND container = ? ORDER BY time_nano, seq LIMIT ?`,
  liveContainers: 'SELECT item FROM containers WHERE removed_at IS NULL',
  containerById: 'SELECT item FROM containers WHERE engine = ? AND id = ?',
  containersByPrefixOrName: `SELECT id, item FROM containers WHERE engine = ? AND (id LIKE ? ESCAPE '\\' OR name = ?)
    ORDER BY removed_at IS NULL DESC, first_seen DESC`,
  meta: 'SELECT value FROM meta WHERE key = ?',
  setMeta:
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  newestSample: `SELECT t, cpu, mem, mem_limit AS "memLimit", net_rx AS "netRx", net_tx AS "netTx", blk_r AS "blkR", blk_w AS "blkW", pids
    FROM samples WHERE tier = 0 AND engine = ? AND container = ? ORDER BY t DESC LIMIT 1`,
  stats: `SELECT CAST(t / ? AS BIGINT) * ? AS bucket, avg(cpu) AS cpu, avg(mem) AS mem, max(mem_limit) AS "memLimit",
      max(net_rx) AS "netRx", max(net_tx) AS "netTx", max(blk_r) AS "blkR", max(blk_w) AS "blkW", max(pids) AS pids
    FROM samples WHERE engine = ? AND container = ? AND t >= ? AND tier <= ?
      AND ((tier = 2 AND t >= ? AND t < ?) OR (tier = 1 AND t >= ? AND t < ?) OR (tier = 0 AND t >= ? AND t < ?))
    GROUP BY bucket ORDER BY bucket`,
  rollup: `INSERT INTO samples (tier, engine, container, t, cpu, mem, mem_limit, net_rx, net_tx, blk_r, blk_w, pids)
    SELECT CAST(? AS INTEGER), engine, container, CAST(t / ? AS BIGINT) * ?, avg(cpu), avg(mem), max(mem_limit),
      max(net_rx), max(net_tx), max(blk_r), max(blk_w), max(pids)
    FROM samples WHERE tier = ? AND t >= ? AND t < ? GROUP BY 2, 3, 4
    ON CONFLICT (tier, engine, container, t) DO UPDATE SET cpu = excluded.cpu, mem = excluded.mem,
      mem_limit = excluded.mem_limit, net_rx = excluded.net_rx, net_tx = excluded.net_tx,
      blk_r = excluded.blk_r, blk_w = excluded.blk_w, pids = excluded.pids`,
  cutSamples: 'DELETE FROM samples WHERE tier = ? AND t < ?',
  cutTimeline: 'DELETE FROM timeline WHERE time_nano < ?',
  cutContainers: 'DELETE FROM containers WHERE removed_at IS NOT NULL AND removed_at < ?',
} as const;

/**
 * The monitor's history — containers, timelines, stats tiers, engine periods — in the store
 * (SQLite or PostgreSQL: one SQL text, sql.ts). Writes from the live state are queued on the
 * store's one writer and committed together every 250 ms (writer.ts); reads flush first, so what
 * the live state showed is in the answer. A store that refuses writes keeps them queued (bounded)
 * and marks the history unhealthy; the live state goes on.
 */
export class History {
  readonly #sql: Sql;
  readonly #writer: Writer;
  readonly #log: Logger;
  readonly #retention: Retention;
  readonly #now: Clock;

  constructor(sql: Sql, writer: Writer, log: Logger, retention: Retention, now: Clock = systemClock) {
    this.#sql = sql;
    this.#writer = writer;
    this.#now = now;
    this.#log = log;
    this.#retention = retention;
  }

  /** Healthy, or why history is not being written (`/healthz`). */
  status(): WriterStatus {
    return this.#writer.status();
  }

  saveContainer(item: ContainerItem, removedAt: number | null = null): void {
    const now = this.#now();
    this.#writer.push(
      SQL.saveContainer,
      [item.engine, item.id, item.name, JSON.stringify(item), now, removedAt, now],
      {
        engine: item.engine,
        wake: true,
      },
    );
  }

  /** An engine's view as the API shows it (the monitors that do not own it show this one). */
  saveEngineView(view: EngineView): void {
    this.#writer.push(SQL.saveEngineView, [view.name, view.url, JSON.stringify(view), this.#now()], {
      engine: view.name,
      wake: true,
    });
  }

  addTimeline(
    engine: string,
    container: string,
    timeNano: number,
    entry: TimelineEntry,
    dedupe: string | null,
  ): void {
    this.#writer.push(
      SQL.addTimeline,
      [
        engine,
        container,
        timeNano,
        entry.kind,
        entry.action,
        entry.exitCode ?? null,
        entry.expected === undefined ? null : entry.expected ? 1 : 0,
        entry.by ?? null,
        entry.detail === undefined ? null : JSON.stringify(entry.detail),
        dedupe,
      ],
      { engine },
    );
  }

  addSample(sample: Sample): void {
    this.#writer.push(
      SQL.addSample,
      [
        sample.engine,
        sample.container,
        sample.t,
        sample.cpu,
        sample.mem,
        sample.memLimit,
        sample.netRx,
        sample.netTx,
        sample.blkR,
        sample.blkW,
        sample.pids,
      ],
      { engine: sample.engine },
    );
  }

  setLastEvent(engine: string, url: string, nano: number, keys: readonly string[]): void {
    this.#writer.push(SQL.setLastEvent, [engine, url, String(nano), JSON.stringify(keys)], { engine });
  }

  /** An engine's status changed: the period before ends, a new one starts. */
  enginePeriod(engine: string, status: string, since: number, error: string | undefined): void {
    this.#writer.push(SQL.closePeriod, [since, engine], { engine });
    this.#writer.push(SQL.openPeriod, [engine, status, since, error ?? null], { engine });
  }

  async lastEvent(engine: string): Promise<{ nano: number; keys: string[] } | undefined> {
    await this.#writer.flush();
    const row = await this.#sql.get<{ nano: string | null; keys: string | null }>(SQL.lastEvent, [engine]);
    if (row?.nano === null || row?.nano === undefined) return undefined;
    return { nano: Number(row.nano), keys: JSON.parse(row.keys ?? '[]') as string[] };
  }

  /** Containers not removed when the monitor last ran: the state it starts from. */
  async liveContainers(): Promise<ContainerItem[]> {
    return (await this.#sql.all<{ item: string }>(SQL.liveContainers)).map((r) => storedItem(r.item));
  }

  /** A container known to the history (removed ones too): full id, unique prefix or name. */
  async findContainer(engine: string, ref: string): Promise<ContainerItem | undefined | 'ambiguous'> {
    await this.#writer.flush();
    const exact = await this.#sql.get<{ item: string }>(SQL.containerById, [engine, ref]);
    if (exact !== undefined) return storedItem(exact.item);
    const prefix = `${ref.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.#sql.all<{ id: string; item: string }>(SQL.containersByPrefixOrName, [
      engine,
      prefix,
      ref.replace(/^\//, ''),
    ]);
    const byName = rows.filter((r) => (JSON.parse(r.item) as ContainerItem).name === ref.replace(/^\//, ''));
    const pick = byName.length > 0 ? byName : rows;
    if (pick.length === 0) return undefined;
    if (byName.length === 0 && new Set(pick.map((r) => r.id)).size > 1) return 'ambiguous';
    return storedItem((pick[0] as { item: string }).item);
  }

  async timeline(engine: string, container: string, limit = 1000): Promise<TimelineEntry[]> {
    await this.#writer.flush(); // what the live state already showed is in the timeline too
    const rows = await this.#sql.all<{
      nano: number;
      kind: TimelineEntry['kind'];
      action: string;
      exitCode: number | null;
      expected: number | null;
      by: string | null;
      detail: string | null;
    }>(SQL.timeline, [engine, container, limit]);
    return rows.map((r) => ({
      time: new Date(Math.floor(r.nano / 1e6)).toISOString(),
      kind: r.kind,
      action: r.action,
      ...(r.exitCode === null ? {} : { exitCode: r.exitCode }),
      ...(r.expected === null ? {} : { expected: r.expected === 1 }),
      ...(r.by === null ? {} : { by: r.by }),
      ...(r.detail === null ? {} : { detail: JSON.parse(r.detail) as Record<string, string> }),
    }));
  }

  /**
   * Stats points from `sinceMs`, one per `stepMs`: read from the finest tier that still holds
   * that range (raw, one-minute, one-hour), averaged per step (counters: their last value). What
   * the coarser tier has not rolled up yet (the last minutes, the last hour) comes from the finer
   * tiers, so every range reaches the newest sample; the step still under way is returned as a
   * `partial` point holding that newest sample — the value the live state shows (issue 23).
   */
  async stats(engine: string, container: string, sinceMs: number, stepMs: number): Promise<StatsPoint[]> {
    await this.#writer.flush();
    // The store's clock, not the wall clock: a test that pins time pins the tier too.
    const now = this.#now();
    const tier = statsTier(now - sinceMs, stepMs, this.#retention);
    // Each tier up to its rollup mark; from there on the next finer tier's rows.
    const mark1 = await this.#rollupMark(this.#sql, 1);
    const mark2 = await this.#rollupMark(this.#sql, 2);
    const ranges = [
      [tier === 0 ? 0 : mark1, Number.MAX_SAFE_INTEGER],
      [tier === 1 ? 0 : mark2, mark1],
      [0, mark2],
    ] as const;
    const rows = await this.#sql.all<SampleRow>(SQL.stats, [
      stepMs,
      stepMs,
      engine,
      container,
      sinceMs,
      tier,
      ...ranges[2],
      ...ranges[1],
      ...ranges[0],
    ]);
    const points = rows.map((r) => point(r.bucket, r));
    const last = points.at(-1);
    if (last !== undefined && Date.parse(last.time) + stepMs > now) {
      // The step under way: its newest raw sample, not the average of a part of a step.
      const newest = await this.#sql.get<SampleValues & { t: number }>(SQL.newestSample, [engine, container]);
      points[points.length - 1] =
        newest === undefined ? { ...last, partial: true } : { ...point(newest.t, newest), partial: true };
    }
    return points;
  }

  /** Where a tier's rollup has reached (ms): rows of the finer tiers from there on are not in it yet. */
  async #rollupMark(sql: Sql, tier: 1 | 2): Promise<number> {
    return Number((await sql.get<{ value: string }>(SQL.meta, [`rollup.${tier}`]))?.value ?? 0);
  }

  /**
   * Rolls closed minutes and hours up into their tiers and drops what retention no longer keeps.
   * Idempotent (upserts over whole buckets), so a restart loses no rollup. On PostgreSQL the days
   * ahead are made and the days past retention dropped as partitions (sample-partitions.ts).
   */
  async rollup(now = this.#now()): Promise<void> {
    try {
      await this.#writer.flush();
      await this.#sql.transaction(async (tx) => {
        // Monitors sharing a PostgreSQL store roll up one at a time (the work is idempotent).
        if (tx.kind === 'postgres') await tx.run('SELECT pg_advisory_xact_lock(?)', [ROLLUP_LOCK]);
        for (const { tier, size, from } of TIERS) {
          const done = await this.#rollupMark(tx, tier);
          const until = Math.floor(now / size) * size;
          if (until <= done) continue;
          await tx.run(SQL.rollup, [tier, size, size, from, Math.floor(done / size) * size, until]);
          await tx.run(SQL.setMeta, [`rollup.${tier}`, String(until)]);
        }
        await tx.run(SQL.cutSamples, [0, now - this.#retention.rawMs]);
        await tx.run(SQL.cutSamples, [1, now - this.#retention.minuteMs]);
        await tx.run(SQL.cutSamples, [2, now - this.#retention.hourMs]);
        await tx.run(SQL.cutTimeline, [(now - this.#retention.hourMs) * 1e6]);
        await tx.run(SQL.cutContainers, [now - this.#retention.hourMs]);
      });
      if (this.#sql.kind === 'postgres')
        await this.#sql.transaction(async (tx) => {
          await tx.run('SELECT pg_advisory_xact_lock(?)', [ROLLUP_LOCK]);
          await maintainSamplePartitions(tx, now, this.#retention);
        });
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'history rollup failed; tried again next minute');
      this.#writer.failed(error);
    }
  }

  /** Commits what is queued. */
  flush(): Promise<void> {
    return this.#writer.flush();
  }
}

/** An item as stored: one written before a field existed gets its default (`update`: unknown). */
function storedItem(text: string): ContainerItem {
  const item = JSON.parse(text) as ContainerItem;
  return item.update === undefined ? { ...item, update: UNKNOWN_UPDATE } : item;
}
