import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/api-server.js';
import { badQuery, defaultStep, durationParam, engineOf, notFound, single } from '../api/request-params.js';
import { requireRole } from '../auth/principal.js';
import type { HostCollector } from './host-collector.js';
import { pruneBody } from './prune-plan.js';

/** The longest range one request may ask of the host series. */
const MAX_RANGE_MS = 400 * 86_400_000;

/**
 * The hosts' API (docs/hosts.md): `GET /api/v1/hosts` (every watched engine's host, latest),
 * `GET /api/v1/engines/{name}/host?range=1h` (latest + series), `GET …/disk` (Docker's disk use,
 * read at most every 15 minutes, and the last cleanups) — viewers; `POST …/prune` — admins.
 */
export async function registerHostRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const collectorOf = (request: FastifyRequest): HostCollector => {
    const { engine } = request.params as { engine: string };
    const watcher = engineOf(ctx, engine); // unknown → 404; another monitor's → 409 (when not forwarded)
    const collector = ctx.hosts.collector(watcher.name);
    if (collector === undefined) throw notFound(`engine ${engine} is not watched here`);
    return collector;
  };

  app.get('/api/v1/hosts', async (request) => {
    requireRole(request.principal, 'viewer', 'the hosts');
    return ctx.hosts.collectors().map((c) => ({
      engine: c.engine,
      latest: c.latest ?? null,
      point:
        c.point === undefined ? null : { ...c.point, t: undefined, time: new Date(c.point.t).toISOString() },
      disk: c.disk ?? null,
    }));
  });

  app.get('/api/v1/engines/:engine/host', async (request) => {
    requireRole(request.principal, 'viewer', 'the host');
    const collector = collectorOf(request);
    const q = request.query as Record<string, string | string[] | undefined>;
    const range = durationParam(single(q, 'range') ?? '1h', 'range');
    if (range > MAX_RANGE_MS) throw badQuery('range: at most 400d');
    const stepText = single(q, 'step');
    const step = stepText === undefined ? defaultStep(range) : durationParam(stepText, 'step');
    if (step < 1000) throw badQuery('step: at least 1s');
    if (range / step > 10_000) throw badQuery('step: more than 10000 points; use a larger step');
    const since = ctx.now() - range;
    return {
      latest: collector.latest ?? null,
      series: await ctx.hosts.history.series(collector.engine, since, step),
      filesystems: await ctx.hosts.history.filesystems(collector.engine, since, step),
    };
  });

  app.get('/api/v1/engines/:engine/disk', async (request) => {
    requireRole(request.principal, 'viewer', 'the disk use');
    const collector = collectorOf(request);
    return {
      ...(await collector.diskUsage()),
      prunes: await ctx.hosts.pruner.recent(collector.engine),
    };
  });

  app.post('/api/v1/engines/:engine/prune', async (request) => {
    requireRole(request.principal, 'admin', 'a cleanup');
    const collector = collectorOf(request);
    const parsed = pruneBody.safeParse(request.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badQuery(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
    }
    const options = parsed.data;
    if (
      options.images === undefined &&
      options.containers === undefined &&
      options.buildCache !== true &&
      (options.volumes === undefined || options.volumes === false)
    )
      throw badQuery('say what to clean up: images, containers, buildCache or volumes');
    const watcher = engineOf(ctx, collector.engine);
    const outcome = await ctx.hosts.pruner.prune(watcher, options, request.principal);
    if (outcome.disk !== undefined) collector.remember(outcome.disk);
    return outcome;
  });
}
