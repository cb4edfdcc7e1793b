import { existsSync } from 'node:fs';
import type { ContainerCounters, StatsAnswer } from '../../agent/stats-endpoint.js';
import { EngineError } from '../../client/errors.js';
import { type CgroupLocation, CgroupReader, type CgroupSample } from '../../engine/cgroup-stats.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';

/** Counters of one container, from whichever source read them. */
export type Counters = CgroupSample;

/** One way of reading every running container's counters on one engine. */
export interface StatsSource {
  readonly path: 'gateway' | 'cgroup' | 'engine';
  /** Counters by container id; containers missing from the map were not readable this round. */
  read(running: readonly string[]): Promise<Map<string, Counters>>;
}

/**
 * 1. Through a dockgate gateway on the engine's host: one request answers for every container,
 *    read from cgroup files there (`GET /dockgate/v1/stats`). Undefined when the engine is not a
 *    gateway (dockerd answers 404) or the gateway cannot read cgroups (503) or refuses (403).
 */
export async function gatewaySource(watcher: EngineWatcher): Promise<StatsSource | undefined> {
  const ask = (): Promise<StatsAnswer> =>
    watcher.calls.run('gateway stats', (signal) =>
      watcher.client.json<StatsAnswer>('GET', '/dockgate/v1/stats', { signal }),
    );
  try {
    await ask();
  } catch (error) {
    if (error instanceof EngineError && [403, 404, 405, 501, 503].includes(error.status)) return undefined;
    throw error;
  }
  return {
    path: 'gateway',
    async read() {
      const answer = await ask();
      return new Map(answer.containers.map((c: ContainerCounters) => [c.id, c]));
    },
  };
}

/**
 * 2. A local engine whose containers' cgroups this process can read: the files directly. A
 *    container's cgroup is located once (one inspect for a pid), then read without the engine.
 */
export async function cgroupSource(
  watcher: EngineWatcher,
  running: readonly string[],
  reader: CgroupReader = new CgroupReader(),
): Promise<StatsSource | undefined> {
  const endpoint = watcher.config.endpoint;
  if (endpoint.kind !== 'unix' || !existsSync(endpoint.path) || reader.version() === undefined)
    return undefined;
  const located = new Map<string, { location: CgroupLocation; network: boolean } | null>();
  const locate = async (id: string): Promise<{ location: CgroupLocation; network: boolean } | null> => {
    const known = located.get(id);
    if (known !== undefined) return known;
    let found: { location: CgroupLocation; network: boolean } | null = null;
    try {
      const inspect = await watcher.calls.run('inspect for stats', (signal) =>
        watcher.client.json<{ State?: { Pid?: number }; HostConfig?: { NetworkMode?: string } }>(
          'GET',
          `/containers/${id}/json`,
          {
            signal,
          },
        ),
      );
      const location = reader.locate(id, inspect.State?.Pid ?? 0);
      if (location !== undefined) found = { location, network: inspect.HostConfig?.NetworkMode !== 'host' };
    } catch {
      found = null;
    }
    if (found !== null) located.set(id, found);
    return found;
  };
  // Usable only when it can read at least one of the engine's containers (or there are none yet).
  const probe = running[0];
  if (probe !== undefined && (await locate(probe)) === null) return undefined;
  return {
    path: 'cgroup',
    async read(ids) {
      const out = new Map<string, Counters>();
      for (let i = 0; i < ids.length; i += 32) {
        const batch = ids.slice(i, i + 32);
        await Promise.all(
          batch.map(async (id) => {
            const where = await locate(id);
            if (where === null) return;
            const sample = reader.read(where.location, { network: where.network });
            if (sample === undefined) located.delete(id);
            else out.set(id, sample);
          }),
        );
        // Read synchronously (cheaper): give the API a turn between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (const id of located.keys()) if (!ids.includes(id)) located.delete(id);
      return out;
    },
  };
}

/** The parts of a `/containers/{id}/stats` answer read here (v1 and v2 cgroup fields). */
interface EngineStats {
  readonly read?: string;
  readonly cpu_stats?: {
    readonly cpu_usage?: { readonly total_usage?: number };
    readonly throttling_data?: { readonly periods?: number; readonly throttled_periods?: number };
  };
  readonly memory_stats?: {
    readonly usage?: number;
    readonly limit?: number;
    readonly stats?: Record<string, number>;
  };
  readonly networks?: Record<string, { readonly rx_bytes?: number; readonly tx_bytes?: number }>;
  readonly blkio_stats?: {
    readonly io_service_bytes_recursive?: { readonly op?: string; readonly value?: number }[] | null;
  };
  readonly pids_stats?: { readonly current?: number };
}

/**
 * 3. The engine's own stats API, one container at a time (`stream=false&one-shot=true`: no
 *    two-sample wait), at most `concurrency` at once. The collector stretches its interval when
 *    a round takes long (an engine that is slow to answer stats is not asked more often).
 */
export function engineSource(watcher: EngineWatcher, concurrency = 4): StatsSource {
  return {
    path: 'engine',
    async read(ids) {
      const out = new Map<string, Counters>();
      const queue = [...ids];
      const worker = async (): Promise<void> => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          try {
            const stats = await watcher.calls.run('stats', (signal) =>
              watcher.client.json<EngineStats>('GET', `/containers/${id}/stats`, {
                query: { stream: 'false', 'one-shot': 'true' },
                signal,
                versioned: true,
              }),
            );
            const counters = fromEngineStats(stats);
            if (counters !== undefined) out.set(id, counters);
          } catch {
            // Not readable this round (stopped meanwhile, or slow): the next round asks again.
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return out;
    },
  };
}

export function fromEngineStats(stats: EngineStats): Counters | undefined {
  const cpu = stats.cpu_stats?.cpu_usage?.total_usage;
  const usage = stats.memory_stats?.usage;
  const throttle = stats.cpu_stats?.throttling_data;
  if (cpu === undefined || usage === undefined) return undefined; // a stopped container answers zeros
  const memStats = stats.memory_stats?.stats ?? {};
  const inactive = memStats.total_inactive_file ?? memStats.inactive_file ?? 0;
  let rx = 0;
  let tx = 0;
  const networks = Object.values(stats.networks ?? {});
  for (const n of networks) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  let read = 0;
  let write = 0;
  for (const entry of stats.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = entry.op?.toLowerCase();
    if (op === 'read') read += entry.value ?? 0;
    else if (op === 'write') write += entry.value ?? 0;
  }
  const at = stats.read === undefined ? Date.now() : Date.parse(stats.read);
  return {
    cpuNs: cpu,
    memoryBytes: Math.max(0, usage - (inactive < usage ? inactive : 0)),
    memoryUsageBytes: usage,
    ...(throttle?.periods === undefined
      ? {}
      : { cpuPeriods: throttle.periods, cpuThrottledPeriods: throttle.throttled_periods ?? 0 }),
    memoryLimitBytes: stats.memory_stats?.limit ?? 0,
    pids: stats.pids_stats?.current ?? null,
    blockReadBytes: read,
    blockWriteBytes: write,
    netRxBytes: networks.length === 0 ? null : rx,
    netTxBytes: networks.length === 0 ? null : tx,
    at: Number.isNaN(at) ? Date.now() : at,
  };
}
