import type { Logger } from '../../log/logger.js';
import type { Param, Sql } from './sql.js';

/** One queued write: a statement and its values. */
export interface Write {
  readonly text: string;
  readonly params: readonly Param[];
}

export interface WriterStatus {
  readonly ok: boolean;
  readonly error?: string;
  /** Writes queued, not yet committed. */
  readonly pending: number;
  /** Writes dropped, oldest first, while the store refused them past the bound. */
  readonly dropped: number;
}

/** Queued writes are committed together this often: a crash loses at most this much. */
const FLUSH_MS = 250;
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
  #lastCommit = performance.now();

  constructor(sql: Sql, log: Logger) {
    this.#sql = sql;
    this.#log = log;
    this.#timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  push(text: string, params: readonly Param[]): void {
    this.#queue.push({ text, params });
  }

  /** Queues a write and commits it right after the current turn (alerts: they are rare). */
  pushSoon(text: string, params: readonly Param[]): void {
    this.push(text, params);
    if (this.#soon) return;
    this.#soon = true;
    setImmediate(() => {
      this.#soon = false;
      void this.flush();
    });
  }

  status(): WriterStatus {
    const base = { pending: this.#queue.length, dropped: this.#dropped };
    return this.#error === undefined ? { ok: true, ...base } : { ok: false, error: this.#error, ...base };
  }

  /** ms since the last successful commit. */
  get sinceCommit(): number {
    return performance.now() - this.#lastCommit;
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
      // All sent at once: PostgreSQL pipelines them within the transaction.
      await this.#sql.transaction((tx) => Promise.all(writes.map((w) => tx.run(w.text, w.params))));
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
