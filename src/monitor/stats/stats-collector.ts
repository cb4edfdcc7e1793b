import { cpuPercent } from '../../engine/cgroup-stats.js';
import type { Logger } from '../../log/logger.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import type { LiveState } from '../state/live-state.js';
import type { History } from '../store/history.js';
import {
  type Counters,
  cgroupSource,
  engineSource,
  gatewaySource,
  type StatsSource,
} from './stats-sources.js';

/** Sources are chosen again after this many rounds, in case a better one became usable. */
const RECHOOSE_ROUNDS = 60;

/**
 * Every `interval`, one engine's running containers' resources: read through the cheapest source
 * that works (a dockgate gateway's bulk endpoint, then cgroup files here, then the engine's
 * one-shot stats), turned into rates, shown in the live state and written to the history.
 */
export class StatsCollector {
  readonly #watcher: EngineWatcher;
  readonly #state: LiveState;
  readonly #history: History;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #onSample: (id: string, sample: Counters) => void;
  readonly #previous = new Map<string, Counters>();
  #source: StatsSource | undefined;
  #rounds = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #delayMs: number;

  constructor(
    watcher: EngineWatcher,
    state: LiveState,
    history: History,
    log: Logger,
    intervalMs: number,
    /** Each container's raw counters as read (for `/metrics`). */
    onSample: (id: string, sample: Counters) => void = () => {},
  ) {
    this.#onSample = onSample;
    this.#watcher = watcher;
    this.#state = state;
    this.#history = history;
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#delayMs = intervalMs;
  }

  get path(): StatsSource['path'] | undefined {
    return this.#source?.path;
  }

  start(): void {
    this.#schedule(Math.min(1000, this.#intervalMs));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#round(), ms);
    this.#timer.unref();
  }

  async #round(): Promise<void> {
    const started = Date.now();
    try {
      const view = this.#watcher.view;
      if (view.status === 'up' || view.status === 'degraded') await this.#collect();
      this.#watcher.recover();
    } catch (error) {
      this.#log.debug({ engine: this.#watcher.name, err: (error as Error).message }, 'stats round failed');
      this.#source = undefined; // choose again next round
    }
    // An engine slow to answer is asked less often: never more than half the time spent asking.
    const took = Date.now() - started;
    this.#delayMs = Math.max(this.#intervalMs, took * 2);
    this.#schedule(Math.max(0, this.#delayMs - took));
  }

  async #collect(): Promise<void> {
    const running = this.#state
      .containers({ engine: this.#watcher.name })
      .filter((c) => c.state === 'running' || c.state === 'paused')
      .map((c) => c.id);
    if (this.#source === undefined || this.#rounds++ % RECHOOSE_ROUNDS === 0) await this.#choose(running);
    const source = this.#source;
    if (source === undefined) return;
    const counters = await source.read(running);
    for (const id of running) {
      const now = counters.get(id);
      if (now === undefined) continue;
      const cpu = cpuPercent(this.#previous.get(id), now);
      this.#previous.set(id, now);
      this.#onSample(id, now);
      this.#watcher.setResources(id, {
        cpuPercent: cpu === null ? null : Math.round(cpu * 100) / 100,
        memoryBytes: now.memoryBytes,
        memoryLimitBytes: now.memoryLimitBytes,
        networkRxBytes: now.netRxBytes,
        networkTxBytes: now.netTxBytes,
        blockReadBytes: now.blockReadBytes,
        blockWriteBytes: now.blockWriteBytes,
        pids: now.pids,
      });
      this.#history.addSample({
        engine: this.#watcher.name,
        container: id,
        t: now.at,
        cpu,
        mem: now.memoryBytes,
        memLimit: now.memoryLimitBytes,
        netRx: now.netRxBytes,
        netTx: now.netTxBytes,
        blkR: now.blockReadBytes,
        blkW: now.blockWriteBytes,
        pids: now.pids,
      });
    }
    for (const id of this.#previous.keys())
      if (!counters.has(id) && !running.includes(id)) this.#previous.delete(id);
  }

  /** The configured source, or in `auto` the first of gateway, cgroup, engine that works. */
  async #choose(running: readonly string[]): Promise<void> {
    const wanted = this.#watcher.config.stats;
    const before = this.#source?.path;
    let chosen: StatsSource | undefined;
    if (wanted === 'auto' || wanted === 'gateway') chosen = await gatewaySource(this.#watcher);
    if (chosen === undefined && (wanted === 'auto' || wanted === 'cgroup'))
      chosen = await cgroupSource(this.#watcher, running);
    if (chosen === undefined && (wanted === 'auto' || wanted === 'engine'))
      chosen = engineSource(this.#watcher);
    this.#source = chosen;
    if (chosen?.path !== before) {
      this.#log.info({ engine: this.#watcher.name, path: chosen?.path ?? 'none' }, 'stats source');
      this.#watcher.setStatsPath(chosen?.path);
    }
  }
}
