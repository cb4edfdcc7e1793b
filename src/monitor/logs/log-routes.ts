import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.js';
import { HEARTBEAT_MS, openEvents } from '../api/event-stream.js';
import { badQuery, boolParam, notFound, single, timeParam } from '../api/request-params.js';
import { requireRole } from '../auth/principal.js';
import type { LogsConfig } from '../config/monitor-config.js';
import type { LiveState } from '../state/live-state.js';
import { compileQuery, type LogQuery } from './log-query.js';
import {
  type LineKey,
  type LogPage,
  type LogSearch,
  type LogStore,
  type LogStream,
  parseKey,
  type SourceRow,
  type StoredLine,
  sourceMatches,
} from './log-store.js';

/** What the log routes read. */
export interface LogRoutesContext {
  readonly logs: LogStore | undefined;
  readonly config: LogsConfig;
  readonly state: LiveState;
  readonly now: Clock;
}

type Query = Record<string, string | string[] | undefined>;

const DEFAULT_LIMIT = 200;
const MAX_LIMIT = 5_000;
/** Candidates one page looks at, at most, when the index cannot narrow (a /regex/, exclusions). */
const SCAN_BOUND = 200_000;
/** A follower this far behind (bytes queued in its socket) is cut; it resumes with Last-Event-ID. */
const MAX_BUFFERED = 4 * 1024 * 1024;
const CURSOR = /^\d{1,16}-\d{1,10}$/;

/** A search as the query string asks it, with the sources its filters name. */
interface Asked {
  readonly search: LogSearch;
  /** The filters, to test lines of sources that appear later (follow). */
  readonly filter: (source: SourceRow) => boolean;
}

/**
 * `GET /api/v1/logs` (search, page, follow, export), `/api/v1/logs/context`, `/api/v1/logs/sources`
 * — the contract of docs/logs.md. Viewers may search unless `logs.role` says otherwise.
 */
export async function registerLogRoutes(app: FastifyInstance, ctx: LogRoutesContext): Promise<void> {
  const store = (request: FastifyRequest): LogStore => {
    requireRole(request.principal, ctx.config.role, 'the logs');
    if (ctx.logs === undefined) throw notFound('log collection is off (logs.collect: false)');
    return ctx.logs;
  };

  app.get('/api/v1/logs', async (request, reply) => {
    const logs = store(request);
    const q = request.query as Query;
    const started = performance.now();
    const asked = parseSearch(q, logs, ctx);
    const format = single(q, 'format');
    if (format !== undefined && format !== 'ndjson' && format !== 'text')
      throw badQuery('format: ndjson or text');
    if (boolParam(q, 'follow', false)) {
      if (format !== undefined) throw badQuery('follow: not with format');
      const header = request.headers['last-event-id'];
      const last = (Array.isArray(header) ? header[0] : header) ?? single(q, 'lastEventId');
      if (last !== undefined && !CURSOR.test(last)) throw badQuery('Last-Event-ID: a cursor');
      reply.hijack();
      follow(reply.raw, logs, asked, last === undefined ? undefined : parseKey(last));
      return reply;
    }
    if (format !== undefined) {
      reply.hijack();
      await exportAll(reply.raw, logs, asked.search, format);
      return reply;
    }
    const page: LogPage = logs.search(asked.search);
    return {
      lines: page.lines,
      next: page.next,
      took_ms: Math.round((performance.now() - started) * 10) / 10,
      ...(page.truncated ? { truncated: true } : {}),
    };
  });

  app.get('/api/v1/logs/context', async (request) => {
    const logs = store(request);
    const q = request.query as Query;
    const cursor = single(q, 'cursor');
    if (cursor === undefined || !CURSOR.test(cursor)) throw badQuery('cursor: a line cursor from a search');
    const linesText = single(q, 'lines') ?? '20';
    if (!/^\d{1,4}$/.test(linesText) || Number(linesText) > 1000) throw badQuery('lines: 0 to 1000');
    const found = logs.context(parseKey(cursor) as LineKey, Number(linesText));
    if (found === undefined) throw notFound(`no line at cursor ${cursor} (gone with retention?)`);
    return found;
  });

  /** Per container incarnation: what is kept, and why a container's log is not collected. */
  app.get('/api/v1/logs/sources', async (request) => {
    const logs = store(request);
    const q = request.query as Query;
    return logs.findSources({ engine: single(q, 'engine'), container: single(q, 'container') }).map((s) => ({
      engine: s.engine,
      id: s.container,
      name: s.name,
      project: s.project,
      service: s.service,
      image: s.image,
      lines: s.lines,
      bytes: s.bytes,
      dropped: s.dropped,
      gaps: s.gaps,
      collected: s.note === null,
      ...(s.note === null ? {} : { note: s.note }),
    }));
  });
}

function parseSearch(q: Query, logs: LogStore, ctx: LogRoutesContext): Asked {
  const query: LogQuery = compileQuery(single(q, 'q'));
  const engine = single(q, 'engine');
  const container = single(q, 'container');
  const project = single(q, 'project');
  const service = single(q, 'service');
  if (
    engine !== undefined &&
    ctx.state.engine(engine) === undefined &&
    logs.findSources({ engine }).length === 0
  )
    throw notFound(`no engine named ${engine}`);
  const stream = single(q, 'stream');
  if (stream !== undefined && !['stdout', 'stderr', 'dockgate'].includes(stream))
    throw badQuery('stream: stdout, stderr or dockgate');
  const limitText = single(q, 'limit') ?? String(DEFAULT_LIMIT);
  if (!/^\d{1,5}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT)
    throw badQuery(`limit: 1 to ${MAX_LIMIT}`);
  const order = single(q, 'order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw badQuery('order: asc or desc');
  const before = cursorParam(q, 'before');
  const after = cursorParam(q, 'after');
  const now = ctx.now();
  const sinceText = single(q, 'since');
  const untilText = single(q, 'until');
  const sinceMs = sinceText === undefined ? undefined : timeParam(sinceText, 'since', now);
  const untilMs = untilText === undefined ? undefined : timeParam(untilText, 'until', now);
  const sources = { engine, container, project, service };
  const filtered = Object.values(sources).some((v) => v !== undefined);
  return {
    search: {
      query,
      sources: filtered ? logs.findSources(sources).map((s) => s.id) : undefined,
      stream: stream as LogStream | undefined,
      sinceMs,
      untilMs,
      order,
      before,
      after,
      limit: Number(limitText),
      scanBound: SCAN_BOUND,
    },
    filter: (s) => sourceMatches(s, sources),
  };
}

function cursorParam(q: Query, name: string): LineKey | undefined {
  const text = single(q, name);
  if (text === undefined) return undefined;
  const key = parseKey(text);
  if (key === undefined) throw badQuery(`${name}: a cursor (a search's next, or a line's cursor)`);
  return key;
}

/** Every match, oldest first unless asked otherwise, written as the socket takes it. */
async function exportAll(
  res: ServerResponse,
  logs: LogStore,
  search: LogSearch,
  format: 'ndjson' | 'text',
): Promise<void> {
  res.writeHead(200, {
    'Content-Type': format === 'ndjson' ? 'application/x-ndjson; charset=utf-8' : 'text/plain; charset=utf-8',
    'Content-Disposition': `attachment; filename="logs.${format === 'ndjson' ? 'ndjson' : 'txt'}"`,
    'Cache-Control': 'no-store',
  });
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  let cursor = search.order === 'desc' ? search.before : search.after;
  for (;;) {
    const page = logs.search({
      ...search,
      limit: 1000,
      ...(search.order === 'desc' ? { before: cursor } : { after: cursor }),
    });
    let text = '';
    for (const line of page.lines)
      text +=
        format === 'ndjson'
          ? `${JSON.stringify(line)}\n`
          : `${line.time} ${line.name} ${line.stream} ${line.text}\n`;
    if (closed) return;
    if (text !== '' && !res.write(text)) await new Promise((r) => res.once('drain', r));
    if (page.next === null || closed) break;
    cursor = parseKey(page.next);
    // Let other requests in between pages: an export of millions of lines is not one long task.
    await new Promise((r) => setImmediate(r));
  }
  res.end();
}

/**
 * Live grep across the fleet: lines stored from now on that match, as server-sent events whose
 * id is the line's cursor; `Last-Event-ID` first sends what matched after it (up to 5 000 lines).
 */
function follow(res: ServerResponse, logs: LogStore, asked: Asked, last: LineKey | undefined): void {
  openEvents(res, 'dockgate logs follow');
  const send = (line: StoredLine): void => {
    res.write(`id: ${line.cursor}\nevent: line\ndata: ${JSON.stringify(line)}\n\n`);
  };
  const { search } = asked;
  // What the resume sent from the store (a line stored meanwhile also comes live): sent once.
  const replayed = new Set<string>();
  if (last !== undefined) {
    const page = logs.search({ ...search, order: 'asc', after: last, before: undefined, limit: MAX_LIMIT });
    for (const line of page.lines) {
      send(line);
      replayed.add(line.cursor);
    }
  }
  const stream = search.stream;
  const unsubscribe = logs.onLines((lines) => {
    if (res.writableLength > MAX_BUFFERED) {
      res.destroy(); // it reconnects with Last-Event-ID and resumes from the store
      return;
    }
    for (const { source, line } of lines) {
      if (replayed.has(line.cursor)) continue;
      if (stream !== undefined && line.stream !== stream) continue;
      if (!asked.filter(source)) continue;
      if (!search.query.all && !search.query.test(line.text)) continue;
      send(line);
    }
  });
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const end = (): void => {
    clearInterval(heartbeat);
    unsubscribe();
  };
  res.on('close', end);
  res.on('error', end);
}
