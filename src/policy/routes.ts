/**
 * The Engine API's routes as templates, for naming what a request is (metrics' route class,
 * learn mode's recorded routes, which body inspection applies). `{name}` of images and plugins
 * may hold slashes ("library/busybox"), so it spans segments; every other `{…}` is one segment.
 * Derived from the Engine API specs v1.41–v1.55 (paths only), plus dockerd's /grpc and /session,
 * and the gateway's own `/dockgate/v1/stats` and `/dockgate/v1/containers/{id}/logs`.
 */
const TEMPLATES: readonly string[] = [
  'GET /_ping',
  'HEAD /_ping',
  'GET /version',
  'GET /info',
  'GET /events',
  'GET /system/df',
  'POST /auth',
  'GET /containers/json',
  'POST /containers/create',
  'POST /containers/prune',
  'GET /containers/{id}/json',
  'GET /containers/{id}/top',
  'GET /containers/{id}/logs',
  'GET /containers/{id}/changes',
  'GET /containers/{id}/export',
  'GET /containers/{id}/stats',
  'POST /containers/{id}/resize',
  'POST /containers/{id}/start',
  'POST /containers/{id}/stop',
  'POST /containers/{id}/restart',
  'POST /containers/{id}/kill',
  'POST /containers/{id}/update',
  'POST /containers/{id}/rename',
  'POST /containers/{id}/pause',
  'POST /containers/{id}/unpause',
  'POST /containers/{id}/attach',
  'GET /containers/{id}/attach/ws',
  'POST /containers/{id}/wait',
  'DELETE /containers/{id}',
  'GET /containers/{id}/archive',
  'HEAD /containers/{id}/archive',
  'PUT /containers/{id}/archive',
  'POST /containers/{id}/exec',
  'POST /containers/{id}/copy',
  'POST /exec/{id}/start',
  'POST /exec/{id}/resize',
  'GET /exec/{id}/json',
  'GET /images/json',
  'POST /build',
  'POST /build/prune',
  'POST /build/cancel',
  'POST /images/create',
  'GET /images/search',
  'POST /images/prune',
  'GET /images/get',
  'POST /images/load',
  'POST /commit',
  'GET /images/{name}/json',
  'GET /images/{name}/history',
  'GET /images/{name}/attestations',
  'GET /images/{name}/get',
  'POST /images/{name}/push',
  'POST /images/{name}/tag',
  'DELETE /images/{name}',
  'GET /distribution/{name}/json',
  'GET /volumes',
  'POST /volumes/create',
  'POST /volumes/prune',
  'GET /volumes/{name}',
  'PUT /volumes/{name}',
  'DELETE /volumes/{name}',
  'GET /networks',
  'POST /networks/create',
  'POST /networks/prune',
  'GET /networks/{id}',
  'DELETE /networks/{id}',
  'POST /networks/{id}/connect',
  'POST /networks/{id}/disconnect',
  'GET /plugins',
  'GET /plugins/privileges',
  'POST /plugins/pull',
  'POST /plugins/create',
  'GET /plugins/{name}/json',
  'DELETE /plugins/{name}',
  'POST /plugins/{name}/enable',
  'POST /plugins/{name}/disable',
  'POST /plugins/{name}/upgrade',
  'POST /plugins/{name}/push',
  'POST /plugins/{name}/set',
  'GET /swarm',
  'POST /swarm/init',
  'POST /swarm/join',
  'POST /swarm/leave',
  'POST /swarm/update',
  'GET /swarm/unlockkey',
  'POST /swarm/unlock',
  'GET /nodes',
  'GET /nodes/{id}',
  'DELETE /nodes/{id}',
  'POST /nodes/{id}/update',
  'GET /services',
  'POST /services/create',
  'GET /services/{id}',
  'DELETE /services/{id}',
  'POST /services/{id}/update',
  'GET /services/{id}/logs',
  'GET /tasks',
  'GET /tasks/{id}',
  'GET /tasks/{id}/logs',
  'GET /secrets',
  'POST /secrets/create',
  'GET /secrets/{id}',
  'DELETE /secrets/{id}',
  'POST /secrets/{id}/update',
  'GET /configs',
  'POST /configs/create',
  'GET /configs/{id}',
  'DELETE /configs/{id}',
  'POST /configs/{id}/update',
  'POST /session',
  'POST /grpc',
  // dockgate's own: every running container's stats in one answer (src/agent/stats-endpoint.ts).
  'GET /dockgate/v1/stats',
  'GET /dockgate/v1/containers/{id}/logs',
  // The engine's machine: CPU, memory, filesystems, network (src/agent/host-endpoint.ts).
  'GET /dockgate/v1/host',
];

export interface Route {
  /** "GET /containers/{id}/json": the route class. */
  readonly name: string;
  readonly method: string;
  readonly template: string;
  /** The template as a rule pattern: `{id}` → `*`, `{name}` → `**`. */
  readonly pattern: string;
  /** The object the route acts on: ids in path order. */
  readonly params: readonly string[];
}

interface CompiledRoute extends Route {
  readonly regex: RegExp;
}

const COMPILED: CompiledRoute[] = TEMPLATES.map((line) => {
  const [method, template] = line.split(' ') as [string, string];
  const params: string[] = [];
  const body = template.replace(/\{(\w+)\}/g, (_m, p: string) => {
    params.push(p);
    return p === 'name' ? '(.+)' : '([^/]+)';
  });
  const pattern = template.replace(/\{name\}/g, '**').replace(/\{\w+\}/g, '*');
  return { name: line, method, template, pattern, params, regex: new RegExp(`^${body}$`) };
});

// Fixed paths first so that "/containers/json" is not read as the container named "json".
COMPILED.sort((a, b) => a.params.length - b.params.length);

/** Routes by "METHOD /first-segment": a request is matched against a handful, not all of them. */
const BY_PREFIX = new Map<string, CompiledRoute[]>();
for (const route of COMPILED) {
  const key = `${route.method} ${firstSegment(route.template)}`;
  BY_PREFIX.set(key, [...(BY_PREFIX.get(key) ?? []), route]);
}

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end < 0 ? path : path.slice(0, end);
}

export interface RouteMatch {
  readonly route: Route;
  /** Values of the route's parameters, by name. */
  readonly params: Readonly<Record<string, string>>;
}

export function matchRoute(method: string, path: string): RouteMatch | undefined {
  for (const route of BY_PREFIX.get(`${method} ${firstSegment(path)}`) ?? []) {
    const m = route.regex.exec(path);
    if (m === null) continue;
    const params: Record<string, string> = {};
    route.params.forEach((p, i) => {
      params[p] = m[i + 1] as string;
    });
    return { route, params };
  }
  return undefined;
}

/** The route class of a request, for metrics: unknown routes share one label. */
export function routeClass(method: string, path: string): string {
  return matchRoute(method, path)?.route.name ?? 'other';
}
