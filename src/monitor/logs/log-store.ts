import { join } from 'node:path';
import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import { type Db, openDatabase } from '../store/database.js';
import { isoNanos } from './engine-lines.js';
import type { LogQuery } from './log-query.js';
import { LOG_MIGRATIONS } from './log-schema.js';

/** Which container incarnation a line came from. */
export interface SourceMeta {
  readonly engine: string;
  readonly container: string;
  readonly name: string;
  readonly project: string | null;
  readonly service: string | null;
  readonly image: string | null;
}

/** Where collection of a source resumes: the last stored line's time and how many had it. */
export interface Resume {
  readonly ms: number;
  readonly sub: number;
  readonly count: number;
}

export interface SourceRow extends SourceMeta {
  readonly id: number;
  readonly resume: Resume | undefined;
  readonly lines: number;
  readonly bytes: number;
  readonly dropped: number;
  readonly gaps: number;
  readonly note: string | null;
}

export type LogStream = 'stdout' | 'stderr' | 'dockgate';

/** One line as the API returns it (`GET /api/v1/logs`, the contract of docs/logs.md). */
export interface StoredLine {
  readonly engine: string;
  readonly id: string;
  readonly name: string;
  readonly project: string | null;
  readonly service: string | null;
  readonly stream: LogStream;
  /** The engine's time, RFC 3339 with nanoseconds. */
  readonly time: string;
  readonly text: string;
  /** Where this line is: `before`/`after` take it, and `/logs/context`. */
  readonly cursor: string;
}

/** A line just stored, with its source (for listeners that filter by container, project, …). */
export interface Stored {
  readonly source: SourceRow;
  readonly line: StoredLine;
}

export interface LogSearch {
  readonly query: LogQuery;
  /** Source ids to search; undefined: all. */
  readonly sources: readonly number[] | undefined;
  readonly stream: LogStream | undefined;
  readonly sinceMs: number | undefined;
  readonly untilMs: number | undefined;
  readonly order: 'asc' | 'desc';
  readonly before: number | undefined;
  readonly after: number | undefined;
  readonly limit: number;
  /** Candidates looked at, at most (a /regex/ or an exclusion over millions of lines). */
  readonly scanBound: number;
}

export interface LogPage {
  readonly lines: StoredLine[];
  /** Pass back as `before` (desc) or `after` (asc); null when there is nothing more. */
  readonly next: string | null;
  /** The scan bound was reached before `limit` lines: `next` goes on from where it stopped. */
  readonly truncated: boolean;
}

export interface LogRetention {
  readonly ageMs: number;
  readonly sizeBytes: number;
}

interface Pending {
  readonly source: number;
  readonly stream: 0 | 1 | 2;
  readonly ms: number;
  readonly sub: number;
  readonly text: string;
}

interface Row {
  readonly id: number;
  readonly source: number;
  readonly stream: number;
  readonly sub: number;
  readonly text: string;
}

const STREAMS: readonly LogStream[] = ['stdout', 'stderr', 'dockgate'];
/** Lines per millisecond slot in the rowid (see log-schema.ts). */
const SLOT = 2048;
const FLUSH_MS = 250;
/** Queued lines beyond this make the collectors wait (backpressure to the engine, nothing lost). */
const HIGH_WATER = 50_000;
/** Lines fetched per step of a search. */
const BATCH = 500;
/** Lines deleted per step of retention. */
const PRUNE_BATCH = 5_000;
/** Per source: below this many bytes of text, the size limit takes from others first. */
const FLOOR_SHARE = 200;
const MIN_FLOOR = 1024 * 1024;

/**
 * Every container's log lines in SQLite (`logs.db`) with a word index (FTS5). One writer: lines
 * are queued by the collectors and committed every 250 ms in one transaction, together with
 * each source's resume point — so a crash (SIGKILL) loses nothing that is not collected again.
 * Listeners (the live search, log alerts) hear of lines once they are stored.
 */
export class LogStore {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #now: Clock;
  #retention: LogRetention;
  readonly #queue: Pending[] = [];
  /** Sources whose counters or resume point moved since the last commit. */
  readonly #dirty = new Set<number>();
  readonly #sources = new Map<number, SourceRow>();
  readonly #listeners = new Set<(lines: readonly Stored[]) => void>();
  readonly #waiters: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #s: ReturnType<typeof statements>;
  #maxId: number;
  #error: string | undefined;
  #closed = false;

  constructor(dataDir: string, log: Logger, retention: LogRetention, now: Clock = systemClock) {
    this.#db = openDatabase(dataDir, { file: join(dataDir, 'logs.db'), migrations: LOG_MIGRATIONS });
    this.#log = log;
    this.#now = now;
    this.#retention = retention;
    this.#s = statements(this.#db);
    this.#maxId = (this.#db.prepare('SELECT max(id) AS m FROM lines').get() as { m: number | null }).m ?? 0;
    for (const row of this.#s.allSources.all() as SourceDbRow[]) this.#sources.set(row.id, sourceRow(row));
    this.#timer = setInterval(() => this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  /** The source of a container incarnation, created on first sight; its name and labels kept current. */
  source(meta: SourceMeta): SourceRow {
    const row = this.#s.upsertSource.get(
      meta.engine,
      meta.container,
      meta.name,
      meta.project,
      meta.service,
      meta.image,
    ) as SourceDbRow;
    const known = this.#sources.get(row.id);
    // Counters and the resume point of lines still queued are newer in memory.
    const merged = known === undefined ? sourceRow(row) : { ...known, ...meta };
    this.#sources.set(row.id, merged);
    return merged;
  }

  sourceById(id: number): SourceRow | undefined {
    return this.#sources.get(id);
  }

  /** The sources the filters name (`container`: full id, id prefix of 4+, or exact name). */
  findSources(filter: {
    engine?: string | undefined;
    container?: string | undefined;
    project?: string | undefined;
    service?: string | undefined;
  }): SourceRow[] {
    const out: SourceRow[] = [];
    const ref = filter.container;
    for (const s of this.#sources.values()) {
      if (filter.engine !== undefined && s.engine !== filter.engine) continue;
      if (filter.project !== undefined && s.project !== filter.project) continue;
      if (filter.service !== undefined && s.service !== filter.service) continue;
      if (
        ref !== undefined &&
        s.name !== ref &&
        s.container !== ref &&
        !(ref.length >= 4 && /^[0-9a-f]+$/.test(ref) && s.container.startsWith(ref))
      )
        continue;
      out.push(s);
    }
    return out;
  }

  sources(): SourceRow[] {
    return [...this.#sources.values()];
  }

  /** Queues one collected line; the source's resume point moves with it. */
  append(source: number, stream: 'stdout' | 'stderr', ms: number, sub: number, text: string): void {
    this.#queue.push({ source, stream: stream === 'stdout' ? 0 : 1, ms, sub, text });
    this.#advance(source, ms, sub, { lines: 1, bytes: Buffer.byteLength(text), dropped: 0 });
  }

  /**
   * A line not kept (over the container's share): counted, and the resume point moves past it —
   * a later read must not see it again (it would be counted twice, or kept after all).
   */
  drop(source: number, ms: number, sub: number): void {
    this.#advance(source, ms, sub, { lines: 0, bytes: 0, dropped: 1 });
  }

  #advance(
    source: number,
    ms: number,
    sub: number,
    add: { lines: number; bytes: number; dropped: number },
  ): void {
    const s = this.#sources.get(source);
    if (s === undefined) return;
    const same = s.resume !== undefined && s.resume.ms === ms && s.resume.sub === sub;
    this.#sources.set(source, {
      ...s,
      resume: { ms, sub, count: same ? (s.resume?.count ?? 0) + 1 : 1 },
      lines: s.lines + add.lines,
      bytes: s.bytes + add.bytes,
      dropped: s.dropped + add.dropped,
    });
    this.#dirty.add(source);
  }

  /** Queues dockgate's own line in a source's log: lines dropped, a gap, a driver that cannot be read. */
  mark(source: number, ms: number, text: string, counts: { gap?: boolean } = {}): void {
    this.#queue.push({ source, stream: 2, ms, sub: 0, text });
    const s = this.#sources.get(source);
    if (s !== undefined && counts.gap === true) this.#sources.set(source, { ...s, gaps: s.gaps + 1 });
    this.#dirty.add(source);
  }

  /** Why a source is not collected (null: it is). */
  setNote(source: number, note: string | null): void {
    const s = this.#sources.get(source);
    if (s === undefined || s.note === note) return;
    this.#sources.set(source, { ...s, note });
    try {
      this.#s.setNote.run(note, source);
    } catch (error) {
      this.#fail(error);
    }
  }

  /** The collectors wait while the writer is this far behind (a slow or full disk). */
  get pressed(): boolean {
    return this.#queue.length >= HIGH_WATER;
  }

  /** Resolves once the queue is below its high-water mark again. */
  async drained(): Promise<void> {
    if (!this.pressed) return;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  onLines(listener: (lines: readonly Stored[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): {
    readonly ok: boolean;
    readonly error?: string;
    readonly pending: number;
    readonly bytes: number;
  } {
    const bytes = this.usedBytes();
    return this.#error === undefined
      ? { ok: true, pending: this.#queue.length, bytes }
      : { ok: false, error: this.#error, pending: this.#queue.length, bytes };
  }

  setRetention(retention: LogRetention): void {
    this.#retention = retention;
  }

  /** Commits the queued lines (and their sources' counters) in one transaction. */
  flush(): void {
    if ((this.#queue.length === 0 && this.#dirty.size === 0) || this.#closed) return;
    const batch = this.#queue.splice(0, this.#queue.length);
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    const stored: Stored[] = [];
    try {
      this.#db.transaction(() => {
        for (const line of batch) {
          const id = this.#allocate(line.ms);
          this.#s.insertLine.run(id, line.source, line.stream, line.sub, line.text);
          this.#s.insertFts.run(id, line.text);
          const s = this.#sources.get(line.source);
          if (s !== undefined && this.#listeners.size > 0)
            stored.push({ source: s, line: present(s, { id, ...line }) });
        }
        for (const id of dirty) {
          const s = this.#sources.get(id);
          if (s === undefined) continue;
          this.#s.saveSource.run(
            s.resume?.ms ?? null,
            s.resume?.sub ?? null,
            s.resume?.count ?? 0,
            s.lines,
            s.bytes,
            s.dropped,
            s.gaps,
            id,
          );
        }
      })();
      if (this.#error !== undefined) this.#log.info('logs are being written again');
      this.#error = undefined;
    } catch (error) {
      // Kept, in order, for the next try; the collectors wait meanwhile (pressed).
      this.#queue.unshift(...batch);
      for (const id of dirty) this.#dirty.add(id);
      this.#maxId = (this.#db.prepare('SELECT max(id) AS m FROM lines').get() as { m: number | null }).m ?? 0;
      this.#fail(error);
      return;
    }
    if (!this.pressed) for (const wake of this.#waiters.splice(0)) wake();
    if (stored.length > 0)
      for (const listener of this.#listeners) {
        try {
          listener(stored);
        } catch (error) {
          this.#log.warn({ err: (error as Error).message }, 'a log listener failed');
        }
      }
  }

  /** A page of lines matching the search, in order, from the cursor on. */
  search(o: LogSearch): LogPage {
    let lo = o.sinceMs === undefined ? 0 : o.sinceMs * SLOT;
    let hi = o.untilMs === undefined ? Number.MAX_SAFE_INTEGER : o.untilMs * SLOT + SLOT - 1;
    if (o.after !== undefined) lo = Math.max(lo, o.after + 1);
    if (o.before !== undefined) hi = Math.min(hi, o.before - 1);
    const wanted = o.sources === undefined ? undefined : new Set(o.sources);
    const stream = o.stream === undefined ? undefined : STREAMS.indexOf(o.stream);
    const lines: StoredLine[] = [];
    let scanned = 0;
    const plan = this.#plan(o);
    while (lo <= hi) {
      const rows = plan(lo, hi);
      if (rows.length === 0) return { lines, next: null, truncated: false };
      for (const row of rows) {
        scanned++;
        if (o.order === 'desc') hi = row.id - 1;
        else lo = row.id + 1;
        if (wanted !== undefined && !wanted.has(row.source)) continue;
        if (stream !== undefined && row.stream !== stream) continue;
        if (!o.query.all && !o.query.test(row.text)) continue;
        const s = this.#sources.get(row.source);
        if (s === undefined) continue;
        lines.push(present(s, row));
        if (lines.length >= o.limit) return { lines, next: String(row.id), truncated: false };
        if (scanned >= o.scanBound) return { lines, next: String(row.id), truncated: true };
      }
      if (scanned >= o.scanBound) {
        const last = rows[rows.length - 1] as Row;
        return { lines, next: String(last.id), truncated: true };
      }
    }
    return { lines, next: null, truncated: false };
  }

  /** `lines` lines before and after one line, in its container incarnation, oldest first. */
  context(
    cursor: number,
    lines: number,
  ): { before: StoredLine[]; line: StoredLine; after: StoredLine[] } | undefined {
    const row = this.#s.lineById.get(cursor) as Row | undefined;
    if (row === undefined) return undefined;
    const s = this.#sources.get(row.source);
    if (s === undefined) return undefined;
    const before = (this.#s.sourceDesc.all(row.source, 0, row.id - 1, lines) as Row[]).reverse();
    const after = this.#s.sourceAsc.all(row.source, row.id + 1, Number.MAX_SAFE_INTEGER, lines) as Row[];
    return {
      before: before.map((r) => present(s, r)),
      line: present(s, row),
      after: after.map((r) => present(s, r)),
    };
  }

  /** Bytes of the file in use (pages not free). */
  usedBytes(): number {
    const pages = this.#db.pragma('page_count', { simple: true }) as number;
    const free = this.#db.pragma('freelist_count', { simple: true }) as number;
    const size = this.#db.pragma('page_size', { simple: true }) as number;
    return (pages - free) * size;
  }

  /**
   * Retention: lines older than the age go; then, while the store is over its size, the oldest
   * lines of the sources above their floor (so one noisy container cannot evict every other's
   * history), and only when every source is at its floor, the oldest of all. `budgetMs` bounds one
   * call (it runs again next minute).
   */
  prune(budgetMs = 500): { deleted: number } {
    if (this.#closed) return { deleted: 0 };
    const started = Date.now();
    let deleted = 0;
    try {
      const cutoff = (this.#now() - this.#retention.ageMs) * SLOT;
      while (Date.now() - started < budgetMs) {
        const n = this.#deleteRows(this.#s.oldest.all(cutoff, PRUNE_BATCH) as Row[]);
        deleted += n;
        if (n < PRUNE_BATCH) break;
      }
      const floor = Math.max(MIN_FLOOR, Math.floor(this.#retention.sizeBytes / FLOOR_SHARE));
      while (this.usedBytes() > this.#retention.sizeBytes && Date.now() - started < budgetMs) {
        const victim = [...this.#sources.values()]
          .filter((s) => s.bytes > floor)
          .sort((a, b) => b.bytes - a.bytes)[0];
        const rows =
          victim === undefined
            ? (this.#s.oldest.all(Number.MAX_SAFE_INTEGER, PRUNE_BATCH) as Row[])
            : (this.#s.sourceAsc.all(victim.id, 0, Number.MAX_SAFE_INTEGER, PRUNE_BATCH) as Row[]);
        const n = this.#deleteRows(rows);
        if (n === 0) break;
        deleted += n;
      }
    } catch (error) {
      this.#fail(error);
    }
    return { deleted };
  }

  close(): void {
    clearInterval(this.#timer);
    this.flush();
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
    this.#db.close();
  }

  #deleteRows(rows: readonly Row[]): number {
    if (rows.length === 0) return 0;
    const removed = new Map<number, { lines: number; bytes: number }>();
    this.#db.transaction(() => {
      for (const row of rows) {
        this.#s.deleteLine.run(row.id);
        this.#s.deleteFts.run(row.id);
        const r = removed.get(row.source) ?? { lines: 0, bytes: 0 };
        r.lines += 1;
        r.bytes += Buffer.byteLength(row.text);
        removed.set(row.source, r);
      }
      for (const [id, r] of removed) {
        const s = this.#sources.get(id);
        if (s === undefined) continue;
        const next = { ...s, lines: Math.max(0, s.lines - r.lines), bytes: Math.max(0, s.bytes - r.bytes) };
        this.#sources.set(id, next);
        this.#s.saveCounts.run(next.lines, next.bytes, id);
      }
    })();
    return rows.length;
  }

  /**
   * The next rowid for a line of this millisecond: past every line stored, at once; a line
   * collected late takes the next free number in its own millisecond's slot.
   */
  #allocate(ms: number): number {
    const base = (ms > 0 ? ms : this.#now()) * SLOT;
    let id: number;
    if (base > this.#maxId) id = base;
    else if (Math.floor(this.#maxId / SLOT) * SLOT === base) id = this.#maxId + 1;
    else {
      const m = (this.#s.maxInSlot.get(base, base + SLOT - 1) as { m: number | null }).m;
      id = m === null ? base : m + 1;
      while (this.#s.lineExists.get(id) !== undefined) id++;
    }
    if (id > this.#maxId) this.#maxId = id;
    return id;
  }

  /** The candidates of a search, one batch at a time, in order, within [lo, hi]. */
  #plan(o: LogSearch): (lo: number, hi: number) => Row[] {
    const desc = o.order === 'desc';
    const bySource = (lo: number, hi: number): Row[] => {
      const all: Row[] = [];
      for (const source of o.sources ?? [])
        all.push(...((desc ? this.#s.sourceDesc : this.#s.sourceAsc).all(source, lo, hi, BATCH) as Row[]));
      all.sort((a, b) => (desc ? b.id - a.id : a.id - b.id));
      return all.slice(0, BATCH);
    };
    if (o.sources !== undefined) {
      // A few containers' lines are read in full and tested; a large set goes through the index.
      const total = o.sources.reduce((sum, id) => sum + (this.#sources.get(id)?.lines ?? 0), 0);
      if (o.query.match === undefined || total <= 200_000) return bySource;
    }
    if (o.query.match === undefined)
      return (lo, hi) => (desc ? this.#s.rangeDesc : this.#s.rangeAsc).all(lo, hi, BATCH) as Row[];
    const match = o.query.match;
    return (lo, hi) => {
      const ids = (desc ? this.#s.ftsDesc : this.#s.ftsAsc).pluck().all(match, lo, hi, BATCH) as number[];
      if (ids.length === 0) return [];
      const rows = this.#s.linesIn.all(JSON.stringify(ids)) as Row[];
      return rows.sort((a, b) => (desc ? b.id - a.id : a.id - b.id));
    };
  }

  #fail(error: unknown): void {
    const message = (error as Error).message;
    if (this.#error !== message) this.#log.error({ err: message }, 'logs are not being written');
    this.#error = message;
  }
}

interface SourceDbRow {
  id: number;
  engine: string;
  container: string;
  name: string;
  project: string | null;
  service: string | null;
  image: string | null;
  resume_ms: number | null;
  resume_sub: number | null;
  resume_count: number;
  lines: number;
  bytes: number;
  dropped: number;
  gaps: number;
  note: string | null;
}

function sourceRow(r: SourceDbRow): SourceRow {
  return {
    id: r.id,
    engine: r.engine,
    container: r.container,
    name: r.name,
    project: r.project,
    service: r.service,
    image: r.image,
    resume:
      r.resume_ms === null ? undefined : { ms: r.resume_ms, sub: r.resume_sub ?? 0, count: r.resume_count },
    lines: r.lines,
    bytes: r.bytes,
    dropped: r.dropped,
    gaps: r.gaps,
    note: r.note,
  };
}

function present(s: SourceRow, row: { id: number; stream: number; sub: number; text: string }): StoredLine {
  return {
    engine: s.engine,
    id: s.container,
    name: s.name,
    project: s.project,
    service: s.service,
    stream: STREAMS[row.stream] ?? 'stdout',
    time: isoNanos(Math.floor(row.id / SLOT), row.sub),
    text: row.text,
    cursor: String(row.id),
  };
}

function statements(db: Db) {
  const columns = 'id, source, stream, sub, text';
  return {
    allSources: db.prepare('SELECT * FROM sources'),
    upsertSource: db.prepare(
      `INSERT INTO sources (engine, container, name, project, service, image) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (engine, container) DO UPDATE SET name = excluded.name, project = excluded.project,
         service = excluded.service, image = excluded.image
       RETURNING *`,
    ),
    setNote: db.prepare('UPDATE sources SET note = ? WHERE id = ?'),
    saveSource: db.prepare(
      'UPDATE sources SET resume_ms = ?, resume_sub = ?, resume_count = ?, lines = ?, bytes = ?, dropped = ?, gaps = ? WHERE id = ?',
    ),
    saveCounts: db.prepare('UPDATE sources SET lines = ?, bytes = ? WHERE id = ?'),
    insertLine: db.prepare('INSERT INTO lines (id, source, stream, sub, text) VALUES (?, ?, ?, ?, ?)'),
    insertFts: db.prepare('INSERT INTO lines_fts (rowid, text) VALUES (?, ?)'),
    deleteLine: db.prepare('DELETE FROM lines WHERE id = ?'),
    deleteFts: db.prepare('DELETE FROM lines_fts WHERE rowid = ?'),
    maxInSlot: db.prepare('SELECT max(id) AS m FROM lines WHERE id BETWEEN ? AND ?'),
    lineExists: db.prepare('SELECT 1 FROM lines WHERE id = ?'),
    lineById: db.prepare(`SELECT ${columns} FROM lines WHERE id = ?`),
    oldest: db.prepare(`SELECT ${columns} FROM lines WHERE id < ? ORDER BY id LIMIT ?`),
    rangeDesc: db.prepare(`SELECT ${columns} FROM lines WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT ?`),
    rangeAsc: db.prepare(`SELECT ${columns} FROM lines WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?`),
    sourceDesc: db.prepare(
      `SELECT ${columns} FROM lines WHERE source = ? AND id BETWEEN ? AND ? ORDER BY id DESC LIMIT ?`,
    ),
    sourceAsc: db.prepare(
      `SELECT ${columns} FROM lines WHERE source = ? AND id BETWEEN ? AND ? ORDER BY id LIMIT ?`,
    ),
    ftsDesc: db.prepare(
      'SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid DESC LIMIT ?',
    ),
    ftsAsc: db.prepare(
      'SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid LIMIT ?',
    ),
    linesIn: db.prepare(`SELECT ${columns} FROM lines WHERE id IN (SELECT value FROM json_each(?))`),
  };
}
