import type { Sql } from 'postgres';

/** This monitor, as the others see it. */
export interface InstanceInfo {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly listen: string;
}

export interface Lease {
  readonly engine: string;
  readonly owner: string | null;
  readonly term: number;
  readonly expiresAt: Date;
  /** Its expiry has not passed on the database's clock. */
  readonly live: boolean;
}

/** A lease this monitor holds, and when it must stop acting on it by its own clock. */
export interface Held {
  readonly engine: string;
  readonly term: number;
  /** `performance.now()` before which the lease cannot have expired (the trust window). */
  readonly trustUntil: number;
}

/**
 * Engine leases on PostgreSQL (docs/scaling.md): one row per engine — owner, term, expiry on the
 * **database's** clock, so monitors' clocks never have to agree. Taking a lease that is free or
 * expired raises its term; renewing needs the same owner and term and an unexpired row; a
 * monitor trusts a lease only until `trustUntil` — the time it sent the renewal plus the lease
 * time, by its own monotonic clock — so a monitor paused or cut off stops acting before another
 * can have taken over. Every write a watcher makes for the engine is fenced by its term (the
 * writer's commit, lease-fence.ts; `fenced()` for a write of its own): a stale term writes nothing. No session advisory locks: they break behind PgBouncer.
 */
export class LeaseStore {
  readonly #sql: Sql;
  readonly #self: InstanceInfo;
  readonly #ttlMs: number;

  constructor(sql: Sql, self: InstanceInfo, ttlMs: number) {
    this.#sql = sql;
    this.#self = self;
    this.#ttlMs = ttlMs;
  }

  async heartbeat(): Promise<void> {
    const { id, host, pid, listen } = this.#self;
    await this.#sql`
      INSERT INTO monitor_instances (id, host, pid, listen) VALUES (${id}, ${host}, ${pid}, ${listen})
      ON CONFLICT (id) DO UPDATE SET last_seen = now(), host = EXCLUDED.host, pid = EXCLUDED.pid, listen = EXCLUDED.listen`;
  }

  /** Monitors seen within `staleMs` (this one included once it has sent a heartbeat). */
  async instances(
    staleMs: number,
  ): Promise<{ id: string; host: string; pid: number; listen: string; lastSeen: Date }[]> {
    return this.#sql<{ id: string; host: string; pid: number; listen: string; lastSeen: Date }[]>`
      SELECT id, host, pid, listen, last_seen AS "lastSeen" FROM monitor_instances
      WHERE last_seen > now() - make_interval(secs => ${staleMs / 1000}) ORDER BY id`;
  }

  async leases(): Promise<Lease[]> {
    const rows = await this.#sql<
      { engine: string; owner: string | null; term: string; expiresAt: Date; live: boolean }[]
    >`
      SELECT engine, owner, term, expires_at AS "expiresAt", expires_at > now() AS live FROM engine_leases ORDER BY engine`;
    return rows.map((r) => ({ ...r, term: Number(r.term) }));
  }

  /** Takes the lease of a free or expired engine: its new term, or undefined if another holds it. */
  async acquire(engine: string): Promise<Held | undefined> {
    const sent = performance.now();
    const [row] = await this.#sql<{ term: string }[]>`
      INSERT INTO engine_leases (engine, owner, term, expires_at)
      VALUES (${engine}, ${this.#self.id}, 1, now() + make_interval(secs => ${this.#ttlMs / 1000}))
      ON CONFLICT (engine) DO UPDATE
        SET owner = EXCLUDED.owner, term = engine_leases.term + 1, expires_at = EXCLUDED.expires_at
        WHERE engine_leases.owner IS NULL OR engine_leases.expires_at <= now()
      RETURNING term`;
    return row === undefined ? undefined : { engine, term: Number(row.term), trustUntil: sent + this.#ttlMs };
  }

  /** Extends a held lease; undefined when it was lost (expired and taken, or released). */
  async renew(held: Held): Promise<Held | undefined> {
    const sent = performance.now();
    const rows = await this.#sql`
      UPDATE engine_leases SET expires_at = now() + make_interval(secs => ${this.#ttlMs / 1000})
      WHERE engine = ${held.engine} AND owner = ${this.#self.id} AND term = ${held.term} AND expires_at > now()
      RETURNING term`;
    return rows.length === 0 ? undefined : { ...held, trustUntil: sent + this.#ttlMs };
  }

  /** Gives a lease back at once (fair share, shutdown): another monitor may take it now. */
  async release(held: Held): Promise<void> {
    await this.#sql`
      UPDATE engine_leases SET owner = NULL, expires_at = now()
      WHERE engine = ${held.engine} AND owner = ${this.#self.id} AND term = ${held.term}`;
  }

  /**
   * The fencing condition, as a clause for a write of its own: true while this monitor holds the
   * engine with that term — owner and term, not the expiry, the same rule the writer's commit
   * applies (lease-fence.ts): any takeover raises the term.
   */
  fenced(held: Pick<Held, 'engine' | 'term'>) {
    return this.#sql`EXISTS (SELECT 1 FROM engine_leases
      WHERE engine = ${held.engine} AND owner = ${this.#self.id} AND term = ${held.term})`;
  }
}
