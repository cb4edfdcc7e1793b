import type { Logger } from '../../log/logger.js';
import type { Param, Sql } from './sql.js';

/** One queued write: a statement and its values. */
export interface Write {
  readonly text: string;
  readonly params: readonly Param[];
  /** The engine it is about, and the lease term it was made under (several monitors: fencing). */
  readonly engine?: string;
  readonly term?: number;
  /** Other monitors follow it (a container, an engine's view, an alert): wake them at commit. */
  readonly wake?: boolean;
}

/** What a write for an engine is tagged with. */
export interface WriteTag {
  readonly engine: string;
  readonly wake?: boolean;
  /** False: not fenced (about several engines at once, e.g. a `missing` incident across them). */
  readonly fenced?: boolean;
}

/**
 * Several monitors on one store (cluster/lease-fence.ts): the term this monitor holds an engine's
 * lease with, and — inside the commit's transaction — the engines whose lease it still holds with
 * that term.
 */
export interface Fence {
  term(engine: string): number | undefined;
  valid(tx: Sql, engines: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /** After the commit: tell the other monitors which engines changed. */
  wake(tx: Sql, engines: readonly string[]): Promise<void>;
}

export interface WriterStatus {
  readonly ok: boolean;
  readonly error?: string;
  /** Writes queued, not yet committed. */
  readonly pending: number;
  /** Writes dropped, oldest first, while the store refused them past the bound. */
  readonly dropped: number;
  /** Writes refused because their lease term was stale (several monitors: another owns it now). */
  readonly fenced: number;
}

/** Queued writes are committed together this often: a crash loses at most this much. */
const FLUSH_MS = 250;
/** With nothing to write, the store is asked this often whether it answers. */
const PING_MS = 2_000;
/** Queued writes kept while the store refuses them; beyond this the oldest are dropped. */
const MAX_PENDING = 200_000;

/**
 * The monitor's one writer: history, timelines, samples and alerts queue their writes here and
 * they are committed in order, many per transaction (better-sqlite3's and PostgreSQL's advice
 * alike: one round of fsync for many rows). A write the store refuses (a full disk, PostgreSQL
 * restarting) keeps the queue — bounded: past 200,000 writes the oldest are dropped, counted and
 * logged — and marks the store unhealthy (`/healthz` 503); the live state goes on meanwhile.
 * Reads that must see what was queued `flush()` first.
 */
export class Writer {
  readonly #sql: Sql;
  readonly #log: Logger;
  readonly #queue: Write[] = [];
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> | undefined;
  #soon = false;
  #error: string | undefined;
  #dropped = 0;
  #fencedCount = 0;
  #fence: Fence | undefined;
  #lastCommit = performance.now();

  constructor(sql: Sql, log: Logger) {
    this.#sql = sql;
    this.#log = log;
    this.#timer = setInterval(() => void this.#tick(), FLUSH_MS);
    this.#timer.unref();
  }

  /** Several monitors: writes tagged with an engine carry its lease term and are fenced at commit. */
  setFence(fence: Fence): void {
    this.#fence = fence;
  }

  push(text: string, params: readonly Param[], tag?: WriteTag): void {
    if (tag === undefined || this.#fence === undefined || tag.fenced === false) {
      this.#queue.push({ text, params, ...(tag?.wake === true ? { engine: tag.engine, wake: true } : {}) });
      return;
    }
    const term = this.#fence.term(tag.engine);
    if (term === undefined) {
      this.#fencedCount++; // a watcher of an engine this monitor no longer owns: its last words
      return;
    }
    this.#queue.push({ text, params, engine: tag.engine, term, wake: tag.wake === true });
  }

  /** Queues a write and commits it right after the current turn (alerts: they are rare). */
  pushSoon(text: string, params: readonly Param[], tag?: WriteTag): void {
    this.push(text, params, tag);
    if (this.#soon) return;
    this.#soon = true;
    setImmediate(() => {
      this.#soon = false;
      void this.flush();
    });
  }

  status(): WriterStatus {
    const base = { pending: this.#queue.length, dropped: this.#dropped, fenced: this.#fencedCount };
    return this.#error === undefined ? { ok: true, ...base } : { ok: false, error: this.#error, ...base };
  }

  /** Commits what is queued; with nothing to write, asks the store once in a while that it is there. */
  async #tick(): Promise<void> {
    if (this.#queue.length > 0 || this.#flushing !== undefined) return this.flush();
    if (performance.now() - this.#lastCommit < PING_MS) return;
    try {
      // /healthz says the store is away even when nothing is being written.
      await this.#sql.get('SELECT 1 AS one');
      if (this.#error !== undefined) this.#log.info('the store answers again');
      this.#error = undefined;
      this.#lastCommit = performance.now();
    } catch (error) {
      this.#lastCommit = performance.now(); // asked again after PING_MS, not every tick
      this.failed(error);
    }
  }

  /** Commits everything queued until now (waiting for a commit under way first). */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    if (this.#queue.length === 0) return;
    this.#flushing = this.#commit();
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  async #commit(): Promise<void> {
    const writes = this.#queue.splice(0);
    try {
      await this.#sql.transaction(async (tx) => {
        let kept = writes;
        const fence = this.#fence;
        if (fence !== undefined) {
          const engines = [
            ...new Set(writes.flatMap((w) => (w.term === undefined ? [] : [w.engine as string]))),
          ];
          const valid = engines.length === 0 ? new Map<string, number>() : await fence.valid(tx, engines);
          kept = writes.filter((w) => w.term === undefined || valid.get(w.engine as string) === w.term);
          if (kept.length < writes.length) {
            this.#fencedCount += writes.length - kept.length;
            this.#log.warn(
              { fenced: writes.length - kept.length },
              'writes of a stale lease term refused: another monitor owns those engines now',
            );
          }
        }
        // All sent at once: PostgreSQL pipelines them within the transaction.
        await Promise.all(kept.map((w) => tx.run(w.text, w.params)));
        const woken = [...new Set(kept.flatMap((w) => (w.wake === true ? [w.engine as string] : [])))];
        if (fence !== undefined && woken.length > 0) await fence.wake(tx, woken);
      });
      if (this.#error !== undefined)
        this.#log.info({ dropped: this.#dropped }, 'history is being written again');
      this.#error = undefined;
      this.#lastCommit = performance.now();
    } catch (error) {
      // Kept for the next try (a disk that fills up may be freed, a database comes back).
      this.#queue.unshift(...writes);
      const excess = this.#queue.length - MAX_PENDING;
      if (excess > 0) {
        this.#queue.splice(0, excess);
        this.#dropped += excess;
        this.#log.warn({ dropped: this.#dropped }, 'history writes dropped: the store refused them too long');
      }
      this.failed(error);
    }
  }

  /** A write outside the queue failed too: the same unhealthy mark. */
  failed(error: unknown): void {
    const message = (error as Error).message;
    if (this.#error !== message)
      this.#log.error({ err: message }, 'history is not being written (the live state goes on)');
    this.#error = message;
  }
}
