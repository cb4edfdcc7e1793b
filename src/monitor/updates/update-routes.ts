import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../api/api-server.js';
import { openEvents } from '../api/event-stream.js';
import { asAnswer, badQuery, liveContainer, resolveContainer } from '../api/request-params.js';
import { requireRole } from '../auth/principal.js';
import type { UpdateChecker } from './update-checker.js';
import type { UpdateOutcome, UpdateProgress, Updater } from './update-runner.js';

const updateBody = z
  .object({
    /** Another tag than the container's (`repo:tag`); its own by default. */
    image: z.string().min(1).max(512).optional(),
    /** Pull and say what would be done; change nothing. */
    dryRun: z.boolean().optional(),
  })
  .strict();

/** The HTTP status of each outcome (docs/updates.md#the-answer). */
const STATUS: Record<UpdateOutcome['result'], number> = {
  plan: 200,
  current: 200,
  updated: 200,
  'rolled-back': 409,
  failed: 502,
};

/**
 * `GET /api/v1/updates` (viewer): the containers whose image's tag moved on its registry;
 * `POST /api/v1/updates/check` (operator): asks every registry now and answers, when done, what
 * `GET` would; `POST /api/v1/containers/{engine}/{id}/update` (operator): pull, recreate, gate,
 * roll back — as JSON, or as server-sent events with `Accept: text/event-stream`;
 * `GET …/update` (viewer): the container's last updates (docs/updates.md).
 */
export async function registerUpdateRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  checker: UpdateChecker,
  updater: Updater,
): Promise<void> {
  app.get('/api/v1/updates', async (request) => {
    requireRole(request.principal, 'viewer', 'the updates');
    return checker.outdated();
  });

  app.post('/api/v1/updates/check', async (request) => {
    requireRole(request.principal, 'operator', 'an update check');
    await checker.check(true);
    return checker.outdated();
  });

  app.get('/api/v1/containers/:engine/:id/update', async (request) => {
    requireRole(request.principal, 'viewer', 'the updates');
    const item = await resolveContainer(ctx, request);
    return { update: item.update, runs: await updater.recent(item.engine, item.name) };
  });

  app.post('/api/v1/containers/:engine/:id/update', async (request, reply) => {
    requireRole(request.principal, 'operator', 'an update');
    const item = liveContainer(ctx, request);
    const options = parseBody(request);
    if (!wantsEvents(request)) {
      const outcome = await updater.update(item, request.principal, options);
      return reply.status(STATUS[outcome.result]).send(outcome);
    }
    // Progress as it happens: the update goes on if the caller leaves (it must end in one state
    // or the other); only the telling stops.
    reply.hijack();
    const res = reply.raw;
    openEvents(res, 'update');
    const send = (event: string, data: unknown): void => {
      if (!res.writableEnded && !res.destroyed)
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    try {
      const outcome = await updater.update(item, request.principal, options, (p: UpdateProgress) =>
        send('progress', p),
      );
      send('result', { status: STATUS[outcome.result], ...outcome });
    } catch (error) {
      const { status, message } = asAnswer(error);
      send('error', { status, message });
    }
    res.end();
  });
}

function parseBody(request: FastifyRequest): z.output<typeof updateBody> {
  if (request.body === undefined || request.body === null || request.body === '') return {};
  const parsed = updateBody.safeParse(request.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badQuery(`body: ${issue?.path.join('.') || ''} ${issue?.message ?? 'invalid'}`.trim());
  }
  return parsed.data;
}

function wantsEvents(request: FastifyRequest): boolean {
  return String(request.headers.accept ?? '').includes('text/event-stream');
}
