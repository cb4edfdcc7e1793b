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
  decodeChunk,
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
/** Chunks deleted per step of retention. */
const PRUNE_CHUNKS = 100;
/** Chunks read per source per step of a container's scan. */
const CHUNKS_PER_STEP = 4;
/** Up to this many lines, a container filter reads its lines in full rather than the index's candidates. */
const BY_SOURCE_MAX = 100_000;
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
  /** Per source, its lines not yet sealed: how many, and since when (the monitor's clock). */
  readonly #open = new Map<number, { n: number; since: number }>();
  readonly #cache = new ChunkCache();
  /** When each source's last dropped line was written (engine time). */
  readonly #lastDrop = new Map<number, number>();
  #maxId: number;
  #error: string | undefined;
  #closed = false;

  constructor(dataDir: string, log: Logger, retention: LogRetention, now: Clock = systemClock) {
    this.#db = openDatabase(dataDir, { file: join(dataDir, 'logs.db'), migrations: LOG_MIGRATIONS });
    this.#log = log;
    this.#now = now;
    this.#retention = retention;
    this.#s = statements(this.#db);
    this.#maxId = this.#highestId();
    for (const r of this.#s.openCounts.all() as { source: number; n: number }[])
      this.#open.set(r.source, { n: r.n, since: Date.now() });
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
    this.#lastDrop.set(source, ms);
  }

  /**
   * Says in a source's log how many lines were dropped, at the time of the last one dropped (a
   * source's lines keep the engine's order: its note must not sort after lines still to come).
   */
  markDropped(source: number, text: string): void {
    const ms = this.#lastDrop.get(source) ?? this.#now();
    this.#lastDrop.delete(source);
    this.mark(source, ms, text);
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

  /**
   * Commits the queued lines (and their sources' counters and resume points) in one transaction;
   * seals each container's open lines into a compressed chunk once there are 128 of them or the
   * oldest is 5 s old.
   */
  flush(): void {
    if (this.#closed) return;
    const now = Date.now();
    const due = [...this.#open].filter(([, o]) => o.n >= CHUNK_LINES || now - o.since >= SEAL_AFTER_MS);
    if (this.#queue.length === 0 && this.#dirty.size === 0 && due.length === 0) return;
    const batch = this.#queue.splice(0, this.#queue.length);
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    const stored: Stored[] = [];
    try {
      this.#db.transaction(() => {
        for (const line of batch) {
          const id = this.#allocate(line.ms);
          this.#s.insertOpen.run(id, line.source, line.stream, line.sub, line.text);
          this.#s.insertFts.run(id, line.text);
          const open = this.#open.get(line.source);
          if (open === undefined) this.#open.set(line.source, { n: 1, since: now });
          else open.n++;
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
        for (const [source, open] of [...this.#open])
          if (open.n >= CHUNK_LINES || now - open.since >= SEAL_AFTER_MS) this.#seal(source);
      })();
      if (this.#error !== undefined) this.#log.info('logs are being written again');
      this.#error = undefined;
    } catch (error) {
      // Kept, in order, for the next try; the collectors wait meanwhile (pressed).
      this.#queue.unshift(...batch);
      for (const id of dirty) this.#dirty.add(id);
      this.#maxId = this.#highestId();
      this.#open.clear();
      for (const r of this.#s.openCounts.all() as { source: number; n: number }[])
        this.#open.set(r.source, { n: r.n, since: now });
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

  /** One source's open lines → chunks (inside the flush's transaction). */
  #seal(source: number): void {
    this.#open.delete(source);
    const rows = this.#s.openOf.all(source) as Row[];
    if (rows.length === 0) return;
    for (const entries of splitChunks(
      rows.map((r) => [r.id, r.stream, r.sub, r.text] as const),
      SLOT,
    )) {
      const first = entries[0] as ChunkEntry;
      const last = entries[entries.length - 1] as ChunkEntry;
      const bytes = entries.reduce((n, e) => n + Buffer.byteLength(e[3]), 0);
      const chunk = Number(
        this.#s.insertChunk.run(source, first[0], last[0], entries.length, bytes, encodeChunk(entries))
          .lastInsertRowid,
      );
      for (const entry of entries) {
        this.#s.insertLine.run(entry[0], source, chunk);
        this.#s.deleteOpen.run(entry[0]);
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
    const plan = this.#plan(o, wanted);
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
    }
    return { lines, next: null, truncated: false };
  }

  /** `lines` lines before and after one line, in its container incarnation, oldest first. */
  context(
    cursor: number,
    lines: number,
  ): { before: StoredLine[]; line: StoredLine; after: StoredLine[] } | undefined {
    const [row] = this.#rowsById([cursor]);
    if (row === undefined) return undefined;
    const s = this.#sources.get(row.source);
    if (s === undefined) return undefined;
    const before = this.#bySource([row.source], 0, row.id - 1, true, lines).reverse();
    const after = this.#bySource([row.source], row.id + 1, Number.MAX_SAFE_INTEGER, false, lines);
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
      // Open lines that old (a container quiet since): deleted one by one.
      deleted += this.#deleteOpen(this.#s.openOlder.all(cutoff) as Row[]);
      const floor = Math.max(MIN_FLOOR, Math.floor(this.#retention.sizeBytes / FLOOR_SHARE));
      while (this.usedBytes() > this.#retention.sizeBytes && Date.now() - started < budgetMs) {
        const victim = [...this.#sources.values()]
          .filter((s) => s.bytes > floor)
          .sort((a, b) => b.bytes - a.bytes)[0];
        const chunks =
          victim === undefined
            ? (this.#s.oldestChunks.all(Number.MAX_SAFE_INTEGER, PRUNE_CHUNKS) as ChunkRow[])
            : (this.#s.oldestChunksOf.all(victim.id, PRUNE_CHUNKS) as ChunkRow[]);
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
    this.flush();
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
    this.#db.close();
  }

  #deleteChunks(chunks: readonly ChunkRow[]): number {
    if (chunks.length === 0) return 0;
    const removed = new Map<number, { lines: number; bytes: number }>();
    let n = 0;
    this.#db.transaction(() => {
      for (const chunk of chunks) {
        for (const [id] of decodeChunk(chunk.data)) {
          this.#s.deleteFts.run(id);
          this.#s.deleteLine.run(id);
        }
        this.#s.deleteChunk.run(chunk.id);
        this.#cache.drop(chunk.id);
        const r = removed.get(chunk.source) ?? { lines: 0, bytes: 0 };
        r.lines += chunk.n;
        r.bytes += chunk.bytes;
        removed.set(chunk.source, r);
        n += chunk.n;
      }
      this.#uncount(removed);
    })();
    return n;
  }

  #deleteOpen(rows: readonly Row[]): number {
    if (rows.length === 0) return 0;
    const removed = new Map<number, { lines: number; bytes: number }>();
    this.#db.transaction(() => {
      for (const row of rows) {
        this.#s.deleteFts.run(row.id);
        this.#s.deleteOpen.run(row.id);
        const r = removed.get(row.source) ?? { lines: 0, bytes: 0 };
        r.lines += 1;
        r.bytes += Buffer.byteLength(row.text);
        removed.set(row.source, r);
      }
      this.#uncount(removed);
    })();
    return rows.length;
  }

  #uncount(removed: ReadonlyMap<number, { lines: number; bytes: number }>): void {
    for (const [id, r] of removed) {
      const s = this.#sources.get(id);
      if (s === undefined) continue;
      const next = { ...s, lines: Math.max(0, s.lines - r.lines), bytes: Math.max(0, s.bytes - r.bytes) };
      this.#sources.set(id, next);
      this.#s.saveCounts.run(next.lines, next.bytes, id);
    }
  }

  #highestId(): number {
    const a = (this.#s.maxLine.get() as { m: number | null }).m ?? 0;
    const b = (this.#s.maxOpen.get() as { m: number | null }).m ?? 0;
    return Math.max(a, b);
  }

  /**
   * The next id for a line of this millisecond: past every line stored, at once; a line
   * collected late takes the next free number in its own millisecond's slot.
   */
  #allocate(ms: number): number {
    const base = (ms > 0 ? ms : this.#now()) * SLOT;
    let id: number;
    if (base > this.#maxId) id = base;
    else if (Math.floor(this.#maxId / SLOT) * SLOT === base) id = this.#maxId + 1;
    else {
      const a = (this.#s.maxLineIn.get(base, base + SLOT - 1) as { m: number | null }).m;
      const b = (this.#s.maxOpenIn.get(base, base + SLOT - 1) as { m: number | null }).m;
      const m = a === null && b === null ? null : Math.max(a ?? 0, b ?? 0);
      id = m === null ? base : m + 1;
      while (this.#s.lineExists.get(id) !== undefined || this.#s.openExists.get(id) !== undefined) id++;
    }
    if (id > this.#maxId) this.#maxId = id;
    return id;
  }

  /** Whole rows for sealed lines' ids (their chunks decoded, cached). */
  #sealed(rows: readonly SealedRow[]): Row[] {
    const out: Row[] = [];
    for (const r of rows) {
      const chunk = this.#cache.get(r.chunk, () => (this.#s.chunkData.get(r.chunk) as { data: Buffer }).data);
      const entry = chunk.get(r.id);
      if (entry !== undefined)
        out.push({ id: r.id, source: r.source, stream: entry[1], sub: entry[2], text: entry[3] });
    }
    return out;
  }

  #rowsById(ids: readonly number[]): Row[] {
    const json = JSON.stringify(ids);
    return [
      ...this.#sealed(this.#s.linesIn.all(json) as SealedRow[]),
      ...(this.#s.openIn.all(json) as Row[]),
    ];
  }

  /**
   * Lines of these sources within [lo, hi], in order. A source's lines have increasing ids (its
   * lines come in engine order) and its open lines are newer than its chunks, so each source's
   * read is a prefix of its lines; merged, they are cut where the shortest prefix ends, so no
   * line of another source is passed over.
   */
  #bySource(sources: Iterable<number>, lo: number, hi: number, desc: boolean, limit: number): Row[] {
    const all: Row[] = [];
    let cut = desc ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    const span = CHUNK_SPAN_MS * SLOT + SLOT;
    for (const source of sources) {
      const got: Row[] = [];
      let more = false;
      const readOpen = (): void => {
        const open = (desc ? this.#s.openDesc : this.#s.openAsc).all(source, lo, hi, limit) as Row[];
        got.push(...open);
        if (open.length >= limit) more = true;
      };
      const readChunks = (): void => {
        const chunks = (
          desc
            ? this.#s.chunksDesc.all(
                source,
                lo,
                Math.min(hi + span, Number.MAX_SAFE_INTEGER),
                hi,
                CHUNKS_PER_STEP,
              )
            : this.#s.chunksAsc.all(source, lo, hi, CHUNKS_PER_STEP)
        ) as { id: number }[];
        for (const { id } of chunks) {
          const entries = this.#cache.get(id, () => (this.#s.chunkData.get(id) as { data: Buffer }).data);
          for (const e of entries.values())
            if (e[0] >= lo && e[0] <= hi) got.push({ id: e[0], source, stream: e[1], sub: e[2], text: e[3] });
        }
        if (chunks.length >= CHUNKS_PER_STEP) more = true;
      };
      // Newest first: open lines, then chunks; oldest first: the other way round.
      if (desc) {
        readOpen();
        if (!more) readChunks();
      } else {
        readChunks();
        if (!more) readOpen();
      }
      if (more && got.length > 0) {
        const ids = got.map((r) => r.id);
        cut = desc ? Math.max(cut, Math.min(...ids)) : Math.min(cut, Math.max(...ids));
      }
      all.push(...got);
    }
    const kept = all.filter((r) => (desc ? r.id >= cut : r.id <= cut));
    kept.sort((a, b) => (desc ? b.id - a.id : a.id - b.id));
    return kept.slice(0, limit);
  }

  /** The candidates of a search, one batch at a time, in order, within [lo, hi]. */
  #plan(o: LogSearch, wanted: ReadonlySet<number> | undefined): (lo: number, hi: number) => Row[] {
    const desc = o.order === 'desc';
    const order = (rows: Row[]): Row[] => rows.sort((a, b) => (desc ? b.id - a.id : a.id - b.id));
    if (wanted !== undefined) {
      // A few containers' lines are read in full and tested; a large set goes through the index.
      const total = [...wanted].reduce((sum, id) => sum + (this.#sources.get(id)?.lines ?? 0), 0);
      if (o.query.match === undefined || total <= BY_SOURCE_MAX)
        return (lo, hi) => this.#bySource(wanted, lo, hi, desc, BATCH);
    }
    // The index's candidates (or every line in order); lines of unwanted sources are skipped
    // before their chunk is decoded.
    const keep = (rows: SealedRow[]): SealedRow[] =>
      wanted === undefined ? rows : rows.filter((r) => wanted.has(r.source));
    if (o.query.match === undefined)
      return (lo, hi) => {
        const sealed = (desc ? this.#s.rangeDesc : this.#s.rangeAsc).all(lo, hi, BATCH) as SealedRow[];
        const open = (desc ? this.#s.openRangeDesc : this.#s.openRangeAsc).all(lo, hi, BATCH) as Row[];
        const ids = [...sealed.map((r) => r.id), ...open.map((r) => r.id)].sort((a, b) =>
          desc ? b - a : a - b,
        );
        if (ids.length === 0) return [];
        // The batch ends at the BATCH-th id of both lists: the rest come in the next batch.
        const end = ids[Math.min(ids.length, BATCH) - 1] as number;
        const inBatch = (id: number): boolean => (desc ? id >= end : id <= end);
        return moved(
          order([
            ...this.#sealed(keep(sealed.filter((r) => inBatch(r.id)))),
            ...open.filter((r) => inBatch(r.id)),
          ]),
          end,
        );
      };
    const match = o.query.match;
    return (lo, hi) => {
      const ids = (desc ? this.#s.ftsDesc : this.#s.ftsAsc).pluck().all(match, lo, hi, BATCH) as number[];
      if (ids.length === 0) return [];
      const json = JSON.stringify(ids);
      const sealed = keep(this.#s.linesIn.all(json) as SealedRow[]);
      return moved(
        order([...this.#sealed(sealed), ...(this.#s.openIn.all(json) as Row[])]),
        ids[ids.length - 1] as number,
      );
    };
  }

  #fail(error: unknown): void {
    const message = (error as Error).message;
    if (this.#error !== message) this.#log.error({ err: message }, 'logs are not being written');
    this.#error = message;
  }
}

/** A sealed line's place: its chunk. */
interface SealedRow {
  readonly id: number;
  readonly source: number;
  readonly chunk: number;
}

interface ChunkRow {
  readonly id: number;
  readonly source: number;
  readonly n: number;
  readonly bytes: number;
  readonly data: Buffer;
}

/**
 * A batch's rows, ending with one at `end` — when every candidate up to `end` was filtered out
 * (another container's), a placeholder that matches nothing moves the search's bounds past them.
 */
function moved(rows: Row[], end: number): Row[] {
  if (rows[rows.length - 1]?.id !== end) rows.push({ id: end, source: -1, stream: -1, sub: 0, text: '' });
  return rows;
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
    insertOpen: db.prepare('INSERT INTO open_lines (id, source, stream, sub, text) VALUES (?, ?, ?, ?, ?)'),
    insertFts: db.prepare('INSERT INTO lines_fts (rowid, text) VALUES (?, ?)'),
    deleteFts: db.prepare('DELETE FROM lines_fts WHERE rowid = ?'),
    openOf: db.prepare('SELECT id, source, stream, sub, text FROM open_lines WHERE source = ? ORDER BY id'),
    openCounts: db.prepare('SELECT source, count(*) AS n FROM open_lines GROUP BY source'),
    deleteOpen: db.prepare('DELETE FROM open_lines WHERE id = ?'),
    insertChunk: db.prepare(
      'INSERT INTO chunks (source, first, last, n, bytes, data) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    insertLine: db.prepare('INSERT INTO lines (id, source, chunk) VALUES (?, ?, ?)'),
    deleteLine: db.prepare('DELETE FROM lines WHERE id = ?'),
    deleteChunk: db.prepare('DELETE FROM chunks WHERE id = ?'),
    chunkData: db.prepare('SELECT data FROM chunks WHERE id = ?'),
    maxLine: db.prepare('SELECT max(id) AS m FROM lines'),
    maxOpen: db.prepare('SELECT max(id) AS m FROM open_lines'),
    maxLineIn: db.prepare('SELECT max(id) AS m FROM lines WHERE id BETWEEN ? AND ?'),
    maxOpenIn: db.prepare('SELECT max(id) AS m FROM open_lines WHERE id BETWEEN ? AND ?'),
    lineExists: db.prepare('SELECT 1 FROM lines WHERE id = ?'),
    openExists: db.prepare('SELECT 1 FROM open_lines WHERE id = ?'),
    oldestChunks: db.prepare(
      'SELECT id, source, n, bytes, data FROM chunks WHERE last < ? ORDER BY last LIMIT ?',
    ),
    oldestChunksOf: db.prepare(
      'SELECT id, source, n, bytes, data FROM chunks WHERE source = ? ORDER BY last LIMIT ?',
    ),
    openOlder: db.prepare('SELECT id, source, stream, sub, text FROM open_lines WHERE id < ?'),
    // Chunks holding lines within [lo, hi]: by `last` (indexed, bounded by hi + the longest span),
    // those starting above hi passed over.
    chunksDesc: db.prepare(
      'SELECT id FROM chunks WHERE source = ? AND last >= ? AND last <= ? AND first <= ? ORDER BY last DESC LIMIT ?',
    ),
    chunksAsc: db.prepare(
      'SELECT id FROM chunks WHERE source = ? AND last >= ? AND first <= ? ORDER BY last LIMIT ?',
    ),
    openDesc: db.prepare(
      'SELECT id, source, stream, sub, text FROM open_lines WHERE source = ? AND id BETWEEN ? AND ? ORDER BY id DESC LIMIT ?',
    ),
    openAsc: db.prepare(
      'SELECT id, source, stream, sub, text FROM open_lines WHERE source = ? AND id BETWEEN ? AND ? ORDER BY id LIMIT ?',
    ),
    rangeDesc: db.prepare(
      'SELECT id, source, chunk FROM lines WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT ?',
    ),
    rangeAsc: db.prepare('SELECT id, source, chunk FROM lines WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?'),
    openRangeDesc: db.prepare(
      'SELECT id, source, stream, sub, text FROM open_lines WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT ?',
    ),
    openRangeAsc: db.prepare(
      'SELECT id, source, stream, sub, text FROM open_lines WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?',
    ),
    ftsDesc: db.prepare(
      'SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid DESC LIMIT ?',
    ),
    ftsAsc: db.prepare(
      'SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid LIMIT ?',
    ),
    linesIn: db.prepare('SELECT id, source, chunk FROM lines WHERE id IN (SELECT value FROM json_each(?))'),
    openIn: db.prepare(
      'SELECT id, source, stream, sub, text FROM open_lines WHERE id IN (SELECT value FROM json_each(?))',
    ),
  };
}
