import type { DockerClient } from '../client/docker-client.js';
import { closeBody, jsonLines } from '../client/streams.js';

/** A running container as the stats endpoint needs it. */
export interface RunningContainer {
  readonly id: string;
  /** Without the leading `/`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Events that change which containers run, or their names. */
const CHANGING = ['start', 'die', 'destroy', 'rename', 'pause', 'unpause'];
const RESUBSCRIBE_MAX_MS = 5_000;
/** Deaths remembered for waits that start just after one (cleared whole past this many). */
const DIED_KEPT = 4_096;

/**
 * The engine's running containers, kept by one `/events` subscription instead of a list call
 * per stats request: one list when the subscription (re)starts, then only events. While the
 * subscription is down, `current()` answers undefined and the caller lists (the set is never
 * trusted without the events that keep it true). dockerd then does no work per stats request.
 */
export class RunningSet {
  readonly #engine: DockerClient;
  readonly #running = new Map<string, RunningContainer>();
  /** Who waits for a container to stop (a followed log), by id. */
  readonly #stopWaiters = new Map<string, Set<() => void>>();
  /** When each container last died (ms), for a wait that starts just after the event. */
  readonly #diedAt = new Map<string, number>();
  #ready = false;
  #controller: AbortController | undefined;

  constructor(engine: DockerClient) {
    this.#engine = engine;
  }

  /** The running containers, or undefined until (and while not) followed live. */
  current(): readonly RunningContainer[] | undefined {
    this.#start();
    return this.#ready ? [...this.#running.values()] : undefined;
  }

  /**
   * Settles once container `id` stops (`die`, `destroy`) after `notBefore` (ms, taken before the
   * inspect that said it runs). While the subscription is down nothing is known; when it is back,
   * a waiter whose container is no longer listed is told.
   */
  whenStopped(id: string, notBefore: number): { readonly stopped: Promise<void>; cancel(): void } {
    this.#start();
    if ((this.#diedAt.get(id) ?? -1) >= notBefore) return { stopped: Promise.resolve(), cancel() {} };
    let waiters = this.#stopWaiters.get(id);
    if (waiters === undefined) {
      waiters = new Set();
      this.#stopWaiters.set(id, waiters);
    }
    const set = waiters;
    let waiter: () => void = () => {};
    const stopped = new Promise<void>((resolve) => {
      waiter = resolve;
      set.add(resolve);
    });
    return {
      stopped,
      cancel: () => {
        set.delete(waiter);
        if (set.size === 0 && this.#stopWaiters.get(id) === set) this.#stopWaiters.delete(id);
      },
    };
  }

  close(): void {
    this.#controller?.abort();
    for (const id of [...this.#stopWaiters.keys()]) this.#stopped(id);
  }

  #stopped(id: string): void {
    const waiters = this.#stopWaiters.get(id);
    this.#stopWaiters.delete(id);
    for (const resolve of waiters ?? []) resolve();
  }

  #start(): void {
    if (this.#controller !== undefined) return;
    this.#controller = new AbortController();
    void this.#follow(this.#controller.signal);
  }

  async #follow(signal: AbortSignal): Promise<void> {
    let delay = 250;
    while (!signal.aborted) {
      let subscription: { body: unknown } | undefined;
      try {
        const response = await this.#engine.request('GET', '/events', {
          query: { filters: { type: ['container'], event: CHANGING } },
          signal,
          stream: true,
        });
        subscription = response;
        if (response.status !== 200) {
          closeBody(response.body);
          throw new Error(`events answered ${response.status}`);
        }
        // Subscribed first, listed second: nothing between the two is missed (an event for a
        // container the list already shows is applied again, harmlessly).
        const pending: { Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } }[] =
          [];
        let listed = false;
        const events = (async () => {
          for await (const event of jsonLines<(typeof pending)[number]>(
            response.body as AsyncIterable<Buffer>,
          )) {
            if (listed) this.#apply(event);
            else pending.push(event);
          }
        })();
        // Seen by `await events` below, or, when the list fails first (the gateway stopping
        // aborts both), dropped here: never an unhandled rejection (an AbortError seen once in CI, under load).
        events.catch(() => {});
        await this.#list(signal);
        listed = true;
        for (const event of pending.splice(0)) this.#apply(event);
        this.#ready = true;
        // Stops missed while the subscription was down.
        for (const id of [...this.#stopWaiters.keys()]) if (!this.#running.has(id)) this.#stopped(id);
        delay = 250;
        await events;
      } catch {
        // fall through: retry
      } finally {
        this.#ready = false;
        // A list that failed (a timeout on a loaded engine) leaves the subscription open: closed
        // here rather than left to the engine.
        if (subscription !== undefined) closeBody(subscription.body as Parameters<typeof closeBody>[0]);
      }
      if (signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      delay = Math.min(delay * 2, RESUBSCRIBE_MAX_MS);
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const list = await this.#engine.json<
      { Id: string; Names: string[]; Labels: Record<string, string> | null }[]
    >('GET', '/containers/json', { signal, timeout: 10_000 });
    this.#running.clear();
    for (const c of list) {
      this.#running.set(c.Id, {
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        labels: c.Labels ?? {},
      });
    }
  }

  #apply(event: { Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } }): void {
    const id = event.Actor?.ID;
    if (id === undefined) return;
    const attrs = event.Actor?.Attributes ?? {};
    switch (event.Action) {
      case 'start':
      case 'unpause': {
        const labels: Record<string, string> = {};
        for (const [key, value] of Object.entries(attrs))
          if (key !== 'name' && key !== 'image') labels[key] = value;
        this.#running.set(id, { id, name: (attrs.name ?? '').replace(/^\//, ''), labels });
        break;
      }
      case 'die':
      case 'destroy':
        this.#running.delete(id);
        if (this.#diedAt.size >= DIED_KEPT) this.#diedAt.clear();
        this.#diedAt.set(id, Date.now());
        this.#stopped(id);
        break;
      case 'rename': {
        const known = this.#running.get(id);
        if (known !== undefined && attrs.name !== undefined)
          this.#running.set(id, { ...known, name: attrs.name.replace(/^\//, '') });
        break;
      }
      default:
        break;
    }
  }
}
