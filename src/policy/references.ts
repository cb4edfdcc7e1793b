import { type GoObject, type GoValue, isObject, isString } from './go-json.js';
import { type ContainerFacts, isHostPath } from './host-escapes.js';

/**
 * The existing containers a request reaches into (issue 10, "lateral movement"): a caller who may
 * not create a privileged container or bind the docker socket must not borrow one that has — by
 * exec, attach, archive, export or commit into it, or by joining its mounts or namespaces at
 * create. Pure: which container, by which route or field; the engine says what it holds.
 */
export interface TargetCheck {
  /**
   * `exec`: the reference is an exec instance; its container (and its own settings) are checked.
   * `volume`: a named volume a create body mounts; it must not be a host path the profile
   * refuses as a bind (issue 22). A volume that does not exist yet is created plain by the engine.
   */
  readonly kind: 'container' | 'exec' | 'volume';
  /** As the caller wrote it: a full id, a name (with or without `/`) or a unique id prefix. */
  readonly ref: string;
  /** How the request reaches in, for the refusal and the audit line: "exec create", "HostConfig.VolumesFrom". */
  readonly via: string;
  /**
   * `bound-volumes`: only the named volumes the container's create could not check (its
   * `dockgate.unchecked-volumes` label) are judged — `start` and `restart`, so that a volume
   * created with bind options between a create's check and the engine's create (a race) never
   * runs a process with it (issue 22). Containers made elsewhere (an administrator's compose
   * stack with bind volumes, restarted by autoheal) are not judged here.
   */
  readonly only?: 'bound-volumes';
}

/**
 * The label the gateway puts on a container whose create mounted named volumes that did not exist
 * when it was checked (comma-separated names). The engine creates them plain — unless someone
 * creates one with bind options between the check and the engine's create; `start` and
 * `restart` judge the volumes this label names as they are then (issue 22's race).
 */
export const UNCHECKED_VOLUMES_LABEL = 'dockgate.unchecked-volumes';

/** What the engine says of a named volume: its driver and options (`GET /volumes/{name}`). */
export interface VolumeFacts {
  readonly name: string;
  readonly driver: string;
  readonly options: GoObject | null;
}

/** What the engine says of a check's target, resolved as dockerd resolves it. */
export interface TargetFacts {
  /** The container's full id. */
  readonly id: string;
  /** The container's name, without the leading `/`. */
  readonly name: string;
  readonly container: ContainerFacts;
  /** For an exec check: the exec's own settings as an exec create body (`Privileged`, `User`). */
  readonly exec?: GoObject | undefined;
}

/** Per-container routes that reach into the container named in the path, and what they do there. */
const TARGET_ROUTES: Readonly<Record<string, string>> = {
  'POST /containers/{id}/exec': 'exec create',
  'POST /containers/{id}/attach': 'attach',
  'GET /containers/{id}/attach/ws': 'attach (websocket)',
  'GET /containers/{id}/archive': 'archive read',
  'HEAD /containers/{id}/archive': 'archive stat',
  'PUT /containers/{id}/archive': 'archive write',
  'POST /containers/{id}/copy': 'copy (API < 1.24)',
  'GET /containers/{id}/export': 'export',
  'POST /containers/{id}/update': 'update',
};

/** Routes that run a container's process: its named volumes are judged again (`only: bound-volumes`). */
const START_ROUTES: Readonly<Record<string, string>> = {
  'POST /containers/{id}/start': 'start',
  'POST /containers/{id}/restart': 'restart',
};

/** Create bodies (and the legacy start body) join another container's mounts or namespaces here. */
const JOINING_FIELDS = ['NetworkMode', 'PidMode', 'IpcMode', 'Cgroup'] as const;

/** Containers a create body reaches into: VolumesFrom, and `container:<id>` namespaces. */
export function referencedContainers(body: GoObject): TargetCheck[] {
  const out: TargetCheck[] = [];
  // dockerd reads the top-level copies when HostConfig is absent (host-escapes.ts): check both.
  const hostConfigs: [GoObject, string][] = [[body, '']];
  const inner = body.field('HostConfig');
  if (isObject(inner)) hostConfigs.push([inner, 'HostConfig.']);
  for (const [hc, at] of hostConfigs) {
    const from = hc.field('VolumesFrom');
    if (Array.isArray(from)) {
      // "name", "name:ro", "name:rw": the mode follows the last colon; ids and names have none.
      for (const v of from) if (isString(v)) out.push(check(v.split(':')[0] as string, `${at}VolumesFrom`));
    }
    for (const name of JOINING_FIELDS) {
      const v: GoValue | undefined = hc.field(name);
      if (isString(v) && v.startsWith('container:'))
        out.push(check(v.slice('container:'.length), `${at}${name}`));
    }
  }
  return out;
}

/**
 * Named volumes a create body (or the legacy start body) mounts: `Binds` entries whose source is
 * not a host path (`name:/path[:opts]`) and `Mounts` of `Type: volume` with a `Source`, in
 * `HostConfig` and at the top level (dockerd reads those when HostConfig is absent).
 */
export function referencedVolumes(body: GoObject): TargetCheck[] {
  const out: TargetCheck[] = [];
  const seen = new Set<string>();
  const add = (name: string, via: string): void => {
    if (name === '' || seen.has(`${name}|${via}`)) return;
    seen.add(`${name}|${via}`);
    out.push({ kind: 'volume', ref: name, via });
  };
  const hostConfigs: [GoObject, string][] = [[body, '']];
  const inner = body.field('HostConfig');
  if (isObject(inner)) hostConfigs.push([inner, 'HostConfig.']);
  for (const [hc, at] of hostConfigs) {
    const binds = hc.field('Binds');
    if (Array.isArray(binds)) {
      for (const bind of binds) {
        if (!isString(bind)) continue;
        const source = bind.split(':')[0] ?? '';
        if (!isHostPath(source)) add(source, `${at}Binds`);
      }
    }
    const mounts = hc.field('Mounts');
    if (Array.isArray(mounts)) {
      for (const mount of mounts) {
        if (!isObject(mount) || mount.field('Type') !== 'volume') continue;
        const source = mount.field('Source');
        if (isString(source)) add(source, `${at}Mounts`);
      }
    }
  }
  return out;
}

/** Networks every caller shares: the engine's predefined ones, never anybody's. */
const PREDEFINED_NETWORKS = new Set(['none', 'host', 'bridge', 'default', 'nat']);

/**
 * Objects of others a create body joins, for ownership (issue 22's review): user-defined networks
 * (`NetworkMode`, `NetworkingConfig.EndpointsConfig` keys) and legacy `Links` (which copy the
 * linked container's environment into the new one) — besides `VolumesFrom` and `container:`
 * namespaces (`referencedContainers`) and named volumes (`referencedVolumes`).
 */
export function joinedObjects(body: GoObject): { networks: string[]; links: string[] } {
  const networks = new Set<string>();
  const links = new Set<string>();
  const hostConfigs: GoObject[] = [body];
  const inner = body.field('HostConfig');
  if (isObject(inner)) hostConfigs.push(inner);
  const linkTarget = (v: GoValue): void => {
    // "name:alias" or "/name:/new/alias": the container is before the colon.
    if (isString(v)) links.add((v.split(':')[0] ?? '').replace(/^\//, ''));
  };
  for (const hc of hostConfigs) {
    const mode = hc.field('NetworkMode');
    if (isString(mode) && mode !== '' && !mode.startsWith('container:') && !PREDEFINED_NETWORKS.has(mode))
      networks.add(mode);
    const l = hc.field('Links');
    if (Array.isArray(l)) for (const v of l) linkTarget(v);
  }
  const config = body.field('NetworkingConfig');
  const endpoints = isObject(config) ? config.field('EndpointsConfig') : undefined;
  if (isObject(endpoints)) {
    for (const [network, endpoint] of endpoints.entries) {
      if (!PREDEFINED_NETWORKS.has(network)) networks.add(network);
      const l = isObject(endpoint) ? endpoint.field('Links') : undefined;
      if (Array.isArray(l)) for (const v of l) linkTarget(v);
    }
  }
  networks.delete('');
  links.delete('');
  return { networks: [...networks], links: [...links] };
}

/** The target checks of one request: the container in its path, the one in its query, those in its body. */
export function targetChecks(
  routeName: string,
  params: Readonly<Record<string, string>>,
  query: string,
  body: GoObject | undefined,
): TargetCheck[] {
  const out: TargetCheck[] = [];
  const via = TARGET_ROUTES[routeName];
  if (via !== undefined && params.id !== undefined) out.push(check(params.id, via));
  const starts = START_ROUTES[routeName];
  if (starts !== undefined && params.id !== undefined)
    out.push({ kind: 'container', ref: params.id, via: starts, only: 'bound-volumes' });
  // An exec created elsewhere (or before a policy change) runs in a container the gateway never saw.
  if (routeName === 'POST /exec/{id}/start' && params.id !== undefined)
    out.push({ kind: 'exec', ref: params.id, via: 'exec start' });
  if (routeName === 'POST /commit') {
    for (const c of new URLSearchParams(query).getAll('container')) out.push(check(c, 'commit'));
  }
  if (
    body !== undefined &&
    (routeName === 'POST /containers/create' || routeName === 'POST /containers/{id}/start')
  )
    out.push(...referencedContainers(body), ...referencedVolumes(body));
  return out;
}

function check(ref: string, via: string): TargetCheck {
  return { kind: 'container', ref, via };
}
