import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../../clock.js';
import type { Sql } from '../store/sql.js';
import type { Writer, WriteTag } from '../store/writer.js';
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

/** How an incident's write is tagged: fenced by its engine's lease; one across engines is not. */
function tagOf(engine: string): WriteTag {
  return engine === '*' ? { engine, wake: true, fenced: false } : { engine, wake: true };
}

/** An `alerts` row as both backends return it. */
export interface AlertRow {
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

export function alertFromRow(r: AlertRow): Alert {
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

interface Open {
  alert: Alert;
  readonly target: string;
  lastNotifiedAt: number | null;
}

const SQL = {
  open: `INSERT INTO alerts (id, rule, kind, engine, container_id, container_name, target, state, opened_at, count, summary, details, changed_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, 1, ?, ?, ?)`,
  update: 'UPDATE alerts SET count = ?, summary = ?, details = ?, changed_at = ? WHERE id = ?',
  resolve: `UPDATE alerts SET state = 'resolved', resolved_at = ?, summary = ?, details = ?, changed_at = ? WHERE id = ?`,
  acknowledge:
    'UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, ?), changed_at = ? WHERE id = ?',
  notified: 'UPDATE alerts SET last_notified_at = ? WHERE id = ?',
  openOf: `SELECT * FROM alerts WHERE state = 'open' AND (engine = ? OR (? = 1 AND engine = '*'))`,
  get: 'SELECT * FROM alerts WHERE id = ?',
  openAll: `SELECT * FROM alerts WHERE state = 'open'`,
  addDelivery:
    'INSERT INTO deliveries (alert_id, notifier, event, attempt, at, ok, status, error, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  deliveries: 'SELECT * FROM deliveries WHERE alert_id = ? ORDER BY seq',
} as const;

/**
 * Incidents in the store. The open ones — what the rules decide on, at every event — are held in
 * memory and written through the store's writer at once (pushSoon: committed right after the
 * turn), so a decision never waits for a disk or a network; reads for the API flush first and
 * read the store. `target` is the rule's key for what it watches (`engine/containerId`, `engine`,
 * `missing:web`), so an open incident is found again after a restart (`load`).
 */
export class AlertStore {
  readonly #sql: Sql;
  readonly #writer: Writer;
  readonly #now: Clock;
  /** Open incidents by id. */
  readonly #open = new Map<string, Open>();

  private constructor(sql: Sql, writer: Writer, now: Clock) {
    this.#sql = sql;
    this.#writer = writer;
    this.#now = now;
  }

  /**
   * The store with its open incidents read: all of them (one monitor), or none until `adopt`
   * (several monitors: each holds the incidents of the engines it owns).
   */
  static async load(
    sql: Sql,
    writer: Writer,
    options: { now?: Clock; engines?: 'all' | 'adopted' } = {},
  ): Promise<AlertStore> {
    const store = new AlertStore(sql, writer, options.now ?? systemClock);
    if (options.engines !== 'adopted')
      for (const row of await sql.all<AlertRow>(SQL.openAll)) store.#hold(row);
    return store;
  }

  /**
   * This monitor owns `engine` now: its open incidents, as the last owner left them (`lead`: the
   * first engine, whose owner also decides the incidents across engines).
   */
  async adopt(engine: string, lead = false): Promise<{ alert: Alert; target: string }[]> {
    await this.#writer.flush();
    const rows = await this.#sql.all<AlertRow>(SQL.openOf, [engine, lead ? 1 : 0]);
    for (const row of rows) this.#hold(row);
    return rows.map((r) => ({ alert: alertFromRow(r), target: r.target }));
  }

  /** Another monitor owns `engine` now: its incidents are that one's to decide on. */
  forget(engine: string, lead = false): void {
    for (const [id, entry] of this.#open)
      if (entry.alert.engine === engine || (lead && entry.alert.engine === '*')) this.#open.delete(id);
  }

  #hold(row: AlertRow): void {
    this.#open.set(row.id, {
      alert: alertFromRow(row),
      target: row.target,
      lastNotifiedAt: row.last_notified_at,
    });
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
    const details = JSON.stringify(input.details);
    this.#writer.pushSoon(
      SQL.open,
      [
        id,
        input.rule,
        input.kind,
        input.engine,
        input.container?.id ?? null,
        input.container?.name ?? null,
        input.target,
        input.at,
        input.summary,
        details,
        this.#now(),
      ],
      tagOf(input.engine),
    );
    const alert: Alert = {
      id,
      rule: input.rule,
      kind: input.kind,
      engine: input.engine,
      container: input.container === null ? null : { id: input.container.id, name: input.container.name },
      state: 'open',
      openedAt: new Date(input.at).toISOString(),
      resolvedAt: null,
      acknowledgedAt: null,
      count: 1,
      summary: input.summary,
      details: JSON.parse(details) as Record<string, unknown>,
    };
    this.#open.set(id, { alert, target: input.target, lastNotifiedAt: null });
    return alert;
  }

  /** Updates an open incident in place (count, summary, details). */
  update(
    id: string,
    change: { count?: number; summary?: string; details?: Record<string, unknown> },
  ): Alert | undefined {
    const entry = this.#open.get(id);
    if (entry === undefined) return undefined;
    const details = JSON.stringify(change.details ?? entry.alert.details);
    entry.alert = {
      ...entry.alert,
      count: change.count ?? entry.alert.count,
      summary: change.summary ?? entry.alert.summary,
      details: JSON.parse(details) as Record<string, unknown>,
    };
    this.#writer.pushSoon(
      SQL.update,
      [entry.alert.count, entry.alert.summary, details, this.#now(), id],
      tagOf(entry.alert.engine),
    );
    return entry.alert;
  }

  resolve(id: string, at: number, summary: string, details?: Record<string, unknown>): Alert | undefined {
    const entry = this.#open.get(id);
    if (entry === undefined) return undefined;
    const text = JSON.stringify(details ?? entry.alert.details);
    this.#open.delete(id);
    this.#writer.pushSoon(SQL.resolve, [at, summary, text, this.#now(), id], tagOf(entry.alert.engine));
    return {
      ...entry.alert,
      state: 'resolved',
      resolvedAt: new Date(at).toISOString(),
      summary,
      details: JSON.parse(text) as Record<string, unknown>,
    };
  }

  /** Marks it acknowledged (the first time counts); any incident, open or resolved. */
  async acknowledge(id: string, at: number): Promise<Alert | undefined> {
    const entry = this.#open.get(id);
    if (entry !== undefined && entry.alert.acknowledgedAt === null)
      entry.alert = { ...entry.alert, acknowledgedAt: new Date(at).toISOString() };
    this.#writer.push(SQL.acknowledge, [at, this.#now(), id]);
    return this.get(id);
  }

  notified(id: string, at: number): void {
    const entry = this.#open.get(id);
    if (entry === undefined) return;
    entry.lastNotifiedAt = at;
    this.#writer.pushSoon(SQL.notified, [at, id], { ...tagOf(entry.alert.engine), wake: false });
  }

  /** When an open incident was last notified (reminders count from it). */
  lastNotified(id: string): number | undefined {
    return this.#open.get(id)?.lastNotifiedAt ?? undefined;
  }

  async get(id: string): Promise<Alert | undefined> {
    await this.#writer.flush();
    const row = await this.#sql.get<AlertRow>(SQL.get, [id]);
    return row === undefined ? undefined : alertFromRow(row);
  }

  /** The open incident of a rule for a target, if any (one at a time). */
  openFor(rule: string, target: string): Alert | undefined {
    for (const entry of this.#open.values())
      if (entry.alert.rule === rule && entry.target === target) return entry.alert;
    return undefined;
  }

  /** Every open incident with its rule target (restored into trackers at start). */
  openIncidents(): { alert: Alert; target: string }[] {
    return [...this.#open.values()].map((e) => ({ alert: e.alert, target: e.target }));
  }

  async list(
    filter: { state?: string | undefined; engine?: string | undefined; container?: string | undefined },
    limit = 500,
  ): Promise<Alert[]> {
    await this.#writer.flush();
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
      where.push(`(container_id = ? OR container_name = ? OR container_id LIKE ? ESCAPE '\\')`);
      args.push(
        filter.container,
        filter.container,
        `${filter.container.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
      );
    }
    const sql = `SELECT * FROM alerts ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC LIMIT ?`;
    return (await this.#sql.all<AlertRow>(sql, [...args, limit])).map(alertFromRow);
  }

  addDelivery(alertId: string, d: Delivery): void {
    this.#writer.pushSoon(SQL.addDelivery, [
      alertId,
      d.notifier,
      d.event,
      d.attempt,
      Date.parse(d.at),
      d.ok ? 1 : 0,
      d.status,
      d.error,
      d.response,
    ]);
  }

  async deliveries(alertId: string): Promise<Delivery[]> {
    await this.#writer.flush();
    return (
      await this.#sql.all<{
        notifier: string;
        event: Delivery['event'];
        attempt: number;
        at: number;
        ok: number;
        status: number | null;
        error: string | null;
        response: string | null;
      }>(SQL.deliveries, [alertId])
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
    const counts = new Map<string, { kind: string; engine: string; n: number }>();
    for (const { alert } of this.#open.values()) {
      const key = `${alert.kind}|${alert.engine}`;
      const entry = counts.get(key) ?? { kind: alert.kind, engine: alert.engine, n: 0 };
      entry.n++;
      counts.set(key, entry);
    }
    return [...counts.values()];
  }
}
