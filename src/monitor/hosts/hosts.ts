import type { Clock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import type { History } from '../store/history.js';
import type { Store } from '../store/open-store.js';
import { HostCollector } from './host-collector.js';
import { HostHistory } from './host-history.js';
import type { HostFacts } from './host-rules.js';
import { Pruner } from './prune-runner.js';

/**
 * Every watched engine's host (docs/hosts.md): one collector per engine this monitor watches, the
 * samples' tiers in the store, and the cleanups. What the API, the alert rules and `/metrics` read.
 */
export class Hosts {
  readonly history: HostHistory;
  readonly pruner: Pruner;
  readonly #collectors = new Map<string, HostCollector>();
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #keepMs: number;
  readonly #now: Clock;

  constructor(options: {
    store: Store;
    history: History;
    retention: ConstructorParameters<typeof HostHistory>[2];
    log: Logger;
    intervalMs: number;
    /** The longest window a `disk-fill` rule fits its slope over. */
    keepMs: number;
    now: Clock;
  }) {
    this.history = new HostHistory(options.store.sql, options.store.writer, options.retention, options.now);
    this.pruner = new Pruner(options.store.sql, options.history, options.log, options.now);
    this.#log = options.log;
    this.#intervalMs = options.intervalMs;
    this.#keepMs = options.keepMs;
    this.#now = options.now;
  }

  watch(watcher: EngineWatcher): void {
    this.unwatch(watcher.name);
    const collector = new HostCollector({
      watcher,
      history: this.history,
      log: this.#log,
      intervalMs: this.#intervalMs,
      keepMs: this.#keepMs,
      now: this.#now,
    });
    this.#collectors.set(watcher.name, collector);
    collector.start();
  }

  unwatch(engine: string): void {
    this.#collectors.get(engine)?.stop();
    this.#collectors.delete(engine);
  }

  stop(): void {
    for (const collector of this.#collectors.values()) collector.stop();
    this.#collectors.clear();
  }

  collector(engine: string): HostCollector | undefined {
    return this.#collectors.get(engine);
  }

  collectors(): HostCollector[] {
    return [...this.#collectors.values()];
  }

  /** What the host alert rules read of one engine (undefined before its first reading). */
  facts(engine: string): HostFacts | undefined {
    const c = this.#collectors.get(engine);
    const view = c?.latest;
    if (c === undefined || view === undefined) return undefined;
    return { engine, view, point: c.point, free: c.free };
  }

  async rollup(): Promise<void> {
    try {
      await this.history.rollup();
    } catch (error) {
      this.#log.warn(
        { err: (error as Error).message },
        'host samples rollup failed; tried again next minute',
      );
    }
  }
}
