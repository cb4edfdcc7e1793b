import { type GoObject, type GoValue, isObject, isString } from './go-json.js';
import type { ContainerFacts } from './host-escapes.js';

/**
 * The existing containers a request reaches into (issue 10, "lateral movement"): a caller who may
 * not create a privileged container or bind the docker socket must not borrow one that has — by
 * exec, attach, archive, export or commit into it, or by joining its mounts or namespaces at
 * create. Pure: which container, by which route or field; the engine says what it holds.
 */
export interface TargetCheck {
  /** `exec`: the reference is an exec instance; its container (and its own settings) are checked. */
  readonly kind: 'container' | 'exec';
  /** As the caller wrote it: a full id, a name (with or without `/`) or a unique id prefix. */
  readonly ref: string;
  /** How the request reaches in, for the refusal and the audit line: "exec create", "HostConfig.VolumesFrom". */
  readonly via: string;
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
    out.push(...referencedContainers(body));
  return out;
}

function check(ref: string, via: string): TargetCheck {
  return { kind: 'container', ref, via };
}
