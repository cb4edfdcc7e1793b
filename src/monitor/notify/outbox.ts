import type { Clock } from '../../clock.js';
import type { Sql } from '../store/sql.js';

/** A transition's key: the incident and what happened to it (`a1b2…:firing`). */
export function dedupKey(alertId: string, transition: string): string {
  return `${alertId}:${transition}`;
}

/** Which engines' notifications this monitor sends, and under which lease term (several monitors). */
export interface OutboxOwnership {
  /** This monitor's id (the claimer). */
  readonly self: string;
  /** The lease term held for the engine; undefined: not held. Absent: one monitor, no leases. */
  readonly term?: (engine: string) => number | undefined;
}

/** A claimed row another monitor left unsent (it died between sending and marking). */
export interface Orphan {
  readonly key: string;
  readonly alertId: string;
  readonly event: string;
}

/** Unsent rows claimed this long ago by another monitor are taken over. */
const ORPHAN_MS = 30_000;
/** This monitor's own unsent rows are sent again only after this long (a delivery retries ~1 min). */
const OWN_ORPHAN_MS = 5 * 60_000;

/**
 * The notification outbox (docs/alerts.md#outbox): every transition of an incident is written
 * once — its key unique — before anything is sent, and marked sent once every notifier has had
 * it. With several monitors the write is fenced by the engine's lease (owner and term), so an
 * engine's transition is claimed by exactly one monitor; a row claimed and never marked (its
 * monitor died between sending and marking) is taken by the engine's next owner — `FOR UPDATE
 * SKIP LOCKED`, so two never take the same one — and sent again: at most one duplicate per crash,
 * which receivers can drop by the `dedupKey` every payload carries.
 */
export class Outbox {
  readonly #sql: Sql;
  readonly #own: OutboxOwnership;
  readonly #now: Clock;

  constructor(sql: Sql, own: OutboxOwnership, now: Clock) {
    this.#sql = sql;
    this.#own = own;
    this.#now = now;
  }

  /**
   * Writes the transition; true when this call wrote it (send it), false when it was written
   * before (sent, or being sent, by whoever wrote it) or the engine's lease is not this monitor's.
   */
  async claim(key: string, alertId: string, engine: string, event: string): Promise<boolean> {
    const now = this.#now();
    const values = [key, alertId, engine, event, this.#own.self, now];
    const term = this.#own.term;
    if (term === undefined || engine === '*')
      return (
        (await this.#sql.run(
          `INSERT INTO outbox (key, alert_id, engine, event, claimed_by, claimed_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT DO NOTHING`,
          values,
        )) === 1
      );
    const held = term(engine);
    if (held === undefined) return false;
    return (
      (await this.#sql.run(
        `INSERT INTO outbox (key, alert_id, engine, event, claimed_by, claimed_at)
         SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (
           SELECT 1 FROM engine_leases WHERE engine = ? AND owner = ? AND term = ?)
         ON CONFLICT DO NOTHING`,
        [...values, engine, this.#own.self, held],
      )) === 1
    );
  }

  /** Every notifier has had it (delivered, or given up after its retries). */
  async sent(key: string): Promise<void> {
    await this.#sql.run('UPDATE outbox SET sent_at = ? WHERE key = ?', [this.#now(), key]);
  }

  /**
   * Unsent rows of `engines` left by a monitor that is gone (or by this one long ago), taken over
   * — claimed by this monitor now — to be sent again.
   */
  async orphans(engines: readonly string[]): Promise<Orphan[]> {
    if (engines.length === 0) return [];
    const now = this.#now();
    const skipLocked = this.#sql.kind === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
    return this.#sql.transaction(async (tx) => {
      const rows = await tx.all<{ key: string; alert_id: string; event: string }>(
        `SELECT key, alert_id, event FROM outbox
         WHERE sent_at IS NULL AND engine IN (${engines.map(() => '?').join(', ')})
           AND ((claimed_by <> ? AND claimed_at < ?) OR claimed_at < ?)
         ORDER BY claimed_at LIMIT 100 ${skipLocked}`,
        [...engines, this.#own.self, now - ORPHAN_MS, now - OWN_ORPHAN_MS],
      );
      for (const row of rows)
        await tx.run('UPDATE outbox SET claimed_by = ?, claimed_at = ? WHERE key = ?', [
          this.#own.self,
          now,
          row.key,
        ]);
      return rows.map((r) => ({ key: r.key, alertId: r.alert_id, event: r.event }));
    });
  }

  /** Sent rows past retention go (the deliveries keep what was sent). */
  async prune(keepMs: number): Promise<void> {
    await this.#sql.run('DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?', [
      this.#now() - keepMs,
    ]);
  }
}
