import type { Sql as PgClient } from 'postgres';
import type { Logger } from '../../log/logger.js';
import type { Alert } from '../alerts/alert-store.js';
import { type AlertRow, alertFromRow } from '../alerts/alert-store.js';
import { type ContainerItem, UNKNOWN_UPDATE } from '../model/container.js';
import type { EngineView, LiveState } from '../state/live-state.js';
import type { Sql } from '../store/sql.js';
import { CHANGES_CHANNEL } from './lease-fence.js';

export interface ReplicaOptions {
  readonly sql: Sql;
  /** The pool, for LISTEN (undefined or `pollOnly`: polling alone). */
  readonly listen: PgClient | undefined;
  readonly state: LiveState;
  /** Engines this monitor owns now: their state is its own watchers'. */
  readonly owns: (engine: string) => boolean;
  /** Engines configured here (others in the store are not shown). */
  readonly engines: () => readonly string[];
  readonly publishAlert: (alert: Alert) => void;
  readonly log: Logger;
  /** Polling interval: the fallback when a wake-up is missed, and the only way with pollOnly. */
  readonly pollMs: number;
}

/**
 * Rows a writer stamped up to this long before the newest one seen may still commit after it
 * (the writer commits every 250 ms; a transaction takes milliseconds): each read goes back this
 * far, and what was already applied is recognised by its text and skipped.
 */
const OVERLAP_MS = 3_000;

/**
 * What the monitors that do not own an engine show of it (docs/scaling.md): the owner writes each
 * container's item, the engine's view and each alert with the time it changed, and NOTIFYs the
 * engine's name at commit; here a wake-up (or the poll, the fallback — the only way behind
 * PgBouncer in transaction mode) reads what changed since the last read and applies it to the
 * live state, so the API, the dashboard and the live stream show every engine on every monitor.
 */
export class Replica {
  readonly #o: ReplicaOptions;
  /** The newest `changed_at` read per table. */
  readonly #since = { containers: 0, engines: 0, alerts: 0 };
  /** What was applied last per row, by its text: a row read again is not applied twice. */
  readonly #applied = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: ReplicaOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    if (this.#o.listen !== undefined) {
      try {
        const { unlisten } = await this.#o.listen.listen(CHANGES_CHANNEL, () => this.wake());
        this.#unlisten = unlisten;
      } catch (error) {
        this.#o.log.warn(
          { err: (error as Error).message },
          'cluster: LISTEN refused (PgBouncer in transaction mode?): following other monitors by polling alone',
        );
      }
    }
    await this.read().catch(() => {});
    this.#timer = setInterval(() => this.wake(), this.#o.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    await this.#reading?.catch(() => {});
  }

  /** Reads what changed now (one read at a time; a wake-up during one reads again after it). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#reading !== undefined) {
      this.#again = true;
      return;
    }
    this.#reading = this.read()
      .catch((error: Error) => this.#o.log.debug({ err: error.message }, 'cluster: reading changes failed'))
      .finally(() => {
        this.#reading = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /** One read of the three tables, applied for the engines another monitor owns. */
  async read(): Promise<void> {
    const configured = new Set(this.#o.engines());
    const followed = (engine: string): boolean => configured.has(engine) && !this.#o.owns(engine);
    const engines = await this.#o.sql.all<{ name: string; view: string | null; changed: number }>(
      'SELECT name, view, changed_at AS changed FROM engines WHERE changed_at > ? ORDER BY changed_at',
      [this.#since.engines - OVERLAP_MS],
    );
    for (const row of engines) {
      this.#since.engines = Math.max(this.#since.engines, row.changed);
      if (row.view === null || !followed(row.name) || !this.#fresh(`e/${row.name}`, row.view)) continue;
      this.#o.state.setEngine(JSON.parse(row.view) as EngineView);
    }
    const containers = await this.#o.sql.all<{ engine: string; id: string; item: string; changed: number }>(
      'SELECT engine, id, item, changed_at AS changed FROM containers WHERE changed_at > ? ORDER BY changed_at',
      [this.#since.containers - OVERLAP_MS],
    );
    for (const row of containers) {
      this.#since.containers = Math.max(this.#since.containers, row.changed);
      if (!followed(row.engine) || !this.#fresh(`c/${row.engine}/${row.id}`, row.item)) continue;
      const item = JSON.parse(row.item) as ContainerItem;
      this.#o.state.upsert(item.update === undefined ? { ...item, update: UNKNOWN_UPDATE } : item);
    }
    const alerts = await this.#o.sql.all<AlertRow & { changed_at: number }>(
      'SELECT * FROM alerts WHERE changed_at > ? ORDER BY changed_at',
      [this.#since.alerts - OVERLAP_MS],
    );
    for (const row of alerts) {
      this.#since.alerts = Math.max(this.#since.alerts, row.changed_at);
      const text = `${row.state}|${row.count}|${row.summary}|${row.acknowledged_at}|${row.details}`;
      if (!followed(row.engine) || !this.#fresh(`a/${row.id}`, text)) continue;
      this.#o.publishAlert(alertFromRow(row));
    }
    // What was applied before the overlap window cannot come again: forget it (bounded memory).
    if (this.#applied.size > 50_000) this.#applied.clear();
  }

  /** True (and remembered) when this row's text is not the one applied last. */
  #fresh(key: string, text: string): boolean {
    if (this.#applied.get(key) === text) return false;
    this.#applied.set(key, text);
    return true;
  }
}
