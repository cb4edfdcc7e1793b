import type { DockerClient } from '../client/docker-client.js';
import { EngineError } from '../client/errors.js';
import { type CgroupLocation, CgroupReader, type CgroupSample } from '../engine/cgroup-stats.js';
import { type RunningContainer, RunningSet } from './running-set.js';

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

/** Containers read between two turns of the event loop (~8 small files each, ~13 µs a file). */
const READ_BATCH = 32;

const yieldToProxy = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The stats of every running container in one answer, read from cgroup files on the engine's
 * host — the gateway as the monitor's agent (issue 12). Which containers run is kept by an events
 * subscription (`running-set.ts`), filtered by the caller's label and id filters (ownership adds
 * one); a container's cgroup is located once by one inspect and then read directly. So in the
 * steady state dockerd does no work for a stats request. Counters are cumulative: the caller
 * derives rates from two answers.
 */
export class StatsEndpoint {
  readonly #engine: DockerClient;
  readonly #reader: CgroupReader;
  readonly #located = new Map<string, Located | null>();
  readonly #set: RunningSet;

  constructor(
    engine: DockerClient,
    reader: CgroupReader = new CgroupReader(),
    running = new RunningSet(engine),
  ) {
    this.#engine = engine;
    this.#reader = reader;
    this.#set = running;
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
    const running = await this.#running(filters);
    const containers: ContainerCounters[] = [];
    const unreadable: string[] = [];
    const live = new Set<string>();
    for (let i = 0; i < running.length; i += READ_BATCH) {
      const batch = running.slice(i, i + READ_BATCH);
      const samples = await Promise.all(batch.map((c) => this.#sample(c.id)));
      await yieldToProxy(); // the files are read synchronously: let proxied traffic through
      batch.forEach((c, j) => {
        live.add(c.id);
        const sample = samples[j];
        if (sample === undefined) unreadable.push(c.id);
        else containers.push({ id: c.id, name: c.name, ...sample });
      });
    }
    for (const id of this.#located.keys()) if (!live.has(id)) this.#located.delete(id);
    const answer: StatsAnswer = { read, cgroupVersion: version, containers, unreadable };
    return { status: 200, body: answer };
  }

  /** Stops following the engine's events. */
  /**
   * The running containers the caller may see: from the events-kept set, filtered here by label
   * and id (the filters ownership adds); any other filter, or a set not followed live, asks the
   * engine to list.
   */
  async #running(filters: string | undefined): Promise<readonly RunningContainer[]> {
    const parsed = parseFilters(filters);
    const known = parsed === undefined ? undefined : this.#set.current();
    if (parsed !== undefined && known !== undefined) {
      return known.filter(
        (c) =>
          parsed.label.every((l) => labelMatches(c.labels, l)) &&
          (parsed.id.length === 0 || parsed.id.some((p) => c.id.startsWith(p))),
      );
    }
    const list = await this.#engine.json<
      { Id: string; Names: string[]; Labels: Record<string, string> | null }[]
    >('GET', '/containers/json', { query: { filters }, timeout: 10_000 });
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      labels: c.Labels ?? {},
    }));
  }

  async #sample(id: string): Promise<CgroupSample | undefined> {
    let located = this.#located.get(id);
    if (located === undefined) {
      located = await this.#locate(id);
      // A container not readable now (starting, or another cgroup layout) is asked again next time.
      if (located !== null) this.#located.set(id, located);
    }
    if (located === null) return undefined;
    const sample = this.#reader.read(located.location, { network: located.network });
    if (sample === undefined) this.#located.delete(id); // stopped between the list and the read
    return sample;
  }

  async #locate(id: string): Promise<Located | null> {
    try {
      const inspect = await this.#engine.json<{
        State?: { Pid?: number };
        HostConfig?: { NetworkMode?: string };
      }>('GET', `/containers/${id}/json`, { timeout: 10_000 });
      const location = this.#reader.locate(id, inspect.State?.Pid ?? 0);
      if (location === undefined) return null;
      return { location, network: inspect.HostConfig?.NetworkMode !== 'host' };
    } catch (error) {
      if (error instanceof EngineError && error.status === 404) return null;
      throw error;
    }
  }
}

/** Label and id filters (what ownership and the monitor send); undefined for anything else. */
function parseFilters(text: string | undefined): { label: string[]; id: string[] } | undefined {
  if (text === undefined || text === '') return { label: [], id: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out = { label: [] as string[], id: [] as string[] };
  for (const [key, raw] of Object.entries(value)) {
    if (key !== 'label' && key !== 'id') return undefined;
    // Both shapes dockerd reads: ["a=b"] and the legacy {"a=b": true}.
    const items = Array.isArray(raw)
      ? raw
      : typeof raw === 'object' && raw !== null
        ? Object.keys(raw)
        : undefined;
    if (items === undefined || !items.every((v): v is string => typeof v === 'string')) return undefined;
    out[key].push(...items);
  }
  return out;
}

function labelMatches(labels: Readonly<Record<string, string>>, filter: string): boolean {
  const eq = filter.indexOf('=');
  return eq < 0 ? filter in labels : labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}
