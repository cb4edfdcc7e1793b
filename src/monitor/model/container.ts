/**
 * A container as the monitor shows it (`GET /api/v1/containers`, the stream's `container` event):
 * the API contract of docs/monitor.md. Pure functions build it from an inspect answer and move it
 * along with engine events, so the rules can be tested without an engine.
 */

/** Docker's states, plus `removed` for a container that is gone (kept for its history). */
export type ContainerState =
  | 'created'
  | 'running'
  | 'paused'
  | 'restarting'
  | 'removing'
  | 'exited'
  | 'dead'
  | 'removed';
export type Health = 'none' | 'starting' | 'healthy' | 'unhealthy';

export interface ContainerItem {
  readonly engine: string;
  /** Full id. */
  readonly id: string;
  /** Without the leading `/`. */
  readonly name: string;
  readonly image: string;
  readonly state: ContainerState;
  readonly health: Health;
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
  readonly restartCount: number;
  /** ISO 8601 UTC; null until known (or never started). */
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly compose: { readonly project: string; readonly service: string } | null;
  readonly restartPolicy: string;
  // Resources: the last sample; null until known.
  readonly cpuPercent: number | null;
  readonly memoryBytes: number | null;
  readonly memoryLimitBytes: number | null;
  readonly networkRxBytes: number | null;
  readonly networkTxBytes: number | null;
  readonly blockReadBytes: number | null;
  readonly blockWriteBytes: number | null;
  readonly pids: number | null;
  /** Whether its image's tag moved on the registry (docs/updates.md). */
  readonly update: UpdateInfo;
}

export type UpdateStatus = 'current' | 'outdated' | 'pinned' | 'local' | 'unknown';

/** A container's image against its registry (a contract: docs/updates.md). */
export interface UpdateInfo {
  readonly status: UpdateStatus;
  /** When the registry was last asked for this tag (ISO 8601 UTC); null if never. */
  readonly checkedAt: string | null;
  /** The image's digest for its repository (from RepoDigests). */
  readonly current: string | null;
  /** The tag's digest on the registry now. */
  readonly available: string | null;
  readonly error?: string;
}

export const UNKNOWN_UPDATE: UpdateInfo = {
  status: 'unknown',
  checkedAt: null,
  current: null,
  available: null,
};

/** The part of an inspect answer the monitor reads. */
export interface InspectAnswer {
  readonly Id: string;
  readonly Name: string;
  readonly Created?: string;
  readonly RestartCount?: number;
  readonly Config?: { readonly Image?: string; readonly Labels?: Record<string, string> | null };
  readonly HostConfig?: { readonly RestartPolicy?: { readonly Name?: string } };
  readonly State?: {
    readonly Status?: string;
    readonly ExitCode?: number;
    readonly OOMKilled?: boolean;
    readonly StartedAt?: string;
    readonly FinishedAt?: string;
    readonly Health?: { readonly Status?: string } | null;
  };
}

/** An engine event as `/events` sends it (container events only reach the model). */
export interface EngineEvent {
  readonly Type?: string;
  readonly Action: string;
  readonly Actor: { readonly ID: string; readonly Attributes?: Record<string, string> };
  readonly time: number;
  readonly timeNano: number;
}

const STATES = new Set<string>(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);
const HEALTH = new Set<string>(['starting', 'healthy', 'unhealthy']);

/** Docker's zero time ("0001-01-01T00:00:00Z") means never. */
export function dockerTime(value: string | undefined): string | null {
  if (value === undefined || value === '' || value.startsWith('0001-')) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function composeOf(labels: Readonly<Record<string, string>>): ContainerItem['compose'] {
  const project = labels['com.docker.compose.project'];
  const service = labels['com.docker.compose.service'];
  return project === undefined ? null : { project, service: service ?? '' };
}

/** The item for an inspect answer; resources are carried over from `previous`. */
export function fromInspect(engine: string, inspect: InspectAnswer, previous?: ContainerItem): ContainerItem {
  const state = inspect.State ?? {};
  const labels = inspect.Config?.Labels ?? {};
  const status = state.Status ?? 'created';
  const health = state.Health?.Status;
  const exitCode = state.ExitCode;
  const startedAt = dockerTime(state.StartedAt);
  return {
    engine,
    id: inspect.Id,
    name: inspect.Name.replace(/^\//, ''),
    image: inspect.Config?.Image ?? '',
    state: (STATES.has(status) ? status : 'dead') as ContainerState,
    health: health !== undefined && HEALTH.has(health) ? (health as Health) : 'none',
    // A container that never ran has no exit code worth showing.
    exitCode: exitCode === undefined || (startedAt === null && status === 'created') ? null : exitCode,
    oomKilled: state.OOMKilled === true,
    restartCount: inspect.RestartCount ?? 0,
    startedAt,
    finishedAt: dockerTime(state.FinishedAt),
    labels,
    compose: composeOf(labels),
    restartPolicy: inspect.HostConfig?.RestartPolicy?.Name ?? '',
    ...(previous === undefined ? noResources() : resourcesOf(previous)),
    update: previous?.update ?? UNKNOWN_UPDATE,
  };
}

/** The resource fields of an item (the stats collector's, kept across inspects). */
export function resourcesOf(item: ContainerItem): ReturnType<typeof noResources> {
  return {
    cpuPercent: item.cpuPercent,
    memoryBytes: item.memoryBytes,
    memoryLimitBytes: item.memoryLimitBytes,
    networkRxBytes: item.networkRxBytes,
    networkTxBytes: item.networkTxBytes,
    blockReadBytes: item.blockReadBytes,
    blockWriteBytes: item.blockWriteBytes,
    pids: item.pids,
  };
}

export function noResources(): Pick<
  ContainerItem,
  | 'cpuPercent'
  | 'memoryBytes'
  | 'memoryLimitBytes'
  | 'networkRxBytes'
  | 'networkTxBytes'
  | 'blockReadBytes'
  | 'blockWriteBytes'
  | 'pids'
> {
  return {
    cpuPercent: null,
    memoryBytes: null,
    memoryLimitBytes: null,
    networkRxBytes: null,
    networkTxBytes: null,
    blockReadBytes: null,
    blockWriteBytes: null,
    pids: null,
  };
}

/** Events that change what the model shows or that belong in a container's timeline. */
export const TIMELINE_ACTIONS = new Set([
  'create',
  'start',
  'restart',
  'kill',
  'stop',
  'die',
  'oom',
  'pause',
  'unpause',
  'health_status',
  'rename',
  'update',
  'destroy',
  'commit',
]);

/** "health_status: healthy" → ["health_status", "healthy"]; "exec_create: sh -c …" → ["exec_create", …]. */
export function splitAction(action: string): [string, string | undefined] {
  const colon = action.indexOf(':');
  return colon < 0 ? [action, undefined] : [action.slice(0, colon), action.slice(colon + 1).trim()];
}

/**
 * The item after an event, from the event alone: what the API and the stream show at once (a
 * kill is visible within milliseconds); an inspect afterwards fills in the rest. Returns the same
 * object when nothing the item shows changed.
 */
export function applyEvent(item: ContainerItem, event: EngineEvent): ContainerItem {
  const [action, detail] = splitAction(event.Action);
  const attrs = event.Actor.Attributes ?? {};
  const at = new Date(Math.floor(event.timeNano / 1e6)).toISOString();
  switch (action) {
    case 'start':
      return {
        ...item,
        state: 'running',
        startedAt: at,
        exitCode: 0,
        oomKilled: false,
        health: item.health === 'none' ? 'none' : 'starting',
      };
    case 'die': {
      const code = Number(attrs.exitCode);
      return {
        ...item,
        state: 'exited',
        exitCode: Number.isInteger(code) ? code : item.exitCode,
        finishedAt: at,
        cpuPercent: null,
      };
    }
    case 'oom':
      return { ...item, oomKilled: true };
    case 'pause':
      return { ...item, state: 'paused' };
    case 'unpause':
      return { ...item, state: 'running' };
    case 'health_status':
      return detail !== undefined && HEALTH.has(detail) ? { ...item, health: detail as Health } : item;
    case 'rename':
      return attrs.name === undefined ? item : { ...item, name: attrs.name.replace(/^\//, '') };
    case 'destroy':
      return { ...item, state: 'removed', cpuPercent: null };
    default:
      return item;
  }
}

/** The item for a container first seen through its `create` event (inspect follows). */
export function fromCreateEvent(engine: string, event: EngineEvent): ContainerItem {
  const attrs = event.Actor.Attributes ?? {};
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs))
    if (key !== 'name' && key !== 'image') labels[key] = value;
  return {
    engine,
    id: event.Actor.ID,
    name: (attrs.name ?? event.Actor.ID.slice(0, 12)).replace(/^\//, ''),
    image: attrs.image ?? '',
    state: 'created',
    health: 'none',
    exitCode: null,
    oomKilled: false,
    restartCount: 0,
    startedAt: null,
    finishedAt: null,
    labels,
    compose: composeOf(labels),
    restartPolicy: '',
    ...noResources(),
    update: UNKNOWN_UPDATE,
  };
}
