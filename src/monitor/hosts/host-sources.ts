import { EngineError } from '../../client/errors.js';
import type { HostAnswer } from '../../engine/host/host-answer.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';

/** What the Engine API says of its machine (`/info`): all a monitor knows without a gateway there. */
export interface EngineFacts {
  /** The engine's `Name`, `KernelVersion`, `OperatingSystem`. */
  readonly name: string | null;
  readonly kernel: string | null;
  readonly os: string | null;
  readonly cores: number | null;
  readonly memoryTotalBytes: number | null;
  readonly dockerRootDir: string | null;
  readonly storageDriver: string | null;
  /** The storage driver's own lines (`[["Backing Filesystem","extfs"], …]`). */
  readonly driverStatus: readonly (readonly [string, string])[];
}

/** `latest` of `GET /api/v1/engines/{name}/host`: the agent's answer, and where it came from. */
export interface HostView extends HostAnswer {
  /** `gateway`: a dockgate gateway on the host read /proc and statfs; `engine`: `/info` only. */
  readonly source: 'gateway' | 'engine';
  readonly engine: EngineFacts;
}

/** Why a host reads as the Engine API gives it: said once in `unavailable`, per field. */
const NO_AGENT =
  'no dockgate gateway in front of this engine: the Engine API gives cores, total memory and the storage driver only (docs/hosts.md)';

/** A gateway whose policy does not give the monitor's identity the host endpoint. */
const REFUSED =
  "the dockgate gateway in front of this engine refused GET /dockgate/v1/host (403): allow it in the monitor's profile (read-only has it)";

/**
 * How one engine's machine is read: through a dockgate gateway (`GET /dockgate/v1/host`), or
 * — dockerd answers 404 there — from `/info`, with nothing invented for what it does not say.
 */
export interface HostSource {
  readonly kind: 'gateway' | 'engine';
  read(facts: EngineFacts): Promise<HostView>;
}

export async function chooseHostSource(watcher: EngineWatcher): Promise<HostSource> {
  const ask = (): Promise<HostAnswer> =>
    watcher.calls.run('gateway host', (signal) =>
      watcher.client.json<HostAnswer>('GET', '/dockgate/v1/host', { signal }),
    );
  try {
    await ask();
    return {
      kind: 'gateway',
      read: async (facts) => ({ ...(await ask()), source: 'gateway', engine: facts }),
    };
  } catch (error) {
    if (!(error instanceof EngineError && [403, 404, 405, 501].includes(error.status))) throw error;
    // `/info` is asked with the facts (every few minutes), not each round: it costs the engine.
    const why = error.status === 403 ? REFUSED : NO_AGENT;
    return { kind: 'engine', read: async (facts) => engineOnly(facts, why) };
  }
}

interface Info {
  readonly Name?: string;
  readonly KernelVersion?: string;
  readonly OperatingSystem?: string;
  readonly NCPU?: number;
  readonly MemTotal?: number;
  readonly DockerRootDir?: string;
  readonly Driver?: string;
  readonly DriverStatus?: [string, string][] | null;
}

/** The engine's facts from `/info` (asked every few minutes: a storage driver rarely changes). */
export async function readEngineFacts(watcher: EngineWatcher): Promise<EngineFacts> {
  const info = await watcher.calls.run('info', (signal) =>
    watcher.client.json<Info>('GET', '/info', { signal }),
  );
  return {
    name: info.Name ?? null,
    kernel: info.KernelVersion ?? null,
    os: info.OperatingSystem ?? null,
    cores: info.NCPU ?? null,
    memoryTotalBytes: info.MemTotal ?? null,
    dockerRootDir: info.DockerRootDir ?? null,
    storageDriver: info.Driver ?? null,
    driverStatus: (info.DriverStatus ?? []).map(([k, v]) => [k, v] as const),
  };
}

function engineOnly(facts: EngineFacts, reason: string): HostView {
  return {
    read: new Date().toISOString(),
    hostname: facts.name,
    kernel: facts.kernel,
    os: facts.os,
    uptimeSeconds: null,
    cpu: null,
    memory: null,
    filesystems: [],
    network: [],
    disks: [],
    temperatures: [],
    unavailable: (
      ['uptime', 'cpu', 'memory', 'filesystems', 'network', 'disks', 'temperatures', 'pressure'] as const
    ).map((field) => ({
      field,
      reason,
    })),
    source: 'engine',
    engine: facts,
  };
}
