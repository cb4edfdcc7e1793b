import type { FastifyInstance, FastifyRequest } from 'fastify';
import { request as send } from 'undici';
import { type RawData, WebSocket as WebSocketClient } from 'ws';
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
    return route.startsWith('/api/v1/containers/:engine/') || route.startsWith('/api/v1/engines/:engine/');
  // The live tail, and the host as its owner reads it (the latest reading is in that one's memory).
  return (
    route === '/api/v1/containers/:engine/:id/logs' ||
    route === '/api/v1/engines/:engine/host' ||
    route === '/api/v1/engines/:engine/disk'
  );
}

/**
 * A terminal (a WebSocket) asked of this monitor for an engine another one watches: this monitor
 * has checked who is calling (role, and for a signed-in browser its CSRF token and Origin); the
 * owner is asked with the caller's own credentials and its Origin — the owner checks them again —
 * and the frames are relayed both ways as they come (binary stays binary) until either side
 * closes. Frames the browser sends before the owner answers are held, in order.
 */
export function relayTerminal(
  client: WebSocketClient,
  request: FastifyRequest,
  owner: { id: string; listen: string },
  self: string,
): void {
  const headers: Record<string, string> = { [FORWARDED]: self, origin: new URL(owner.listen).origin };
  for (const name of ['authorization', 'cookie'] as const) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const upstream = new WebSocketClient(`${owner.listen.replace(/^http/, 'ws')}${request.url}`, { headers });
  const held: { data: RawData; binary: boolean }[] = [];
  client.on('message', (data: RawData, binary: boolean) => {
    if (upstream.readyState === upstream.OPEN) upstream.send(data, { binary });
    else held.push({ data, binary });
  });
  upstream.on('open', () => {
    for (const { data, binary } of held.splice(0)) upstream.send(data, { binary });
  });
  upstream.on('message', (data: RawData, binary: boolean) => {
    if (client.readyState === client.OPEN) client.send(data, { binary });
  });
  const closeCode = (code: number): number =>
    code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1011;
  upstream.on('close', (code, reason) => {
    if (client.readyState === client.OPEN) client.close(closeCode(code), reason.toString().slice(0, 120));
  });
  upstream.on('error', (error) => {
    if (client.readyState !== client.OPEN) return;
    client.send(
      JSON.stringify({
        type: 'error',
        message: `the monitor watching this engine (${owner.id}): ${error.message}`,
      }),
    );
    client.close(1011, 'owner unreachable');
  });
  client.on('close', () => upstream.terminate());
}
