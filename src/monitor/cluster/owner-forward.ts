import type { FastifyInstance, FastifyRequest } from 'fastify';
import { request as send } from 'undici';
import { DockgateError } from '../../errors.js';

/** Who owns an engine this monitor does not watch (several monitors; undefined: nobody else). */
export type OwnerOf = (engine: string) => Promise<{ id: string; listen: string } | undefined>;

/** Marks a request one monitor sent another: it is answered there, never sent on again. */
const FORWARDED = 'x-dockgate-forwarded-by';
/** What goes along: who the caller is (the owner checks it again) and what they sent and accept. */
const PASSED = [
  'authorization',
  'cookie',
  'x-csrf-token',
  'content-type',
  'accept',
  'last-event-id',
] as const;

/**
 * Several monitors (docs/scaling.md): a request that needs the engine itself — an action, a
 * removal, the live log tail, an update — on an engine another monitor watches is sent to that
 * monitor and its answer streamed back (server-sent events included), so every monitor serves the
 * whole API. The caller's own credentials go along and the owner decides as it would for them;
 * an anonymous caller is not forwarded (the owner may trust its own loopback more than this
 * listener does), nor is a request that was forwarded already (ownership moving: try again).
 */
export function forwardToOwner(
  app: FastifyInstance,
  options: {
    watches: (engine: string) => boolean;
    known: (engine: string) => boolean;
    ownerOf: OwnerOf;
    self: string;
  },
): void {
  app.addHook('preHandler', async (request, reply) => {
    const engine = (request.params as { engine?: unknown } | undefined)?.engine;
    if (typeof engine !== 'string' || !needsEngine(request)) return;
    if (options.watches(engine) || !options.known(engine)) return; // answered here
    const owner = await options.ownerOf(engine);
    if (owner === undefined) return; // nobody owns it right now: the route says so
    if (request.headers[FORWARDED] !== undefined || request.principal.via === 'anonymous')
      throw new DockgateError(
        'DG_ENGINE_ELSEWHERE',
        `engine ${engine} is watched by monitor ${owner.id} at ${owner.listen}: ${
          request.principal.via === 'anonymous'
            ? 'send a token there, or here'
            : 'ownership is moving; try again'
        }`,
      );
    const headers: Record<string, string> = { [FORWARDED]: options.self };
    for (const name of PASSED) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const body =
      request.body === undefined || request.body === null
        ? undefined
        : typeof request.body === 'string'
          ? request.body
          : JSON.stringify(request.body);
    const answer = await send(`${owner.listen}${request.url}`, {
      method: request.method as 'POST',
      headers,
      ...(body === undefined ? {} : { body }),
      signal: request.raw.aborted ? AbortSignal.abort() : undefined,
    });
    reply.code(answer.statusCode);
    for (const name of ['content-type', 'cache-control', 'retry-after'])
      if (typeof answer.headers[name] === 'string') void reply.header(name, answer.headers[name]);
    request.raw.once('close', () => answer.body.destroy());
    return reply.send(answer.body);
  });
}

/** A route that needs the engine itself, not what the store and the live state know. */
function needsEngine(request: FastifyRequest): boolean {
  const route = request.routeOptions.url ?? '';
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return route.startsWith('/api/v1/containers/:engine/');
  return route === '/api/v1/containers/:engine/:id/logs';
}
