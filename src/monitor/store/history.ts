import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import { type ContainerItem, UNKNOWN_UPDATE } from '../model/container.js';
import type { Db } from './database.js';

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

type Op = () => void;

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

/** Writes are queued and committed together this often: a crash loses at most this much. */
const FLUSH_MS = 250;
/** Queued writes kept while the disk refuses them; beyond this the oldest are dropped. */
const MAX_PENDING = 200_000;
const TIERS = [
  { tier: 1, size: 60_000, from: 0 },
  { tier: 2, size: 3_600_000, from: 1 },
] as const;

/**
 * The monitor's history in SQLite (better-sqlite3's guidance: one writer, statements prepared
 * once, many rows per transaction). Writes from the live state are queued and flushed in one
 * transaction every 250 ms; reads are synchronous and cheap. A write that fails (a full disk)
 * keeps the queue (bounded) and marks the history unhealthy; the live state goes on.
 */
export class History {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #retention: Retention;
  readonly #queue: Op[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #s: Statements;
  #error: string | undefined;
  #dropped = 0;
  readonly #now: Clock;
  #lastFlush: number;

  constructor(db: Db, log: Logger, retention: Retention, now: Clock = systemClock) {
    this.#db = db;
    this.#now = now;
    this.#lastFlush = now();
    this.#log = log;
    this.#retention = retention;
    this.#s = statements(db);
    this.#timer = setInterval(() => this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  /** Healthy, or why history is not being written (`/healthz`). */
  status(): {
    readonly ok: boolean;
    readonly error?: string;
    readonly pending: number;
    readonly dropped: number;
  } {
    return this.#error === undefined
      ? { ok: true, pending: this.#queue.length, dropped: this.#dropped }
      : { ok: false, error: this.#error, pending: this.#queue.length, dropped: this.#dropped };
  }

  saveContainer(item: ContainerItem, removedAt: number | null = null): void {
    const json = JSON.stringify(item);
    this.#enqueue(() =>
      this.#s.saveContainer.run(item.engine, item.id, item.name, json, this.#now(), removedAt),
    );
  }

  addTimeline(
    engine: string,
    container: string,
    timeNano: number,
    entry: TimelineEntry,
    dedupe: string | null,
  ): void {
    const detail = entry.detail === undefined ? null : JSON.stringify(entry.detail);
    this.#enqueue(() =>
      this.#s.addTimeline.run(
        engine,
        container,
        timeNano,
        entry.kind,
        entry.action,
        entry.exitCode ?? null,
        entry.expected === undefined ? null : entry.expected ? 1 : 0,
        entry.by ?? null,
        detail,
        dedupe,
      ),
    );
  }

  addSample(sample: Sample): void {
    this.#enqueue(() =>
      this.#s.addSample.run(
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
      ),
    );
  }

  setLastEvent(engine: string, url: string, nano: number, keys: readonly string[]): void {
    this.#enqueue(() => this.#s.setLastEvent.run(engine, url, String(nano), JSON.stringify(keys)));
  }

  /** An engine's status changed: the period before ends, a new one starts. */
  enginePeriod(engine: string, status: string, since: number, error: string | undefined): void {
    this.#enqueue(() => {
      this.#s.closePeriod.run(since, engine);
      this.#s.openPeriod.run(engine, status, since, error ?? null);
    });
  }

  lastEvent(engine: string): { nano: number; keys: string[] } | undefined {
    const row = this.#s.lastEvent.get(engine) as { nano: string | null; keys: string | null } | undefined;
    if (row?.nano === null || row?.nano === undefined) return undefined;
    return { nano: Number(row.nano), keys: JSON.parse(row.keys ?? '[]') as string[] };
  }

  /** Containers not removed when the monitor last ran: the state it starts from. */
  liveContainers(): ContainerItem[] {
    return (this.#s.liveContainers.all() as { item: string }[]).map((r) => storedItem(r.item));
  }

  /** A container known to the history (removed ones too): full id, unique prefix or name. */
  findContainer(engine: string, ref: string): ContainerItem | undefined | 'ambiguous' {
    const exact = this.#s.containerById.get(engine, ref) as { item: string } | undefined;
    if (exact !== undefined) return storedItem(exact.item);
    const prefix = `${ref.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = this.#s.containersByPrefixOrName.all(engine, prefix, ref.replace(/^\//, '')) as {
      id: string;
      item: string;
    }[];
    const byName = rows.filter((r) => (JSON.parse(r.item) as ContainerItem).name === ref.replace(/^\//, ''));
    const pick = byName.length > 0 ? byName : rows;
    if (pick.length === 0) return undefined;
    if (byName.length === 0 && new Set(pick.map((r) => r.id)).size > 1) return 'ambiguous';
    return storedItem((pick[0] as { item: string }).item);
  }

  timeline(engine: string, container: string, limit = 1000): TimelineEntry[] {
    this.flush(); // what the live state already showed is in the timeline too
    const rows = this.#s.timeline.all(engine, container, limit) as {
      nano: number;
      kind: TimelineEntry['kind'];
      action: string;
      exitCode: number | null;
      expected: number | null;
      by: string | null;
      detail: string | null;
    }[];
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
  stats(engine: string, container: string, sinceMs: number, stepMs: number): StatsPoint[] {
    this.flush();
    // The store's clock, not the wall clock: a test that pins time pins the tier too.
    const now = this.#now();
    const age = now - sinceMs;
    const tier =
      stepMs >= 3_600_000 || age > this.#retention.minuteMs
        ? 2
        : stepMs >= 60_000 || age > this.#retention.rawMs
          ? 1
          : 0;
    // Each tier up to its rollup mark; from there on the next finer tier's rows.
    const mark1 = this.#rollupMark(1);
    const mark2 = this.#rollupMark(2);
    const ranges = [
      [tier === 0 ? 0 : mark1, Number.MAX_SAFE_INTEGER],
      [tier === 1 ? 0 : mark2, mark1],
      [0, mark2],
    ] as const;
    const rows = this.#db
      .prepare(
        `SELECT CAST(t / ? AS INTEGER) * ? AS bucket, avg(cpu) AS cpu, avg(mem) AS mem, max(mem_limit) AS memLimit,
                max(net_rx) AS netRx, max(net_tx) AS netTx, max(blk_r) AS blkR, max(blk_w) AS blkW, max(pids) AS pids
         FROM samples WHERE engine = ? AND container = ? AND t >= ? AND tier <= ?
           AND ((tier = 2 AND t >= ? AND t < ?) OR (tier = 1 AND t >= ? AND t < ?) OR (tier = 0 AND t >= ? AND t < ?))
         GROUP BY bucket ORDER BY bucket`,
      )
      .all(
        stepMs,
        stepMs,
        engine,
        container,
        sinceMs,
        tier,
        ...ranges[2],
        ...ranges[1],
        ...ranges[0],
      ) as SampleRow[];
    const points = rows.map((r) => point(r.bucket, r));
    const last = points.at(-1);
    if (last !== undefined && Date.parse(last.time) + stepMs > now) {
      // The step under way: its newest raw sample, not the average of a part of a step.
      const newest = this.#s.newestSample.get(engine, container) as
        | (SampleValues & { t: number })
        | undefined;
      points[points.length - 1] =
        newest === undefined ? { ...last, partial: true } : { ...point(newest.t, newest), partial: true };
    }
    return points;
  }

  /** Where a tier's rollup has reached (ms): rows of the finer tiers from there on are not in it yet. */
  #rollupMark(tier: 1 | 2): number {
    return Number((this.#s.meta.get(`rollup.${tier}`) as { value: string } | undefined)?.value ?? 0);
  }

  /**
   * Rolls closed minutes and hours up into their tiers and drops what retention no longer keeps.
   * Idempotent (INSERT OR REPLACE over whole buckets), so a restart loses no rollup.
   */
  rollup(now = this.#now()): void {
    try {
      this.flush();
      this.#db.transaction(() => {
        for (const { tier, size, from } of TIERS) {
          const key = `rollup.${tier}`;
          const done = Number((this.#s.meta.get(key) as { value: string } | undefined)?.value ?? 0);
          const until = Math.floor(now / size) * size;
          if (until <= done) continue;
          this.#db
            .prepare(
              `INSERT OR REPLACE INTO samples (tier, engine, container, t, cpu, mem, mem_limit, net_rx, net_tx, blk_r, blk_w, pids)
               SELECT ?, engine, container, CAST(t / ? AS INTEGER) * ?, avg(cpu), avg(mem), max(mem_limit), max(net_rx), max(net_tx), max(blk_r), max(blk_w), max(pids)
               FROM samples WHERE tier = ? AND t >= ? AND t < ? GROUP BY engine, container, CAST(t / ? AS INTEGER)`,
            )
            .run(tier, size, size, from, Math.floor(done / size) * size, until, size);
          this.#s.setMeta.run(key, String(until));
        }
        const cut = this.#db.prepare('DELETE FROM samples WHERE tier = ? AND t < ?');
        cut.run(0, now - this.#retention.rawMs);
        cut.run(1, now - this.#retention.minuteMs);
        cut.run(2, now - this.#retention.hourMs);
        this.#db
          .prepare('DELETE FROM timeline WHERE time_nano < ?')
          .run((now - this.#retention.hourMs) * 1e6);
        this.#db
          .prepare('DELETE FROM containers WHERE removed_at IS NOT NULL AND removed_at < ?')
          .run(now - this.#retention.hourMs);
      })();
    } catch (error) {
      this.#failed(error);
    }
  }

  /** Commits what is queued, in one transaction. */
  flush(): void {
    if (this.#queue.length === 0) return;
    const ops = this.#queue.splice(0);
    try {
      this.#db.transaction(() => {
        for (const op of ops) op();
      })();
      if (this.#error !== undefined)
        this.#log.info({ dropped: this.#dropped }, 'history is being written again');
      this.#error = undefined;
      this.#lastFlush = this.#now();
    } catch (error) {
      // Keep them for the next try (a disk that fills up may be freed), oldest dropped past the cap.
      this.#queue.unshift(...ops);
      const excess = this.#queue.length - MAX_PENDING;
      if (excess > 0) {
        this.#queue.splice(0, excess);
        this.#dropped += excess;
      }
      this.#failed(error);
    }
  }

  /** Flushes and stops the timer; the database is closed by its owner. */
  close(): void {
    clearInterval(this.#timer);
    this.flush();
  }

  /** ms since the last successful commit. */
  get sinceFlush(): number {
    return this.#now() - this.#lastFlush;
  }

  #enqueue(op: Op): void {
    this.#queue.push(op);
  }

  #failed(error: unknown): void {
    const message = (error as Error).message;
    if (this.#error !== message) {
      this.#log.error({ err: message }, 'history is not being written (the live state goes on)');
    }
    this.#error = message;
  }
}

function statements(db: Db) {
  return {
    saveContainer: db.prepare(
      `INSERT INTO containers (engine, id, name, item, first_seen, removed_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (engine, id) DO UPDATE SET name = excluded.name, item = excluded.item, removed_at = excluded.removed_at`,
    ),
    addTimeline: db.prepare(
      `INSERT OR IGNORE INTO timeline (engine, container, time_nano, kind, action, exit_code, expected, by, detail, dedupe)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    addSample: db.prepare(
      `INSERT OR REPLACE INTO samples (tier, engine, container, t, cpu, mem, mem_limit, net_rx, net_tx, blk_r, blk_w, pids)
         VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    setLastEvent: db.prepare(
      `INSERT INTO engines (name, url, last_event_nano, last_event_keys) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, last_event_nano = excluded.last_event_nano, last_event_keys = excluded.last_event_keys`,
    ),
    closePeriod: db.prepare('UPDATE engine_periods SET until = ? WHERE engine = ? AND until IS NULL'),
    openPeriod: db.prepare('INSERT INTO engine_periods (engine, status, since, error) VALUES (?, ?, ?, ?)'),
    lastEvent: db.prepare(
      'SELECT last_event_nano AS nano, last_event_keys AS keys FROM engines WHERE name = ?',
    ),
    timeline: db.prepare(
      `SELECT time_nano AS nano, kind, action, exit_code AS exitCode, expected, by, detail FROM timeline
         WHERE engine = ? AND container = ? ORDER BY time_nano, seq LIMIT ?`,
    ),
    liveContainers: db.prepare('SELECT item FROM containers WHERE removed_at IS NULL'),
    containerById: db.prepare('SELECT item FROM containers WHERE engine = ? AND id = ?'),
    containersByPrefixOrName: db.prepare(
      `SELECT id, item FROM containers WHERE engine = ? AND (id LIKE ? ESCAPE '\\' OR name = ?) ORDER BY removed_at IS NULL DESC, first_seen DESC`,
    ),
    meta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    newestSample: db.prepare(
      `SELECT t, cpu, mem, mem_limit AS memLimit, net_rx AS netRx, net_tx AS netTx, blk_r AS blkR, blk_w AS blkW, pids
       FROM samples WHERE tier = 0 AND engine = ? AND container = ? ORDER BY t DESC LIMIT 1`,
    ),
    setMeta: db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
  };
}

type Statements = ReturnType<typeof statements>;

/** An item as stored: one written before a field existed gets its default (`update`: unknown). */
function storedItem(text: string): ContainerItem {
  const item = JSON.parse(text) as ContainerItem;
  return item.update === undefined ? { ...item, update: UNKNOWN_UPDATE } : item;
}
