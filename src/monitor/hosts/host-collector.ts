import type { Clock } from '../../clock.js';
import type { HostAnswer } from '../../engine/host/host-answer.js';
import type { Logger } from '../../log/logger.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import { type DiskView, diskView, readSystemDf } from './disk-usage.js';
import type { HostHistory, HostPoint } from './host-history.js';
import {
  chooseHostSource,
  type EngineFacts,
  type HostSource,
  type HostView,
  readEngineFacts,
} from './host-sources.js';

/** `/system/df` is asked at most this often on its own (it walks every layer and volume). */
export const DISK_EVERY_MS = 15 * 60_000;
/** The engine's `/info` facts (cores, driver, docker root) are asked again after this long. */
const FACTS_EVERY_MS = 10 * 60_000;
/** The source is chosen again after this many rounds (a gateway put in front later). */
const RECHOOSE_ROUNDS = 60;

/** Interfaces whose traffic is the containers' own, counted again on the host's real ones. */
const VIRTUAL_INTERFACE = /^(lo|veth|docker|br-|virbr|cni|flannel|cali|vxlan|weave|kube-ipvs|tunl0|ifb)/;

/** Free bytes of each filesystem at one moment: what `disk-fill`'s slope is fitted to. */
export interface FreeSample {
  readonly t: number;
  readonly free: ReadonlyMap<string, number>;
}

/**
 * One engine's machine, every stats interval (docs/hosts.md): read through its gateway (or
 * `/info` when it has none), turned into rates — CPU percent of all cores, network bytes per
 * second — kept as the latest view, written to the store's tiers, and remembered for a while
 * (filesystems' free bytes) so `disk-fill` can fit a slope. Docker's own disk use (`/system/df`)
 * is read at most every 15 minutes, and on demand no more often than that.
 */
export class HostCollector {
  readonly #watcher: EngineWatcher;
  readonly #history: HostHistory;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #keepMs: number;
  readonly #now: Clock;
  #source: HostSource | undefined;
  #facts: { value: EngineFacts; at: number } | undefined;
  #previous: HostAnswer | undefined;
  #latest: HostView | undefined;
  #point: HostPoint | undefined;
  readonly #free: FreeSample[] = [];
  #disk: { view: DiskView; at: number } | undefined;
  #diskRead: Promise<DiskView> | undefined;
  #diskTriedAt = Number.NEGATIVE_INFINITY;
  #rounds = 0;
  #seeded = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: {
    watcher: EngineWatcher;
    history: HostHistory;
    log: Logger;
    intervalMs: number;
    /** How far back free-space samples are kept (the longest `disk-fill` window). */
    keepMs: number;
    now: Clock;
  }) {
    this.#watcher = options.watcher;
    this.#history = options.history;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs;
    this.#keepMs = options.keepMs;
    this.#now = options.now;
  }

  get engine(): string {
    return this.#watcher.name;
  }

  /** The last reading, as the API's `latest` shows it. */
  get latest(): HostView | undefined {
    return this.#latest;
  }

  /** The last point (rates from the last two readings). */
  get point(): HostPoint | undefined {
    return this.#point;
  }

  /** Free bytes per mount over the kept window, oldest first. */
  get free(): readonly FreeSample[] {
    return this.#free;
  }

  /** Docker's disk use as last read (undefined before the first read). */
  get disk(): DiskView | undefined {
    return this.#disk?.view;
  }

  start(): void {
    this.#schedule(Math.min(1000, this.#intervalMs));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  /**
   * `/system/df` now if the last one is older than `maxAgeMs` (15 min by default); one call at
   * a time, whoever asks.
   */
  async diskUsage(maxAgeMs = DISK_EVERY_MS): Promise<DiskView> {
    const now = this.#now();
    if (this.#disk !== undefined && now - this.#disk.at < maxAgeMs) return this.#disk.view;
    this.#diskRead ??= (async () => {
      try {
        const { df, tookMs } = await readSystemDf(this.#watcher);
        const view = diskView(df, tookMs, this.#now());
        this.#disk = { view, at: this.#now() };
        this.#log.debug({ engine: this.engine, tookMs }, 'system df read');
        return view;
      } finally {
        this.#diskRead = undefined;
      }
    })();
    return this.#diskRead;
  }

  /** Docker's disk use as a cleanup just read it (no third `/system/df` for the same moment). */
  remember(view: DiskView): void {
    this.#disk = { view, at: this.#now() };
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#round(), ms);
    this.#timer.unref();
  }

  async #round(): Promise<void> {
    const started = this.#now();
    try {
      const status = this.#watcher.view.status;
      if (status === 'up' || status === 'degraded') await this.#collect();
    } catch (error) {
      this.#log.debug({ engine: this.engine, err: (error as Error).message }, 'host round failed');
      this.#source = undefined;
    }
    const took = this.#now() - started;
    this.#schedule(Math.max(0, Math.max(this.#intervalMs, took * 2) - took));
  }

  async #collect(): Promise<void> {
    const now = this.#now();
    if (this.#facts === undefined || now - this.#facts.at >= FACTS_EVERY_MS)
      this.#facts = { value: await readEngineFacts(this.#watcher), at: now };
    if (this.#source === undefined || this.#rounds++ % RECHOOSE_ROUNDS === 0) {
      const before = this.#source?.kind;
      this.#source = await chooseHostSource(this.#watcher);
      if (this.#source.kind !== before)
        this.#log.info({ engine: this.engine, path: this.#source.kind }, 'host source');
    }
    const view = await this.#source.read(this.#facts.value);
    const point = hostPoint(this.#previous, view);
    this.#previous = view;
    this.#latest = view;
    this.#point = point;
    // `/info` alone measures nothing over time: no rows of nulls.
    if (view.source === 'gateway') this.#history.add(this.engine, point, view.filesystems);
    if (!this.#seeded) {
      // The free space of the last hours from the store: disk-fill's window survives a restart
      // or a takeover by another monitor.
      this.#seeded = true;
      const stored = await this.#history.recentFree(this.engine, point.t - this.#keepMs).catch(() => []);
      this.#free.unshift(...stored.filter((s) => s.t < point.t));
    }
    if (view.filesystems.length > 0) {
      this.#free.push({
        t: point.t,
        free: new Map(view.filesystems.map((f) => [f.mount, f.availableBytes])),
      });
      while ((this.#free[0]?.t ?? point.t) < point.t - this.#keepMs) this.#free.shift();
    }
    // Docker's own use, in the background every 15 minutes (never two at once) — tried no more
    // often when it fails (a policy that refuses it, an engine too slow to answer).
    if (now - this.#diskTriedAt >= DISK_EVERY_MS) {
      this.#diskTriedAt = now;
      void this.diskUsage().catch((error: Error) =>
        this.#log.debug({ engine: this.engine, err: error.message }, 'system df failed'),
      );
    }
  }
}

/** One stored point from a reading and the one before it (rates need two). */
export function hostPoint(before: HostAnswer | undefined, now: HostAnswer): HostPoint {
  const t = Date.parse(now.read);
  const root = now.filesystems.find((f) => f.dockerRoot);
  const seconds = before === undefined ? 0 : (t - Date.parse(before.read)) / 1000;
  const rate = (pick: (a: HostAnswer) => number | undefined): number | null => {
    if (before === undefined || seconds <= 0) return null;
    const a = pick(before);
    const b = pick(now);
    if (a === undefined || b === undefined || b < a) return null; // a counter reset (reboot)
    return (b - a) / seconds;
  };
  const traffic = (a: HostAnswer, key: 'rxBytes' | 'txBytes'): number | undefined =>
    a.network.length === 0
      ? undefined
      : a.network.filter((n) => !VIRTUAL_INTERFACE.test(n.interface)).reduce((s, n) => s + n[key], 0);
  // Device-mapper devices count their disks' I/O again: whole physical disks only.
  const io = (a: HostAnswer, key: 'readBytes' | 'writtenBytes'): number | undefined =>
    a.disks.length === 0
      ? undefined
      : a.disks
          .filter((d) => !d.device.startsWith('dm-') && !d.device.startsWith('md'))
          .reduce((s, d) => s + d[key], 0);
  return {
    t,
    cpuPercent: cpuPercent(before, now),
    memoryUsedBytes: now.memory === null ? null : now.memory.totalBytes - now.memory.availableBytes,
    memoryAvailableBytes: now.memory?.availableBytes ?? null,
    swapUsedBytes: now.memory?.swapUsedBytes ?? null,
    dockerRootUsedBytes: root?.usedBytes ?? null,
    dockerRootAvailableBytes: root?.availableBytes ?? null,
    load1: now.cpu?.load1 ?? null,
    netRxBytesPerSecond: rate((a) => traffic(a, 'rxBytes')),
    netTxBytesPerSecond: rate((a) => traffic(a, 'txBytes')),
    cpuPressurePercent: now.pressure?.cpu?.some.avg10 ?? null,
    memoryPressurePercent: now.pressure?.memory?.some.avg10 ?? null,
    ioPressurePercent: now.pressure?.io?.some.avg10 ?? null,
    diskReadBytesPerSecond: rate((a) => io(a, 'readBytes')),
    diskWriteBytesPerSecond: rate((a) => io(a, 'writtenBytes')),
    temperatureCelsius:
      now.temperatures.length === 0 ? null : Math.max(...now.temperatures.map((s) => s.celsius)),
  };
}

/** Busy share of all cores between two readings, percent (idle and iowait are not busy). */
export function cpuPercent(before: HostAnswer | undefined, now: HostAnswer): number | null {
  const a = before?.cpu?.usageSeconds;
  const b = now.cpu?.usageSeconds;
  if (a === undefined || b === undefined) return null;
  const total = (u: typeof a): number =>
    u.user + u.nice + u.system + u.idle + u.iowait + u.irq + u.softirq + u.steal;
  const elapsed = total(b) - total(a);
  if (elapsed <= 0) return null;
  const idle = b.idle + b.iowait - (a.idle + a.iowait);
  return Math.round(Math.min(100, Math.max(0, (1 - idle / elapsed) * 100)) * 100) / 100;
}
