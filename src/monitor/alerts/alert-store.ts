import { randomBytes } from 'node:crypto';
import type { Db } from '../store/database.js';
import type { AlertKind } from './alert-rules.js';

/** The alert object of the API, the stream and the notifications (docs/alerts.md). */
export interface Alert {
  readonly id: string;
  readonly rule: string;
  readonly kind: AlertKind;
  readonly engine: string;
  readonly container: { readonly id: string; readonly name: string } | null;
  readonly state: 'open' | 'resolved';
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  readonly acknowledgedAt: string | null;
  /** How many times it happened while open (crashes folded into a loop, reminders excluded). */
  readonly count: number;
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** One attempt to deliver one notification of an alert to one notifier. */
export interface Delivery {
  readonly notifier: string;
  readonly event: 'firing' | 'resolved' | 'reminder';
  readonly attempt: number;
  readonly at: string;
  readonly ok: boolean;
  readonly status: number | null;
  readonly error: string | null;
  readonly response: string | null;
}

interface Row {
  id: string;
  rule: string;
  kind: AlertKind;
  engine: string;
  container_id: string | null;
  container_name: string | null;
  state: 'open' | 'resolved';
  opened_at: number;
  resolved_at: number | null;
  acknowledged_at: number | null;
  count: number;
  summary: string;
  details: string;
  target: string;
  last_notified_at: number | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function fromRow(r: Row): Alert {
  return {
    id: r.id,
    rule: r.rule,
    kind: r.kind,
    engine: r.engine,
    container: r.container_id === null ? null : { id: r.container_id, name: r.container_name ?? '' },
    state: r.state,
    openedAt: iso(r.opened_at) as string,
    resolvedAt: iso(r.resolved_at),
    acknowledgedAt: iso(r.acknowledged_at),
    count: r.count,
    summary: r.summary,
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}

/**
 * Incidents in SQLite, written at once (they are rare, and a restart of the monitor must neither
 * lose an open one nor send it again). `target` is the rule's key for what it watches
 * (`engine/containerId`, `engine`, `missing:web`), so an open incident is found again after a
 * restart.
 */
export class AlertStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  open(input: {
    rule: string;
    kind: AlertKind;
    engine: string;
    container: { id: string; name: string } | null;
    target: string;
    summary: string;
    details: Record<string, unknown>;
    at: number;
  }): Alert {
    const id = `a${randomBytes(6).toString('hex')}`;
    this.#db
      .prepare(
        `INSERT INTO alerts (id, rule, kind, engine, container_id, container_name, target, state, opened_at, count, summary, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, 1, ?, ?)`,
      )
      .run(
        id,
        input.rule,
        input.kind,
        input.engine,
        input.container?.id ?? null,
        input.container?.name ?? null,
        input.target,
        input.at,
        input.summary,
        JSON.stringify(input.details),
      );
    return this.get(id) as Alert;
  }

  /** Updates an open incident in place (count, summary, details). */
  update(
    id: string,
    change: { count?: number; summary?: string; details?: Record<string, unknown> },
  ): Alert | undefined {
    const current = this.get(id);
    if (current === undefined) return undefined;
    this.#db
      .prepare('UPDATE alerts SET count = ?, summary = ?, details = ? WHERE id = ?')
      .run(
        change.count ?? current.count,
        change.summary ?? current.summary,
        JSON.stringify(change.details ?? current.details),
        id,
      );
    return this.get(id);
  }

  resolve(id: string, at: number, summary: string, details?: Record<string, unknown>): Alert | undefined {
    const current = this.get(id);
    if (current === undefined || current.state === 'resolved') return current;
    this.#db
      .prepare(`UPDATE alerts SET state = 'resolved', resolved_at = ?, summary = ?, details = ? WHERE id = ?`)
      .run(at, summary, JSON.stringify(details ?? current.details), id);
    return this.get(id);
  }

  acknowledge(id: string, at: number): Alert | undefined {
    this.#db
      .prepare('UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, ?) WHERE id = ?')
      .run(at, id);
    return this.get(id);
  }

  notified(id: string, at: number): void {
    this.#db.prepare('UPDATE alerts SET last_notified_at = ? WHERE id = ?').run(at, id);
  }

  lastNotified(id: string): number | undefined {
    const row = this.#db.prepare('SELECT last_notified_at AS at FROM alerts WHERE id = ?').get(id) as
      | { at: number | null }
      | undefined;
    return row?.at ?? undefined;
  }

  get(id: string): Alert | undefined {
    const row = this.#db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /** The open incident of a rule for a target, if any (one at a time). */
  openFor(rule: string, target: string): Alert | undefined {
    const row = this.#db
      .prepare(`SELECT * FROM alerts WHERE rule = ? AND target = ? AND state = 'open'`)
      .get(rule, target) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /** Every open incident with its rule target (restored into trackers at start). */
  openIncidents(): { alert: Alert; target: string }[] {
    return (this.#db.prepare(`SELECT * FROM alerts WHERE state = 'open'`).all() as Row[]).map((r) => ({
      alert: fromRow(r),
      target: r.target,
    }));
  }

  list(
    filter: { state?: string | undefined; engine?: string | undefined; container?: string | undefined },
    limit = 500,
  ): Alert[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.state !== undefined) {
      where.push('state = ?');
      args.push(filter.state);
    }
    if (filter.engine !== undefined) {
      where.push('engine = ?');
      args.push(filter.engine);
    }
    if (filter.container !== undefined) {
      where.push('(container_id = ? OR container_name = ? OR container_id LIKE ?)');
      args.push(filter.container, filter.container, `${filter.container.replace(/[%_]/g, '')}%`);
    }
    const sql = `SELECT * FROM alerts ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, limit) as Row[]).map(fromRow);
  }

  addDelivery(alertId: string, d: Delivery): void {
    this.#db
      .prepare(
        'INSERT INTO deliveries (alert_id, notifier, event, attempt, at, ok, status, error, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        alertId,
        d.notifier,
        d.event,
        d.attempt,
        Date.parse(d.at),
        d.ok ? 1 : 0,
        d.status,
        d.error,
        d.response,
      );
  }

  deliveries(alertId: string): Delivery[] {
    return (
      this.#db.prepare('SELECT * FROM deliveries WHERE alert_id = ? ORDER BY seq').all(alertId) as {
        notifier: string;
        event: Delivery['event'];
        attempt: number;
        at: number;
        ok: number;
        status: number | null;
        error: string | null;
        response: string | null;
      }[]
    ).map((r) => ({
      notifier: r.notifier,
      event: r.event,
      attempt: r.attempt,
      at: new Date(r.at).toISOString(),
      ok: r.ok === 1,
      status: r.status,
      error: r.error,
      response: r.response,
    }));
  }

  /** Open incidents per kind and engine (`dockgate_alerts_open`). */
  openCounts(): { kind: string; engine: string; n: number }[] {
    return this.#db
      .prepare(`SELECT kind, engine, count(*) AS n FROM alerts WHERE state = 'open' GROUP BY kind, engine`)
      .all() as {
      kind: string;
      engine: string;
      n: number;
    }[];
  }
}
