import type { FastifyRequest } from 'fastify';
import { EngineError } from '../../client/errors.js';
import { DockgateError, isDockgateError } from '../../errors.js';
import { parseDuration } from '../config/duration.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import type { ContainerItem } from '../model/container.js';
import type { ApiContext } from './api-server.js';

/** What the API's routes read from a request: the container it names, query parameters, errors. */

/** `{engine}/{id}`: a full id, a unique prefix or a name, of a container the engine has now. */
export function liveContainer(ctx: ApiContext, request: FastifyRequest): ContainerItem {
  const found = findLive(ctx, request);
  if (found !== undefined) return found;
  const { engine, id } = request.params as { engine: string; id: string };
  throw notFound(`no container ${id} on engine ${engine}`);
}

/** `{engine}/{id}`: a full id, a unique prefix or a name; removed containers from the history. */
export async function resolveContainer(ctx: ApiContext, request: FastifyRequest): Promise<ContainerItem> {
  const live = findLive(ctx, request);
  if (live !== undefined) return live;
  const { engine, id } = request.params as { engine: string; id: string };
  const stored = await ctx.history.findContainer(engine, id);
  if (stored === 'ambiguous') throw badQuery(`id: ${id} matches more than one container`);
  if (stored !== undefined) return stored;
  throw notFound(`no container ${id} on engine ${engine}`);
}

function findLive(ctx: ApiContext, request: FastifyRequest): ContainerItem | undefined {
  const { engine, id } = request.params as { engine: string; id: string };
  if (ctx.state.engine(engine) === undefined) throw notFound(`no engine named ${engine}`);
  const live = ctx.state.resolve(engine, id);
  if (live === 'ambiguous') throw badQuery(`id: ${id} matches more than one container`);
  return live;
}

export function engineOf(ctx: ApiContext, engine: string): EngineWatcher {
  const watcher = ctx.watcher(engine);
  if (watcher !== undefined) return watcher;
  if (ctx.state.engine(engine) !== undefined)
    throw new DockgateError(
      'DG_ENGINE_ELSEWHERE',
      `engine ${engine} is watched by another monitor sharing the store (GET /api/v1/cluster names it): ask that one`,
    );
  throw notFound(`no engine named ${engine}`);
}

export function single(q: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw badQuery(`${name}: given more than once`);
  return v === '' ? undefined : v;
}

export function many(q: Record<string, string | string[] | undefined>, name: string): string[] {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export function boolParam(
  q: Record<string, string | string[] | undefined>,
  name: string,
  fallback: boolean,
): boolean {
  const v = single(q, name);
  if (v === undefined) return fallback;
  if (/^(1|true|yes)$/i.test(v)) return true;
  if (/^(0|false|no)$/i.test(v)) return false;
  throw badQuery(`${name}: true or false`);
}

/** An ISO time, Unix seconds, or a duration back from now ("1h"). */
export function timeParam(text: string, name: string, now: number): number {
  if (/^\d{9,11}(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const iso = Date.parse(text);
  if (/^\d{4}-\d\d-\d\d/.test(text) && !Number.isNaN(iso)) return iso;
  try {
    return now - parseDuration(text, name);
  } catch {
    throw badQuery(`${name}: an ISO 8601 time, Unix seconds, or a duration back from now (1h)`);
  }
}

export function durationParam(text: string, name: string): number {
  try {
    return parseDuration(text, name);
  } catch {
    throw badQuery(`${name}: a duration (10s, 1m, 1h)`);
  }
}

/** About 300 points over the range, on the tiers' boundaries. */
export function defaultStep(range: number): number {
  const step = range / 300;
  if (step <= 10_000) return 10_000;
  if (step <= 60_000) return 60_000;
  if (step <= 3_600_000) return Math.ceil(step / 60_000) * 60_000;
  return Math.ceil(step / 3_600_000) * 3_600_000;
}

export function badQuery(message: string): DockgateError {
  return new DockgateError('DG_BAD_QUERY', message);
}

export function notFound(message: string): DockgateError {
  return new DockgateError('DG_NOT_FOUND', message);
}
/** The request's `Origin` names this very host (the dashboard's own page). */
export function sameSite(request: FastifyRequest): boolean {
  try {
    return new URL(request.headers.origin ?? '').host === request.headers.host;
  } catch {
    return false;
  }
}

/** Status and message for any fault: ours by catalogue, the engine's with its own status. */
export function asAnswer(error: unknown): { status: number; message: string } {
  if (isDockgateError(error)) return { status: error.status ?? 500, message: error.message };
  if (error instanceof EngineError)
    return { status: error.status === 304 ? 409 : error.status, message: error.engineMessage };
  const fastify = error as { statusCode?: number; message?: string };
  if (typeof fastify.statusCode === 'number' && fastify.statusCode < 500)
    return { status: fastify.statusCode, message: fastify.message ?? 'bad request' };
  return { status: 502, message: `the engine could not be reached: ${(error as Error).message}` };
}
