import type { CgroupSample } from '../../engine/cgroup-stats.js';

/** What `/metrics` reports of one container beyond the live item: event counts and raw counters. */
export interface CounterSet {
  exitsExpected: number;
  exitsUnexpected: number;
  oomKills: number;
  /** A start after a die (a restart policy, autoheal, a person): counted from events. */
  restarts: number;
  /** The last stats sample's raw counters (cumulative as the cgroup reports them). */
  sample: CgroupSample | undefined;
  /** A die seen and no start since. */
  down: boolean;
}

/** An engine event as the watcher hands it on. */
export interface CountedEvent {
  readonly engine: string;
  readonly id: string;
  readonly action: string;
  readonly expected: boolean;
  /** False for events replayed after a reconnect. */
  readonly live: boolean;
}

/**
 * Per container: exits (expected or not), OOM kills and restarts counted from the engine's
 * events as they happen — so a crash between two scrapes is never missed, as it is when a rule
 * samples a state — and the last raw stats counters (CPU seconds, memory usage, throttling).
 * Counts start at zero when the monitor starts (a counter reset, which `rate()` and `increase()`
 * handle); events replayed after a reconnect are not counted again.
 */
export class ContainerCounters {
  readonly #sets = new Map<string, CounterSet>();

  get(engine: string, id: string): CounterSet | undefined {
    return this.#sets.get(`${engine}/${id}`);
  }

  onEvent(event: CountedEvent): void {
    if (event.action === 'destroy') {
      this.#sets.delete(`${event.engine}/${event.id}`);
      return;
    }
    if (!event.live) return;
    const set = this.#set(event.engine, event.id);
    switch (event.action) {
      case 'die':
        if (event.expected) set.exitsExpected++;
        else set.exitsUnexpected++;
        set.down = true;
        return;
      case 'oom':
        set.oomKills++;
        return;
      case 'start':
        if (set.down) set.restarts++;
        set.down = false;
        return;
      default:
        return;
    }
  }

  sample(engine: string, id: string, sample: CgroupSample): void {
    this.#set(engine, id).sample = sample;
  }

  /** Containers the live state no longer has: their series go at the next scrape. */
  retain(alive: (engine: string, id: string) => boolean): void {
    for (const key of this.#sets.keys()) {
      const slash = key.indexOf('/');
      if (!alive(key.slice(0, slash), key.slice(slash + 1))) this.#sets.delete(key);
    }
  }

  #set(engine: string, id: string): CounterSet {
    const key = `${engine}/${id}`;
    let set = this.#sets.get(key);
    if (set === undefined) {
      set = {
        exitsExpected: 0,
        exitsUnexpected: 0,
        oomKills: 0,
        restarts: 0,
        sample: undefined,
        down: false,
      };
      this.#sets.set(key, set);
    }
    return set;
  }
}
