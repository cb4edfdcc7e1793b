import { join } from 'node:path';
import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import { type Db, openDatabase } from '../store/database.js';
import { isoNanos } from './engine-lines.js';
import {
  CHUNK_LINES,
  CHUNK_SPAN_MS,
  ChunkCache,
  type ChunkEntry,
  chunkText,
  encodeChunk,
  SEAL_AFTER_MS,
  splitChunks,
} from './log-chunks.js';
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

/** Where collection of a source resumes: the last line's engine time and how many had it. */
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
  /** Where this line is (`<line>-<source>`): `before`/`after` take it, and `/logs/context`. */
  readonly cursor: string;
}

/** A line just collected, with its source (for listeners that filter by container, project, …). */
export interface Stored {
  readonly source: SourceRow;
  readonly line: StoredLine;
}

/** A line's place in the order of all lines: its id (engine time), then its source. */
export interface LineKey {
  readonly id: number;
  readonly source: number;
}

export interface LogSearch {
  readonly query: LogQuery;
  /** Source ids to search; undefined: all. */
  readonly sources: readonly number[] | undefined;
  readonly stream: LogStream | undefined;
  readonly sinceMs: number | undefined;
  readonly untilMs: number | undefined;
  readonly order: 'asc' | 'desc';
  readonly before: LineKey | undefined;
  readonly after: LineKey | undefined;
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

/** One line: its id (engine time, `ms × 2048 + n`, increasing within its source), its source. */
interface Row {
  readonly id: number;
  readonly source: number;
  readonly stream: number;
  readonly sub: number;
  readonly text: string;
}

/** What a source has persisted: its resume point and counters as of its last sealed line. */
interface Persisted {
  resume: Resume | undefined;
  lines: number;
  bytes: number;
  dropped: number;
  gaps: number;
}

/** A source as the store keeps it: the API's row, live counters, and what is persisted. */
interface Source {
  row: SourceRow;
  /** The last line id given to this source. */
  lastId: number;
  persisted: Persisted;
  open: Row[];
  /** When its oldest open line came (the monitor's clock). */
  openSince: number;
  /** When its last dropped line was written (engine time). */
  lastDrop: number | undefined;
}

const STREAMS: readonly LogStream[] = ['stdout', 'stderr', 'dockgate'];
/** Line ids per millisecond (see log-schema.ts). */
const SLOT = 2048;
const FLUSH_MS = 250;
/** Open lines beyond this make the collectors wait (a slow or full disk; nothing is lost). */
const HIGH_WATER = 50_000;
/** Lines per step of a search. */
const BATCH = 500;
/** A source's chunks read per step of a search. */
const CHUNKS_PER_STEP = 8;
/** Chunk keys fetched per step of a search over all containers. */
const KEYS_PER_STEP = 64;
/** Chunks deleted per step of retention. */
const PRUNE_CHUNKS = 200;
/** Containers a search with words names by their index tokens; more are filtered chunk by chunk. */
const MAX_SOURCE_TOKENS = 200;
/** Per source: below this many bytes of text, the size limit takes from others first. */
const FLOOR_SHARE = 200;
const MIN_FLOOR = 1024 * 1024;
/**
 * How far above its first line a chunk's key can be: its span, and a few ids for keys taken by
 * other sources' chunks ending on the same id.
 */
const KEY_WINDOW = CHUNK_SPAN_MS * SLOT + SLOT;

const cmp = (a: LineKey, b: LineKey): number => a.id - b.id || a.source - b.source;

/**
 * Every container's log lines (`logs.db`): lines are kept in memory as they come (searchable at
 * once), and each container's are sealed — every 128 lines or 1 s — into a compressed chunk with
 * one full-text index row (FTS5, words), in one transaction with the container's resume point.
 * A crash loses only unsealed lines, and those are read again from the engine (the resume point
 * is the last sealed line). Listeners (live search, log alerts) hear of lines every 250 ms.
 */
export class LogStore {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #now: Clock;
  readonly #retention: LogRetention;
  readonly #sources = new Map<number, Source>();
  /** Lines collected since the listeners last heard. */
  #fresh: { source: SourceRow; row: Row }[] = [];
  #openCount = 0;
  readonly #listeners = new Set<(lines: readonly Stored[]) => void>();
  readonly #waiters: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #s: ReturnType<typeof statements>;
  readonly #cache = new ChunkCache();
  #error: string | undefined;
  #closed = false;

  constructor(dataDir: string, log: Logger, retention: LogRetention, now: Clock = systemClock) {
    this.#db = openDatabase(dataDir, { file: join(dataDir, 'logs.db'), migrations: LOG_MIGRATIONS });
    this.#log = log;
    this.#now = now;
    this.#retention = retention;
    this.#s = statements(this.#db);
    for (const row of this.#s.allSources.all() as SourceDbRow[]) this.#remember(row);
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
    if (known === undefined) return this.#remember(row).row;
    known.row = { ...known.row, ...meta };
    return known.row;
  }

  sourceById(id: number): SourceRow | undefined {
    return this.#sources.get(id)?.row;
  }

  /** The sources the filters name (see `sourceMatches`). */
  findSources(filter: SourceFilter): SourceRow[] {
    const out: SourceRow[] = [];
    for (const { row } of this.#sources.values()) if (sourceMatches(row, filter)) out.push(row);
    return out;
  }

  /** One collected line: searchable at once, sealed soon; the source's resume point moves with it. */
  append(source: number, stream: 'stdout' | 'stderr', ms: number, sub: number, text: string): void {
    const s = this.#sources.get(source);
    if (s === undefined) return;
    this.#advance(s, ms, sub);
    const r = s.row as Mutable<SourceRow>;
    r.lines++;
    r.bytes += Buffer.byteLength(text);
    this.#push(s, stream === 'stdout' ? 0 : 1, ms, sub, text);
  }

  /**
   * A line not kept (over the container's share): counted, and the resume point moves past it —
   * a later read must not see it again (it would be counted twice, or kept after all).
   */
  drop(source: number, ms: number, sub: number): void {
    const s = this.#sources.get(source);
    if (s === undefined) return;
    this.#advance(s, ms, sub);
    (s.row as Mutable<SourceRow>).dropped++;
    s.lastDrop = ms;
  }

  /**
   * Says in a source's log how many lines were dropped, at the time of the last one dropped (a
   * source's lines keep the engine's order: its note must not sort after lines still to come).
   */
  markDropped(source: number, text: string): void {
    const s = this.#sources.get(source);
    if (s === undefined) return;
    const ms = s.lastDrop ?? this.#now();
    s.lastDrop = undefined;
    this.mark(source, ms, text);
  }

  /** dockgate's own line in a source's log: lines dropped, a gap. */
  mark(source: number, ms: number, text: string, counts: { gap?: boolean } = {}): void {
    const s = this.#sources.get(source);
    if (s === undefined) return;
    if (counts.gap === true) (s.row as Mutable<SourceRow>).gaps++;
    this.#push(s, 2, ms, 0, text);
  }

  /** Why a source is not collected (null: it is). */
  setNote(source: number, note: string | null): void {
    const s = this.#sources.get(source);
    if (s === undefined || s.row.note === note) return;
    s.row = { ...s.row, note };
    try {
      this.#s.setNote.run(note, source);
    } catch (error) {
      this.#fail(error);
    }
  }

  /** The collectors wait while this many lines are not sealed (a slow or full disk). */
  get pressed(): boolean {
    return this.#openCount >= HIGH_WATER;
  }

  /** Resolves once the open lines are below their high-water mark again. */
  async drained(): Promise<void> {
    if (!this.pressed || this.#closed) return;
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
      ? { ok: true, pending: this.#openCount, bytes }
      : { ok: false, error: this.#error, pending: this.#openCount, bytes };
  }

  /**
   * Tells the listeners of the lines collected since, and seals each source's open lines into
   * chunks once there are 128 of them or the oldest is 1 s old (`all`: every open line, on close).
   */
  flush(all = false): void {
    if (this.#closed) return;
    if (this.#fresh.length > 0) {
      // Presented once per flush, for the listeners (none: nothing is built).
      const fresh = this.#fresh.map(({ source, row }) => ({ source, line: present(source, row) }));
      this.#fresh = [];
      for (const listener of this.#listeners) {
        try {
          listener(fresh);
        } catch (error) {
          this.#log.warn({ err: (error as Error).message }, 'a log listener failed');
        }
      }
    }
    const now = Date.now();
    const due = [...this.#sources.values()].filter(
      (s) => s.open.length > 0 && (all || s.open.length >= CHUNK_LINES || now - s.openSince >= SEAL_AFTER_MS),
    );
    if (due.length === 0) return;
    try {
      this.#db.transaction(() => {
        for (const s of due) this.#seal(s);
      })();
    } catch (error) {
      // The open lines stay (searchable) and are sealed at the next flush; past the high-water
      // mark the collectors wait.
      this.#fail(error);
      return;
    }
    for (const s of due) {
      this.#openCount -= s.open.length;
      s.open = [];
    }
    if (this.#error !== undefined) this.#log.info('logs are being written again');
    this.#error = undefined;
    if (!this.pressed) for (const wake of this.#waiters.splice(0)) wake();
  }

  /** A page of lines matching the search, in order, from the cursor on. */
  search(o: LogSearch): LogPage {
    const desc = o.order === 'desc';
    let lo = o.sinceMs === undefined ? 0 : o.sinceMs * SLOT;
    let hi = o.untilMs === undefined ? Number.MAX_SAFE_INTEGER : o.untilMs * SLOT + SLOT - 1;
    // The bound is a line (exclusive); lines of other sources with the same id sort around it.
    let bound: LineKey | undefined = desc ? o.before : o.after;
    if (o.after !== undefined) lo = Math.max(lo, o.after.id);
    if (o.before !== undefined) hi = Math.min(hi, o.before.id);
    if (!desc && o.before !== undefined) hi = Math.min(hi, o.before.id - 1);
    if (desc && o.after !== undefined) lo = Math.max(lo, o.after.id + 1);
    const wanted = o.sources === undefined ? undefined : new Set(o.sources);
    const stream = o.stream === undefined ? undefined : STREAMS.indexOf(o.stream);
    const lines: StoredLine[] = [];
    let scanned = 0;
    const plan = this.#plan(o, wanted);
    while (lo <= hi) {
      const rows = plan(lo, hi);
      if (rows.length === 0) return { lines, next: null, truncated: false };
      let moved = false;
      for (const row of rows) {
        if (bound !== undefined && (desc ? cmp(row, bound) >= 0 : cmp(row, bound) <= 0)) continue;
        moved = true;
        bound = row;
        scanned++;
        const s = this.#sources.get(row.source);
        if (
          s !== undefined &&
          (wanted === undefined || wanted.has(row.source)) &&
          (stream === undefined || row.stream === stream) &&
          (o.query.all || o.query.test(row.text))
        ) {
          lines.push(present(s.row, row));
          if (lines.length >= o.limit) return { lines, next: keyText(row), truncated: false };
        }
        if (scanned >= o.scanBound) return { lines, next: keyText(row), truncated: true };
      }
      const last = rows[rows.length - 1] as Row;
      // Same-id lines of other sources may follow the bound: the next step starts at its id.
      if (desc) hi = moved ? (bound?.id ?? last.id) : last.id - 1;
      else lo = moved ? (bound?.id ?? last.id) : last.id + 1;
    }
    return { lines, next: null, truncated: false };
  }

  /** `lines` lines before and after one line, in its container incarnation, oldest first. */
  context(
    at: LineKey,
    lines: number,
  ): { before: StoredLine[]; line: StoredLine; after: StoredLine[] } | undefined {
    const s = this.#sources.get(at.source);
    if (s === undefined) return undefined;
    const around = (desc: boolean): Row[] =>
      this.#bySource([at.source], desc ? 0 : at.id, desc ? at.id : Number.MAX_SAFE_INTEGER, desc, lines + 1);
    const older = around(true);
    const line = older.find((r) => r.id === at.id);
    if (line === undefined) return undefined;
    return {
      before: older
        .filter((r) => r.id < at.id)
        .slice(0, lines)
        .reverse()
        .map((r) => present(s.row, r)),
      line: present(s.row, line),
      after: around(false)
        .filter((r) => r.id > at.id)
        .slice(0, lines)
        .map((r) => present(s.row, r)),
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
   * Retention, a chunk at a time: chunks whose newest line is older than the age go; then, while
   * the store is over its size, the oldest chunks of the sources above their floor (so one noisy
   * container cannot evict every other's history), and only when every source is at its floor,
   * the oldest of all. `budgetMs` bounds one call (it runs again next minute).
   */
  prune(budgetMs = 500): { deleted: number } {
    if (this.#closed) return { deleted: 0 };
    const started = Date.now();
    let deleted = 0;
    try {
      const cutoff = (this.#now() - this.#retention.ageMs) * SLOT;
      while (Date.now() - started < budgetMs) {
        const chunks = this.#s.oldestChunks.all(cutoff, PRUNE_CHUNKS) as ChunkRow[];
        deleted += this.#deleteChunks(chunks);
        if (chunks.length < PRUNE_CHUNKS) break;
      }
      const floor = Math.max(MIN_FLOOR, Math.floor(this.#retention.sizeBytes / FLOOR_SHARE));
      while (this.usedBytes() > this.#retention.sizeBytes && Date.now() - started < budgetMs) {
        const victim = [...this.#sources.values()]
          .filter((s) => s.persisted.bytes > floor)
          .sort((a, b) => b.persisted.bytes - a.persisted.bytes)[0];
        const chunks =
          victim === undefined
            ? (this.#s.oldestChunks.all(Number.MAX_SAFE_INTEGER, PRUNE_CHUNKS) as ChunkRow[])
            : (this.#s.oldestChunksOf.all(victim.row.id, PRUNE_CHUNKS) as ChunkRow[]);
        const n = this.#deleteChunks(chunks);
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
    this.flush(true);
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // a full disk: the WAL stays, SQLite replays it at the next open
    }
    this.#db.close();
  }

  #remember(row: SourceDbRow): Source {
    const persisted: Persisted = {
      resume:
        row.resume_ms === null
          ? undefined
          : { ms: row.resume_ms, sub: row.resume_sub ?? 0, count: row.resume_count },
      lines: row.lines,
      bytes: row.bytes,
      dropped: row.dropped,
      gaps: row.gaps,
    };
    const s: Source = {
      row: {
        id: row.id,
        engine: row.engine,
        container: row.container,
        name: row.name,
        project: row.project,
        service: row.service,
        image: row.image,
        note: row.note,
        ...persisted,
      },
      lastId: row.last_id,
      persisted: { ...persisted },
      open: [],
      openSince: 0,
      lastDrop: undefined,
    };
    this.#sources.set(row.id, s);
    return s;
  }

  #advance(s: Source, ms: number, sub: number): void {
    const r = s.row as Mutable<SourceRow>;
    const same = r.resume !== undefined && r.resume.ms === ms && r.resume.sub === sub;
    r.resume = { ms, sub, count: same ? (r.resume?.count ?? 0) + 1 : 1 };
  }

  /** A line into its source's open lines, with a new id: increasing within the source, by engine time. */
  #push(s: Source, stream: number, ms: number, sub: number, text: string): void {
    const base = (ms > 0 ? ms : this.#now()) * SLOT;
    const id = base > s.lastId ? base : s.lastId + 1;
    s.lastId = id;
    const r = s.row;
    const line: Row = { id, source: r.id, stream, sub, text };
    if (s.open.length === 0) s.openSince = Date.now();
    s.open.push(line);
    this.#openCount++;
    if (this.#listeners.size > 0) this.#fresh.push({ source: r, row: line });
  }

  /** One source's open lines → chunks, and its persisted state as of the last (in a transaction). */
  #seal(s: Source): void {
    for (const entries of splitChunks(
      s.open.map((l) => [l.id, l.stream, l.sub, l.text] as const),
      SLOT,
    )) {
      const first = entries[0] as ChunkEntry;
      const last = entries[entries.length - 1] as ChunkEntry;
      let key = last[0];
      while (this.#s.chunkExists.get(key) !== undefined) key++;
      const counted = entries.filter((e) => e[1] !== 2);
      const bytes = counted.reduce((n, e) => n + Buffer.byteLength(e[3]), 0);
      const texts = chunkText(entries);
      this.#s.insertChunk.run(key, s.row.id, first[0], counted.length, bytes, encodeChunk(entries, texts));
      // The source's own token first: a search in some containers asks for it with its words.
      this.#s.insertFts.run(key, `${sourceToken(s.row.id)}\n${texts}`);
    }
    // Everything up to now is sealed or was dropped: the source's state now is what persists
    // (its resume point past the dropped lines too).
    const r = s.row;
    s.persisted = { resume: r.resume, lines: r.lines, bytes: r.bytes, dropped: r.dropped, gaps: r.gaps };
    const p = s.persisted;
    this.#s.saveSource.run(
      p.resume?.ms ?? null,
      p.resume?.sub ?? null,
      p.resume?.count ?? 0,
      p.lines,
      p.bytes,
      p.dropped,
      p.gaps,
      s.lastId,
      s.row.id,
    );
  }

  #deleteChunks(chunks: readonly ChunkRow[]): number {
    if (chunks.length === 0) return 0;
    let n = 0;
    this.#db.transaction(() => {
      for (const chunk of chunks) {
        this.#s.deleteFts.run(chunk.key);
        this.#s.deleteChunk.run(chunk.key);
        this.#cache.drop(chunk.key);
        n += chunk.n;
        const s = this.#sources.get(chunk.source);
        if (s === undefined) continue;
        const lines = chunk.n;
        const r = s.row as Mutable<SourceRow>;
        r.lines = Math.max(0, r.lines - lines);
        r.bytes = Math.max(0, r.bytes - chunk.bytes);
        s.persisted.lines = Math.max(0, s.persisted.lines - lines);
        s.persisted.bytes = Math.max(0, s.persisted.bytes - chunk.bytes);
        this.#s.saveCounts.run(s.persisted.lines, s.persisted.bytes, chunk.source);
      }
    })();
    return n;
  }

  /** A chunk's lines, decoded once and cached. */
  #chunk(key: number, source: number, data?: Buffer): Row[] {
    const entries = this.#cache.get(key, () => data ?? (this.#s.chunkData.get(key) as { data: Buffer }).data);
    const out: Row[] = [];
    for (const e of entries.values()) out.push({ id: e[0], source, stream: e[1], sub: e[2], text: e[3] });
    return out;
  }

  /** Open lines of these sources (all: undefined) within [lo, hi]. */
  #openIn(sources: Iterable<number> | undefined, lo: number, hi: number): Row[] {
    const out: Row[] = [];
    const list =
      sources === undefined
        ? this.#sources.values()
        : [...sources].map((id) => this.#sources.get(id)).filter((s) => s !== undefined);
    for (const s of list) for (const l of s.open) if (l.id >= lo && l.id <= hi) out.push(l);
    return out;
  }

  /**
   * Lines of these sources within [lo, hi], in order. A source's lines have increasing ids and
   * its chunks do not overlap, so each source's read is a prefix of its lines; merged, they are
   * cut where the shortest prefix ends, so no line of another source is passed over.
   */
  #bySource(sources: Iterable<number>, lo: number, hi: number, desc: boolean, limit: number): Row[] {
    const all: Row[] = [];
    let cut = desc ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    for (const source of sources) {
      const got: Row[] = this.#openIn([source], lo, hi);
      const chunks = (
        desc
          ? this.#s.chunksDesc.all(
              source,
              lo,
              Math.min(hi + KEY_WINDOW, Number.MAX_SAFE_INTEGER),
              hi,
              CHUNKS_PER_STEP,
            )
          : this.#s.chunksAsc.all(source, lo, hi, CHUNKS_PER_STEP)
      ) as { key: number }[];
      const before = got.length;
      for (const { key } of chunks)
        for (const r of this.#chunk(key, source)) if (r.id >= lo && r.id <= hi) got.push(r);
      // More chunks may follow: lines beyond the last one read wait for the next step (oldest
      // first, that holds back this source's open lines, its newest, too).
      if (chunks.length >= CHUNKS_PER_STEP && got.length > before) {
        const ids = got.slice(before).map((r) => r.id);
        cut = desc ? Math.max(cut, Math.min(...ids)) : Math.min(cut, Math.max(...ids));
      }
      all.push(...got);
    }
    const kept = all.filter((r) => (desc ? r.id >= cut : r.id <= cut));
    kept.sort((a, b) => (desc ? cmp(b, a) : cmp(a, b)));
    return kept.slice(0, limit);
  }

  /**
   * Chunks in key order (the index's candidates, or all), merged with the open lines. A chunk's
   * key is at least its newest line's id and at most KEY_WINDOW above its oldest. Newest first,
   * once chunks up to key K are read, every line above K is final (unread chunks hold lines
   * below their keys, below K); oldest first, every line below K − KEY_WINDOW is. Chunks are read
   * until some line in range is final, or there are none left.
   */
  #byChunks(o: LogSearch, wanted: ReadonlySet<number> | undefined): (lo: number, hi: number) => Row[] {
    const desc = o.order === 'desc';
    const match = o.query.match;
    const keysOf = (from: number, to: number): number[] =>
      (match === undefined
        ? (desc ? this.#s.keysDesc : this.#s.keysAsc).pluck().all(from, to, KEYS_PER_STEP)
        : (desc ? this.#s.ftsDesc : this.#s.ftsAsc).pluck().all(match, from, to, KEYS_PER_STEP)) as number[];
    // Open lines are not in the index: with words asked, only those that match are candidates
    // (tested once per search, not once per step).
    let open: Row[] | undefined;
    return (lo, hi) => {
      open ??= this.#openIn(wanted, 0, Number.MAX_SAFE_INTEGER).filter(
        (r) => match === undefined || o.query.test(r.text),
      );
      const rows: Row[] = open.filter((r) => r.id >= lo && r.id <= hi);
      // Keys still to read: desc [lo, top], asc [bottom, hi + KEY_WINDOW].
      let top = Math.min(hi + KEY_WINDOW, Number.MAX_SAFE_INTEGER);
      let bottom = lo;
      let cut = desc ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
      const finalIn = (c: number): boolean => rows.some((r) => (desc ? r.id >= c : r.id <= c));
      for (;;) {
        const keys = desc
          ? keysOf(lo, top)
          : keysOf(bottom, Math.min(hi + KEY_WINDOW, Number.MAX_SAFE_INTEGER));
        for (const c of this.#s.chunksIn.all(JSON.stringify(keys)) as ChunkMeta[]) {
          if (wanted !== undefined && !wanted.has(c.source)) continue;
          if (c.first > hi || c.key < lo) continue;
          for (const r of this.#chunk(c.key, c.source)) if (r.id >= lo && r.id <= hi) rows.push(r);
        }
        if (keys.length < KEYS_PER_STEP) {
          cut = desc ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
          break;
        }
        const edge = keys[keys.length - 1] as number;
        if (desc) top = edge - 1;
        else bottom = edge + 1;
        const candidate = desc ? edge : edge - KEY_WINDOW;
        if (finalIn(candidate)) {
          cut = candidate;
          break;
        }
      }
      const kept = rows.filter((r) => (desc ? r.id >= cut : r.id <= cut));
      kept.sort((a, b) => (desc ? cmp(b, a) : cmp(a, b)));
      return kept.slice(0, BATCH);
    };
  }

  /**
   * The candidates of a search, one batch at a time, in order, within [lo, hi]: without words, a
   * container filter reads those containers' lines; with words, the index — asked for the
   * containers' own tokens too, so a common word in one container of hundreds reads only its chunks.
   */
  #plan(o: LogSearch, wanted: ReadonlySet<number> | undefined): (lo: number, hi: number) => Row[] {
    const desc = o.order === 'desc';
    if (wanted !== undefined && o.query.match === undefined)
      return (lo, hi) => this.#bySource(wanted, lo, hi, desc, BATCH);
    if (wanted !== undefined && o.query.match !== undefined && wanted.size <= MAX_SOURCE_TOKENS) {
      if (wanted.size === 0) return () => [];
      const sources = [...wanted].map((id) => `"${sourceToken(id)}"`).join(' OR ');
      return this.#byChunks(
        { ...o, query: { ...o.query, match: `(${sources}) AND (${o.query.match})` } },
        wanted,
      );
    }
    return this.#byChunks(o, wanted);
  }

  #fail(error: unknown): void {
    const message = (error as Error).message;
    if (this.#error !== message) this.#log.error({ err: message }, 'logs are not being written');
    this.#error = message;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface ChunkMeta {
  readonly key: number;
  readonly source: number;
  readonly first: number;
}

interface ChunkRow {
  readonly key: number;
  readonly source: number;
  readonly first: number;
  readonly n: number;
  readonly bytes: number;
  readonly data: Buffer;
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
  last_id: number;
  lines: number;
  bytes: number;
  dropped: number;
  gaps: number;
  note: string | null;
}

/** The filters a search names its containers by. */
export interface SourceFilter {
  readonly engine?: string | undefined;
  readonly container?: string | undefined;
  readonly project?: string | undefined;
  readonly service?: string | undefined;
}

/** A source within the filters: `container` is a full id, an id prefix of 4 or more, or an exact name. */
export function sourceMatches(s: SourceRow, f: SourceFilter): boolean {
  const ref = f.container;
  return (
    (f.engine === undefined || s.engine === f.engine) &&
    (f.project === undefined || s.project === f.project) &&
    (f.service === undefined || s.service === f.service) &&
    (ref === undefined ||
      s.name === ref ||
      s.container === ref ||
      (ref.length >= 4 && /^[0-9a-f]+$/.test(ref) && s.container.startsWith(ref)))
  );
}

/** A source's token in the index: each chunk's text starts with it. */
function sourceToken(id: number): string {
  return `dgsrc_${id}`;
}

/** A cursor: `<line id>-<source>`. */
export function keyText(key: LineKey): string {
  return `${key.id}-${key.source}`;
}

/** `<line id>-<source>` → the line's key; undefined when it is not one. */
export function parseKey(text: string): LineKey | undefined {
  const m = /^(\d{1,16})-(\d{1,10})$/.exec(text);
  return m === null ? undefined : { id: Number(m[1]), source: Number(m[2]) };
}

function present(s: SourceRow, row: Row): StoredLine {
  return {
    engine: s.engine,
    id: s.container,
    name: s.name,
    project: s.project,
    service: s.service,
    stream: STREAMS[row.stream] ?? 'stdout',
    time: isoNanos(Math.floor(row.id / SLOT), row.sub),
    text: row.text,
    cursor: keyText(row),
  };
}

function statements(db: Db) {
  const chunk = 'rowid AS key, source, first, n, bytes, data';
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
      'UPDATE sources SET resume_ms = ?, resume_sub = ?, resume_count = ?, lines = ?, bytes = ?, dropped = ?, gaps = ?, last_id = ? WHERE id = ?',
    ),
    saveCounts: db.prepare('UPDATE sources SET lines = ?, bytes = ? WHERE id = ?'),
    chunkExists: db.prepare('SELECT 1 FROM chunks WHERE rowid = ?'),
    insertChunk: db.prepare(
      'INSERT INTO chunks (rowid, source, first, n, bytes, data) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    insertFts: db.prepare('INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)'),
    deleteFts: db.prepare('DELETE FROM chunks_fts WHERE rowid = ?'),
    deleteChunk: db.prepare('DELETE FROM chunks WHERE rowid = ?'),
    chunkData: db.prepare('SELECT data FROM chunks WHERE rowid = ?'),
    chunksIn: db.prepare(
      'SELECT rowid AS key, source, first FROM chunks WHERE rowid IN (SELECT value FROM json_each(?))',
    ),
    oldestChunks: db.prepare(`SELECT ${chunk} FROM chunks WHERE rowid < ? ORDER BY rowid LIMIT ?`),
    oldestChunksOf: db.prepare(`SELECT ${chunk} FROM chunks WHERE source = ? ORDER BY rowid LIMIT ?`),
    // A source's chunks holding lines within [lo, hi] (keys bounded by hi + the key window).
    chunksDesc: db.prepare(
      'SELECT rowid AS key FROM chunks WHERE source = ? AND rowid >= ? AND rowid <= ? AND first <= ? ORDER BY rowid DESC LIMIT ?',
    ),
    chunksAsc: db.prepare(
      'SELECT rowid AS key FROM chunks WHERE source = ? AND rowid >= ? AND first <= ? ORDER BY rowid LIMIT ?',
    ),
    keysDesc: db.prepare('SELECT rowid FROM chunks WHERE rowid BETWEEN ? AND ? ORDER BY rowid DESC LIMIT ?'),
    keysAsc: db.prepare('SELECT rowid FROM chunks WHERE rowid BETWEEN ? AND ? ORDER BY rowid LIMIT ?'),
    ftsDesc: db.prepare(
      'SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid DESC LIMIT ?',
    ),
    ftsAsc: db.prepare(
      'SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid LIMIT ?',
    ),
  };
}
