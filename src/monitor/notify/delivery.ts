import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import type { Alert, AlertStore, Delivery } from '../alerts/alert-store.js';
import type { Notifier } from './notifiers.js';
import { type AlertFacts, NotifyGroups, type Outgoing } from './notify-groups.js';

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
  #stopped = false;

  constructor(
    notifiers: () => readonly Notifier[],
    store: AlertStore,
    log: Logger,
    now: Clock = systemClock,
    /** An alert's container's project and image, for grouping (notify-groups.ts). */
    facts: (alert: Alert) => AlertFacts = () => ({ project: null, image: null }),
  ) {
    this.#notifiers = notifiers;
    this.#store = store;
    this.#log = log;
    this.#now = now;
    this.#groups = new NotifyGroups(
      (out) => this.#start(out.notifier, out.event, out.alert, out.members),
      facts,
    );
  }

  send(event: Delivery['event'], alert: Alert): void {
    for (const notifier of this.#notifiers()) {
      if (notifier.kinds.size > 0 && !notifier.kinds.has(alert.kind)) continue;
      // Reminders are about one incident still open: never grouped.
      if (notifier.grouping !== undefined && event !== 'reminder')
        this.#groups.add(notifier, notifier.grouping, event, alert);
      else this.#start(notifier, event, alert, [alert.id]);
    }
    this.#store.notified(alert.id, this.#now());
  }

  #start(notifier: Notifier, event: Delivery['event'], alert: Alert, members: Outgoing['members']): void {
    const run = this.#deliver(notifier, event, alert, members).finally(() => this.#running.delete(run));
    this.#running.add(run);
  }

  /** Waits (bounded) for deliveries under way, e.g. before the monitor exits. */
  async drain(ms = 5_000): Promise<void> {
    this.#groups.flushAll(); // what a group was still waiting for goes out now
    this.#stopped = true;
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
