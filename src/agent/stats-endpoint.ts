import type { DockerClient } from '../client/docker-client.js';
import { EngineError } from '../client/errors.js';
import { type CgroupLocation, CgroupReader, type CgroupSample } from '../engine/cgroup-stats.js';

/** The gateway's own endpoint: no Engine API version has a `/dockgate` path. */
export const STATS_PATH = '/dockgate/v1/stats';

/** One running container's counters in the answer of `GET /dockgate/v1/stats`. */
export interface ContainerCounters extends CgroupSample {
  readonly id: string;
  /** Without the leading `/`. */
  readonly name: string;
}

/** The answer of `GET /dockgate/v1/stats` (docs/monitor.md). */
export interface StatsAnswer {
  /** When the round started (ISO 8601, UTC). */
  readonly read: string;
  readonly cgroupVersion: 1 | 2;
  readonly containers: readonly ContainerCounters[];
  /** Running containers whose cgroups could not be read (not listed above). */
  readonly unreadable: readonly string[];
}

interface Located {
  readonly location: CgroupLocation;
  /** Host networking: the namespace's counters are the host's, not the container's. */
  readonly network: boolean;
}

/** Files read at once: enough to keep libuv's pool busy, few enough not to hold hundreds of descriptors. */
const READ_BATCH = 32;

/**
 * The stats of every running container in one answer, read from cgroup files on the engine's
 * host — the gateway as the monitor's agent (issue 12). One `GET /containers/json` per call (the
 * caller's filters, so ownership applies); a container's cgroup is located once by one inspect
 * and then read directly, so dockerd does no per-container work. Counters are cumulative: the
 * caller derives rates from two answers.
 */
export class StatsEndpoint {
  readonly #engine: DockerClient;
  readonly #reader: CgroupReader;
  readonly #located = new Map<string, Located | null>();

  constructor(engine: DockerClient, reader: CgroupReader = new CgroupReader()) {
    this.#engine = engine;
    this.#reader = reader;
  }

  /** `filters` is the Engine API's filters JSON (ownership adds the owner label). */
  async answer(filters: string | undefined): Promise<{ status: number; body: unknown }> {
    const version = this.#reader.version();
    if (version === undefined) {
      return {
        status: 503,
        body: {
          message:
            'dockgate: cgroups are not readable here; run the gateway on the engine host (in a container: -v /sys/fs/cgroup:/sys/fs/cgroup:ro --pid host)',
        },
      };
    }
    const read = new Date().toISOString();
    const running = await this.#engine.json<{ Id: string; Names: string[] }[]>('GET', '/containers/json', {
      query: { filters },
      timeout: 10_000,
    });
    const containers: ContainerCounters[] = [];
    const unreadable: string[] = [];
    const live = new Set<string>();
    for (let i = 0; i < running.length; i += READ_BATCH) {
      const batch = running.slice(i, i + READ_BATCH);
      const samples = await Promise.all(batch.map((c) => this.#sample(c.Id)));
      batch.forEach((c, j) => {
        live.add(c.Id);
        const sample = samples[j];
        if (sample === undefined) unreadable.push(c.Id);
        else containers.push({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), ...sample });
      });
    }
    for (const id of this.#located.keys()) if (!live.has(id)) this.#located.delete(id);
    const answer: StatsAnswer = { read, cgroupVersion: version, containers, unreadable };
    return { status: 200, body: answer };
  }

  async #sample(id: string): Promise<CgroupSample | undefined> {
    let located = this.#located.get(id);
    if (located === undefined) {
      located = await this.#locate(id);
      // A container not readable now (starting, or another cgroup layout) is asked again next time.
      if (located !== null) this.#located.set(id, located);
    }
    if (located === null) return undefined;
    const sample = await this.#reader.read(located.location, { network: located.network });
    if (sample === undefined) this.#located.delete(id); // stopped between the list and the read
    return sample;
  }

  async #locate(id: string): Promise<Located | null> {
    try {
      const inspect = await this.#engine.json<{
        State?: { Pid?: number };
        HostConfig?: { NetworkMode?: string };
      }>('GET', `/containers/${id}/json`, { timeout: 10_000 });
      const location = await this.#reader.locate(id, inspect.State?.Pid ?? 0);
      if (location === undefined) return null;
      return { location, network: inspect.HostConfig?.NetworkMode !== 'host' };
    } catch (error) {
      if (error instanceof EngineError && error.status === 404) return null;
      throw error;
    }
  }
}
