import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import type { Alert, AlertStore, Delivery } from '../alerts/alert-store.js';
import type { Notifier } from './notifiers.js';
import { type AlertFacts, NotifyGroups, type Outgoing } from './notify-groups.js';
import { dedupKey, type Outbox } from './outbox.js';

/** Attempts per notification, and the waits between them: 1 s, 2 s, 4 s, 8 s. */
const ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 1_000;
const ATTEMPT_TIMEOUT_MS = 10_000;

/**
 * Sends each notification to every notifier it is routed to, independently: retries with
 * backoff, a timeout per attempt, every attempt recorded with the receiver's status or error. A
 * notifier that fails never delays the others or the monitor (each delivery runs on its own).
 */
export class DeliveryQueue {
  readonly #notifiers: () => readonly Notifier[];
  readonly #store: AlertStore;
  readonly #log: Logger;
  readonly #running = new Set<Promise<void>>();
  readonly #now: Clock;
  readonly #groups: NotifyGroups;
  readonly #outbox: Outbox | undefined;
  /** Several monitors: a transition not yet written to the outbox waits (sending it unwritten could send it twice). */
  readonly #holdUnwritten: boolean;
  /** Transitions not yet in the outbox (the store away), tried again. */
  readonly #unwritten: { key: string; event: Delivery['event']; alert: Alert }[] = [];
  /** Per transition key: notifiers still delivering it; the outbox row is marked sent at 0. */
  readonly #pending = new Map<string, number>();
  /** `alertId|event` → the key of the transition being delivered (grouped messages name members). */
  readonly #keys = new Map<string, string>();
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    notifiers: () => readonly Notifier[],
    store: AlertStore,
    log: Logger,
    now: Clock = systemClock,
    /** An alert's container's project and image, for grouping (notify-groups.ts). */
    facts: (alert: Alert) => AlertFacts = () => ({ project: null, image: null }),
    outbox?: { readonly outbox: Outbox; readonly shared: boolean },
  ) {
    this.#outbox = outbox?.outbox;
    this.#holdUnwritten = outbox?.shared === true;
    this.#notifiers = notifiers;
    this.#store = store;
    this.#log = log;
    this.#now = now;
    this.#groups = new NotifyGroups(
      (out) => this.#start(out.notifier, out.event, out.alert, out.members),
      facts,
    );
  }

  /**
   * A transition to notify: written to the outbox first (once per incident and transition — a
   * second writer, another monitor or a replay, finds it written and sends nothing), then sent to
   * every notifier it is routed to, then marked sent.
   */
  send(event: Delivery['event'], alert: Alert): void {
    const transition = event === 'reminder' ? `reminder:${this.#now()}` : event;
    this.#store.notified(alert.id, this.#now());
    this.#claim(dedupKey(alert.id, transition), event, alert);
  }

  /**
   * Unsent transitions another monitor claimed and never marked (it died between sending and
   * marking) for the engines this one owns now: sent again — at most one duplicate per crash.
   */
  async recover(engines: readonly string[]): Promise<void> {
    if (this.#outbox === undefined || this.#stopped) return;
    for (const orphan of await this.#outbox.orphans(engines)) {
      const alert = await this.#store.get(orphan.alertId);
      if (alert === undefined) continue;
      this.#log.info(
        { alert: alert.id, key: orphan.key },
        'outbox: a notification left unsent is sent again',
      );
      this.#dispatch(orphan.event as Delivery['event'], alert, orphan.key);
    }
  }

  #claim(key: string, event: Delivery['event'], alert: Alert): void {
    if (this.#outbox === undefined) {
      this.#dispatch(event, alert, key);
      return;
    }
    void this.#outbox.claim(key, alert.id, alert.engine, event).then(
      (written) => {
        if (written) this.#dispatch(event, alert, key);
      },
      (error: Error) => {
        if (!this.#holdUnwritten) {
          // One monitor: nobody else can send it; a store that refuses writes does not silence it.
          this.#log.warn({ alert: alert.id, err: error.message }, 'outbox not written; sending anyway');
          this.#dispatch(event, alert, key);
          return;
        }
        // Several monitors: sent once it is written (the store back), never unwritten.
        if (this.#unwritten.length < 10_000) this.#unwritten.push({ key, event, alert });
        this.#retry ??= setTimeout(() => {
          this.#retry = undefined;
          for (const w of this.#unwritten.splice(0)) this.#claim(w.key, w.event, w.alert);
        }, 2_000);
        this.#retry.unref();
      },
    );
  }

  #dispatch(event: Delivery['event'], alert: Alert, key: string): void {
    let routed = 0;
    this.#keys.set(`${alert.id}|${event}`, key);
    this.#pending.set(key, Number.POSITIVE_INFINITY); // counted below
    for (const notifier of this.#notifiers()) {
      if (notifier.kinds.size > 0 && !notifier.kinds.has(alert.kind)) continue;
      routed++;
      // Reminders are about one incident still open: never grouped.
      if (notifier.grouping !== undefined && event !== 'reminder')
        this.#groups.add(notifier, notifier.grouping, event, alert);
      else this.#start(notifier, event, alert, [alert.id]);
    }
    this.#pending.set(key, routed);
    if (routed === 0) this.#done(key, alert.id, event);
  }

  /** One notifier is done with a member's transition; the last one marks the outbox row sent. */
  #settled(alertId: string, event: Delivery['event']): void {
    const key = this.#keys.get(`${alertId}|${event}`);
    if (key === undefined) return;
    const left = (this.#pending.get(key) ?? 1) - 1;
    if (left > 0) this.#pending.set(key, left);
    else this.#done(key, alertId, event);
  }

  #done(key: string, alertId: string, event: Delivery['event']): void {
    this.#pending.delete(key);
    if (this.#keys.get(`${alertId}|${event}`) === key) this.#keys.delete(`${alertId}|${event}`);
    void this.#outbox
      ?.sent(key)
      .catch((error: Error) => this.#log.warn({ key, err: error.message }, 'outbox: not marked sent'));
  }

  #start(notifier: Notifier, event: Delivery['event'], alert: Alert, members: Outgoing['members']): void {
    const run = this.#deliver(notifier, event, alert, members).finally(() => {
      this.#running.delete(run);
      for (const id of members) this.#settled(id, event);
    });
    this.#running.add(run);
  }

  /** Waits (bounded) for deliveries under way, e.g. before the monitor exits. */
  async drain(ms = 5_000): Promise<void> {
    this.#groups.flushAll(); // what a group was still waiting for goes out now
    this.#stopped = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    await Promise.race([
      Promise.allSettled([...this.#running]),
      new Promise((resolve) => setTimeout(resolve, ms).unref()),
    ]);
  }

  async #deliver(
    notifier: Notifier,
    event: Delivery['event'],
    alert: Alert,
    members: Outgoing['members'],
  ): Promise<void> {
    const record = (d: Delivery): void => {
      for (const id of members) this.#store.addDelivery(id, d);
    };
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const at = new Date(this.#now()).toISOString();
      try {
        const answer = await notifier.send(
          event === 'reminder' ? 'firing' : event,
          alert,
          AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
          this.#keys.get(`${alert.id}|${event}`),
        );
        record({
          notifier: notifier.name,
          event,
          attempt,
          at,
          ok: true,
          status: answer.status,
          error: null,
          response: answer.body.slice(0, 500),
        });
        return;
      } catch (error) {
        const e = error as Error & { status?: number; body?: string };
        record({
          notifier: notifier.name,
          event,
          attempt,
          at,
          ok: false,
          status: e.status ?? null,
          error: e.name === 'TimeoutError' ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` : e.message,
          response: e.body?.slice(0, 500) ?? null,
        });
        if (attempt === ATTEMPTS || this.#stopped) {
          this.#log.warn(
            { alert: alert.id, notifier: notifier.name, event, err: e.message },
            'notification not delivered',
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, FIRST_BACKOFF_MS * 2 ** (attempt - 1)));
      }
    }
  }
}
