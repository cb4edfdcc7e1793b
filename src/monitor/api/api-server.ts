import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as zlibConstants } from 'node:zlib';
import { Negotiator } from '@fastify/accept-negotiator';
import compress from '@fastify/compress';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { Clock } from '../../clock.js';
import { DockgateError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { ACTIONS, type Action, runAction } from '../actions/container-actions.js';
import { logLines } from '../actions/container-logs.js';
import type { AlertEngine } from '../alerts/alert-engine.js';
import type { AlertStore } from '../alerts/alert-store.js';
import { LoginLimiter } from '../auth/login-limiter.js';
import type { MonitorTokens } from '../auth/monitor-tokens.js';
import type { MonitorUsers } from '../auth/monitor-users.js';
import {
  bearerAuthenticator,
  type Principal,
  rankOf,
  requireRole,
  resolvePrincipal,
} from '../auth/principal.js';
import {
  SESSION_COOKIE,
  SESSION_MAX_MS,
  type Sessions,
  sessionAuthenticator,
  sessionCookie,
} from '../auth/sessions.js';
import type { ClusterView } from '../cluster/cluster.js';
import { type Instance, registerClusterRoutes } from '../cluster/cluster-routes.js';
import { forwardToOwner, type OwnerOf } from '../cluster/owner-forward.js';
import type { ListenConfig, LogsConfig, Role } from '../config/monitor-config.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import { registerHostRoutes } from '../hosts/host-routes.js';
import type { Hosts } from '../hosts/hosts.js';
import { registerLogRoutes } from '../logs/log-routes.js';
import type { LogStore } from '../logs/log-store.js';
import type { LiveState } from '../state/live-state.js';
import type { History } from '../store/history.js';
import {
  bearerOf,
  registerTerminalRoutes,
  registerWebSockets,
  type TerminalContext,
} from '../terminal/terminal-routes.js';
import type { UpdateChecker } from '../updates/update-checker.js';
import { registerUpdateRoutes } from '../updates/update-routes.js';
import type { Updater } from '../updates/update-runner.js';
import { type EventStream, HEARTBEAT_MS, openEvents } from './event-stream.js';
import {
  asAnswer,
  badQuery,
  boolParam,
  defaultStep,
  durationParam,
  engineOf,
  liveContainer,
  many,
  notFound,
  resolveContainer,
  sameSite,
  single,
  timeParam,
} from './request-params.js';

/** The encodings built beside each asset (scripts/build-web.ts), best first. */
const ASSET_ENCODINGS = new Negotiator({ supportedValues: ['br', 'gzip'] });
const ASSET_SUFFIX = { br: '.br', gzip: '.gz' } as const;

/** What the API reads and drives; the monitor (monitor.ts) owns them. */
export interface ApiContext {
  readonly state: LiveState;
  readonly history: History;
  readonly stream: EventStream;
  readonly metrics: Registry;
  readonly tokens: MonitorTokens;
  readonly log: Logger;
  readonly watcher: (engine: string) => EngineWatcher | undefined;
  readonly anonymousRole: () => Role | 'none';
  /** Re-reads the engine list (admin). */
  readonly reload: () => void;
  readonly alerts: AlertEngine;
  readonly alertStore: AlertStore;
  /** The dashboard's users and their browser sessions. */
  readonly users: MonitorUsers;
  readonly sessions: Sessions;
  /** The monitor's clock: ranges such as `since=1h` count back from it. */
  readonly now: Clock;
  /** Terminal sessions: their store, the config, those open now. */
  readonly terminals: TerminalContext;
  /** Every container's kept log; undefined when collection is off. */
  readonly logs: LogStore | undefined;
  readonly logsConfig: LogsConfig;
  /** Outdated images (docs/updates.md). */
  readonly updates: UpdateChecker;
  /** Updates: pull, recreate, gate, rollback. */
  readonly updater: Updater;
  /** This monitor process (`GET /api/v1/cluster`). */
  readonly instance: Instance;
  /** Several monitors: the leases and instances as the store has them (undefined: SQLite). */
  readonly cluster: () => Promise<ClusterView> | undefined;
  /** Several monitors: the one that watches an engine this one does not. */
  readonly ownerOf: OwnerOf;
  /** The URL it listens on, once it does. */
  readonly url: () => string;
  /** Each watched engine's host: samples, disk use, cleanups (docs/hosts.md). */
  readonly hosts: Hosts;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

/**
 * The monitor's HTTP API (docs/monitor.md): JSON, versioned under /api/v1, errors as
 * `{ "message": … }` with the right status. fastify: routing, query parsing and TLS from a
 * maintained server framework; the stream and logs take over the raw response.
 */
export async function buildApi(ctx: ApiContext, listen: ListenConfig): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    ...(listen.tls === undefined ? {} : { https: { cert: listen.tls.cert, key: listen.tls.key } }),
    // Long-lived streams are closed by the monitor on shutdown, not cut by a timer; on close
    // every connection goes at once (a stream or a keep-alive would otherwise hold it for 72 s).
    requestTimeout: 0,
    forceCloseConnections: true,
    bodyLimit: 64 * 1024,
  }) as unknown as FastifyInstance;
  // JSON answers above 4 KB (a fleet's container list, /metrics) compressed for the browser and
  // Prometheus (@fastify/compress: negotiation, Vary, streams). Brotli at quality 4: per answer,
  // quality 11 costs a hundred times the CPU for a few percent. The event stream and the logs
  // take over the raw response and are never compressed: no heartbeat waits in a compressor.
  // Awaited: its onRoute hook must see every route declared below.
  await app.register(compress, {
    global: true,
    threshold: 4096,
    encodings: ['br', 'gzip'],
    brotliOptions: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } },
    globalDecompression: false,
  });
  await registerWebSockets(app);
  // A request with a token is an API client's: the token decides, not a cookie beside it.
  const authenticators = [bearerAuthenticator(ctx.tokens), sessionAuthenticator(ctx.sessions)];
  const limiter = new LoginLimiter(ctx.now);
  const secure = listen.tls !== undefined;

  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request) => {
    // A WebSocket from a browser carries no header of its own: the exec route takes the token
    // from ?access_token= too (never logged: the monitor logs no URLs).
    const queryToken = request.headers.authorization === undefined ? bearerOf(request) : undefined;
    request.principal = await resolvePrincipal(authenticators, ctx.anonymousRole(), {
      authorization: queryToken === undefined ? request.headers.authorization : `Bearer ${queryToken}`,
      cookie: request.headers.cookie,
      method: request.method,
      csrf: request.headers['x-csrf-token'],
      csrfExempt: request.method === 'POST' && request.routeOptions.url === '/api/v1/session',
    });
    refuseCrossSite(request);
  });
  // Several monitors: what needs an engine another monitor watches is answered by that one.
  forwardToOwner(app, {
    watches: (engine) => ctx.watcher(engine) !== undefined,
    known: (engine) => ctx.state.engine(engine) !== undefined,
    ownerOf: ctx.ownerOf,
    self: ctx.instance.id,
  });
  app.setErrorHandler((error, _request, reply) => {
    const { status, message } = asAnswer(error);
    const retryAfter = (error as { retryAfter?: number }).retryAfter;
    if (retryAfter !== undefined) void reply.header('Retry-After', String(retryAfter));
    if (status >= 500) ctx.log.warn({ err: (error as Error).message }, 'api error');
    void reply.status(status).send({ message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ message: `no such route: ${request.method} ${request.url.split('?')[0]}` });
  });

  await registerTerminalRoutes(app, ctx, ctx.terminals);
  await registerLogRoutes(app, { logs: ctx.logs, config: ctx.logsConfig, state: ctx.state, now: ctx.now });
  await registerUpdateRoutes(app, ctx, ctx.updates, ctx.updater);
  await registerClusterRoutes(app, ctx.instance, ctx.state, ctx.url, ctx.cluster);
  await registerHostRoutes(app, ctx);

  const viewer = (request: FastifyRequest, what: string): void =>
    requireRole(request.principal, 'viewer', what);

  const web = dashboardFiles();
  // The dashboard: index.html never cached (it names the current bundle), assets cached for good
  // (their names carry a hash of their content). No CDN, nothing fetched from elsewhere. The
  // document holds no data (that comes from the API, by role), so it is served to anyone: a
  // caller with no role sees the sign-in form.
  const index = web === undefined ? undefined : readFileSync(join(web, 'index.html'));
  for (const page of [
    '/',
    '/login',
    '/containers/:engine/:id',
    '/alerts',
    '/engines',
    '/engines/:engine',
    '/terminals',
    '/logs',
  ]) {
    app.get(page, async (_request, reply) => {
      if (index === undefined)
        return reply.status(503).send({ message: 'the dashboard is not built: npm run build' });
      return reply
        .header('Cache-Control', 'no-cache')
        .header('Content-Security-Policy', CSP)
        .header('X-Frame-Options', 'DENY')
        .header('Referrer-Policy', 'same-origin')
        .type('text/html; charset=utf-8')
        .send(index);
    });
  }

  /** Who the caller is, and so what the dashboard shows them (actions only to operators). */
  app.get('/api/v1/me', async (request) => ({
    name: request.principal.name,
    role: request.principal.role,
    via: request.principal.via,
    ...(request.principal.csrf === undefined ? {} : { csrf: request.principal.csrf }),
    signIn: await ctx.users.any(),
    // Whether the dashboard shows the Terminal tab and the recorded sessions.
    terminal:
      ctx.terminals.config.role !== 'none' &&
      rankOf(request.principal.role) >= rankOf(ctx.terminals.config.role),
    // Whether the dashboard shows the Logs page (the kept logs, searchable).
    logs: ctx.logs !== undefined && rankOf(request.principal.role) >= rankOf(ctx.logsConfig.role),
  }));

  // Browser sign-in (docs/monitor.md#sign-in): a JSON body only (a cross-site form cannot send
  // one without a preflight), limited per address and per name, the cookie HttpOnly and
  // SameSite=Strict (Secure on https).
  app.post('/api/v1/session', async (request, reply) => {
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? ''))
      throw badQuery('sign in with a JSON body: {"name": …, "password": …}');
    const body = request.body as { name?: unknown; password?: unknown } | null;
    if (
      body === null ||
      typeof body !== 'object' ||
      typeof body.name !== 'string' ||
      typeof body.password !== 'string' ||
      body.name.length > 63
    )
      throw badQuery('sign in with a JSON body: {"name": …, "password": …}');
    const wait = limiter.retryAfter(request.ip, body.name);
    if (wait > 0)
      throw Object.assign(
        new DockgateError('DG_RATE_LIMITED', `too many failed sign-ins; try again in ${wait} s`),
        { retryAfter: wait },
      );
    const user = await ctx.users.check(body.name, body.password);
    if (user === undefined) {
      limiter.failed(request.ip, body.name);
      ctx.log.warn({ user: body.name, from: request.ip }, 'sign-in failed');
      throw new DockgateError('DG_SIGN_IN_FAILED', 'wrong user name or password');
    }
    limiter.succeeded(request.ip, body.name);
    const old = sessionCookie(request.headers.cookie);
    if (old !== undefined) await ctx.sessions.end(old);
    const session = await ctx.sessions.create(user.name);
    ctx.log.info({ user: user.name, from: request.ip }, 'signed in');
    return reply
      .header('Set-Cookie', cookie(session.id, SESSION_MAX_MS / 1000, secure))
      .send({ name: user.name, role: user.role, via: 'session', csrf: session.csrf });
  });

  app.delete('/api/v1/session', async (request, reply) => {
    const id = sessionCookie(request.headers.cookie);
    if (id !== undefined && request.principal.via === 'session') await ctx.sessions.end(id);
    return reply.header('Set-Cookie', cookie('', 0, secure)).send({ ok: true });
  });

  // Assets are compressed once, at build (brotli 11 and gzip 9 beside each hashed file): the
  // best one the browser accepts is sent as it is.
  app.get('/assets/:file', { compress: false }, async (request, reply) => {
    const { file } = request.params as { file: string };
    if (web === undefined || !/^[\w.-]+\.(js|css)$/.test(file)) throw notFound(`no asset ${file}`);
    const encoding = ASSET_ENCODINGS.negotiate(String(request.headers['accept-encoding'] ?? ''));
    let body: Buffer;
    try {
      body = readFileSync(join(web, 'assets', `${file}${encoding === null ? '' : ASSET_SUFFIX[encoding]}`));
    } catch {
      throw notFound(`no asset ${file}`);
    }
    if (encoding !== null) reply.header('Content-Encoding', encoding);
    return reply
      .header('Cache-Control', 'public, max-age=31536000, immutable')
      .header('Vary', 'Accept-Encoding')
      .type(file.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8')
      .send(body);
  });

  app.get('/healthz', async (_request, reply) => {
    const history = ctx.history.status();
    const logs = ctx.logs?.status();
    const engines = ctx.state
      .engines()
      .map((e) => ({ name: e.name, status: e.status, ...(e.error === undefined ? {} : { error: e.error }) }));
    const ok = history.ok && logs?.ok !== false;
    const body = {
      status: ok ? 'ok' : 'degraded',
      history: history.ok
        ? { writing: true, pending: history.pending, dropped: history.dropped, fenced: history.fenced }
        : {
            writing: false,
            error: `history is not being written: ${history.error}`,
            pending: history.pending,
            dropped: history.dropped,
            fenced: history.fenced,
          },
      ...(logs === undefined
        ? {}
        : {
            logs: logs.ok
              ? { writing: true, pending: logs.pending, bytes: logs.bytes }
              : {
                  writing: false,
                  error: `logs are not being written (collection waits; the live tail goes on): ${logs.error}`,
                  pending: logs.pending,
                  bytes: logs.bytes,
                },
          }),
      engines,
    };
    return reply.status(ok ? 200 : 503).send(body);
  });

  app.get('/metrics', async (request, reply) => {
    viewer(request, 'metrics');
    return reply.header('Content-Type', ctx.metrics.contentType).send(await ctx.metrics.metrics());
  });

  app.get('/api/v1/engines', async (request) => {
    viewer(request, 'the engine list');
    return ctx.state.engines();
  });

  app.get('/api/v1/containers', async (request) => {
    viewer(request, 'the container list');
    const q = request.query as Record<string, string | string[] | undefined>;
    const engine = single(q, 'engine');
    if (engine !== undefined && ctx.state.engine(engine) === undefined)
      throw notFound(`no engine named ${engine}`);
    const state = single(q, 'state');
    if (state !== undefined && !STATES.has(state))
      throw badQuery(`state: must be one of ${[...STATES].join(', ')}`);
    const labels = many(q, 'label');
    for (const label of labels)
      if (label === '' || label.startsWith('=')) throw badQuery('label: must be key=value or key');
    return ctx.state.containers({ engine, state, labels, q: single(q, 'q') });
  });

  app.get('/api/v1/containers/:engine/:id', async (request) => {
    viewer(request, 'a container');
    const item = await resolveContainer(ctx, request);
    return { ...item, timeline: await ctx.history.timeline(item.engine, item.id) };
  });

  app.get('/api/v1/containers/:engine/:id/stats', async (request) => {
    viewer(request, 'stats');
    const item = await resolveContainer(ctx, request);
    const q = request.query as Record<string, string | string[] | undefined>;
    const sinceText = single(q, 'since');
    const stepText = single(q, 'step');
    const now = ctx.now();
    // No range asked: one that fits the container — 15 min while it is younger than that, else 1 h.
    const age = item.startedAt === null ? Number.POSITIVE_INFINITY : now - Date.parse(item.startedAt);
    const fallback = age < 15 * 60_000 ? 15 * 60_000 : 3_600_000;
    const since = sinceText === undefined ? now - fallback : timeParam(sinceText, 'since', now);
    const step = stepText === undefined ? defaultStep(now - since) : durationParam(stepText, 'step');
    if (step < 1000) throw badQuery('step: at least 1s');
    if ((now - since) / step > 10_000) throw badQuery('step: more than 10000 points; use a larger step');
    return { points: await ctx.history.stats(item.engine, item.id, since, step) };
  });

  app.get('/api/v1/containers/:engine/:id/logs', async (request, reply) => {
    // The engine's live tail: operator's, or `logs.role` when that is higher (one knob raises both).
    requireRole(
      request.principal,
      rankOf(ctx.logsConfig.role) > rankOf('operator') ? ctx.logsConfig.role : 'operator',
      'logs',
    );
    const item = await resolveContainer(ctx, request);
    const watcher = engineOf(ctx, item.engine);
    const q = request.query as Record<string, string | string[] | undefined>;
    const tailText = single(q, 'tail') ?? '100';
    if (tailText !== 'all' && !/^\d{1,6}$/.test(tailText)) throw badQuery('tail: a number of lines or "all"');
    const follow = boolParam(q, 'follow', false);
    const stdout = boolParam(q, 'stdout', true);
    const stderr = boolParam(q, 'stderr', true);
    const sinceText = single(q, 'since');
    const since =
      sinceText === undefined ? undefined : Math.floor(timeParam(sinceText, 'since', ctx.now()) / 1000);
    const controller = new AbortController();
    const lines = logLines(watcher.client, item.id, {
      tail: tailText === 'all' ? 'all' : Number(tailText),
      follow,
      stdout,
      stderr,
      since,
      signal: controller.signal,
    });
    if (!follow) {
      const out = [];
      for await (const line of lines) out.push(line);
      return reply.send({ lines: out });
    }
    // follow: server-sent events, one `log` event per line, until the client goes or the log ends.
    reply.hijack();
    const res = reply.raw;
    openEvents(res, 'logs');
    res.on('close', () => controller.abort());
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    try {
      for await (const line of lines) {
        if (!res.write(`event: log\ndata: ${JSON.stringify(line)}\n\n`))
          await new Promise((r) => res.once('drain', r));
      }
      res.write('event: end\ndata: {}\n\n');
    } catch (error) {
      if (!controller.signal.aborted)
        res.write(`event: error\ndata: ${JSON.stringify({ message: (error as Error).message })}\n\n`);
    } finally {
      clearInterval(heartbeat);
      res.end();
    }
    return reply;
  });

  app.post('/api/v1/containers/:engine/:id/:action', async (request) => {
    const { action } = request.params as { action: string };
    if (!(ACTIONS as readonly string[]).includes(action) || action === 'remove') {
      throw notFound(
        `no such action: ${action} (start, stop, restart, kill, pause, unpause; DELETE removes)`,
      );
    }
    requireRole(request.principal, 'operator', `${action}`);
    return act(ctx, request, action as Action);
  });

  app.delete('/api/v1/containers/:engine/:id', async (request) => {
    requireRole(request.principal, 'operator', 'remove');
    return act(ctx, request, 'remove');
  });

  app.get('/api/v1/stream', async (request, reply) => {
    viewer(request, 'the stream');
    const q = request.query as Record<string, string | string[] | undefined>;
    const header = request.headers['last-event-id'];
    const lastEventId = (Array.isArray(header) ? header[0] : header) ?? single(q, 'lastEventId');
    const snapshot = boolParam(q, 'snapshot', false);
    reply.hijack();
    ctx.stream.attach(reply.raw, lastEventId, () =>
      lastEventId === undefined && !snapshot
        ? []
        : [
            ...ctx.state.engines().map((e) => ['engine', e] as [string, unknown]),
            ...ctx.state.containers().map((c) => ['container', c] as [string, unknown]),
          ],
    );
    return reply;
  });

  app.get('/api/v1/alerts', async (request) => {
    viewer(request, 'alerts');
    const q = request.query as Record<string, string | string[] | undefined>;
    const state = single(q, 'state');
    if (state !== undefined && state !== 'open' && state !== 'resolved')
      throw badQuery('state: open or resolved');
    const engine = single(q, 'engine');
    if (engine !== undefined && ctx.state.engine(engine) === undefined)
      throw notFound(`no engine named ${engine}`);
    return ctx.alertStore.list({ state, engine, container: single(q, 'container') });
  });

  app.get('/api/v1/alerts/:id', async (request) => {
    viewer(request, 'an alert');
    const { id } = request.params as { id: string };
    const alert = await ctx.alertStore.get(id);
    if (alert === undefined) throw notFound(`no alert ${id}`);
    return { ...alert, deliveries: await ctx.alertStore.deliveries(id) };
  });

  app.post('/api/v1/alerts/:id/ack', async (request) => {
    requireRole(request.principal, 'operator', 'acknowledging an alert');
    const { id } = request.params as { id: string };
    if ((await ctx.alertStore.get(id)) === undefined) throw notFound(`no alert ${id}`);
    ctx.log.info({ alert: id, by: request.principal.name }, 'alert acknowledged');
    return ctx.alerts.acknowledge(id);
  });

  app.get('/api/v1/tokens', async (request) => {
    requireRole(request.principal, 'admin', 'the token list');
    return ctx.tokens.list();
  });

  app.post('/api/v1/reload', async (request) => {
    requireRole(request.principal, 'admin', 'reloading the engine list');
    ctx.reload();
    return { ok: true };
  });

  return app;
}

/** Everything from the monitor itself; nothing inline but the styles uPlot sets on its nodes. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

const STATES = new Set(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

async function act(ctx: ApiContext, request: FastifyRequest, action: Action): Promise<unknown> {
  const item = liveContainer(ctx, request);
  const watcher = engineOf(ctx, item.engine);
  const q = request.query as Record<string, string | string[] | undefined>;
  const t = single(q, 't');
  if (t !== undefined && !/^\d{1,5}$/.test(t)) throw badQuery('t: seconds, a whole number');
  const signal = single(q, 'signal');
  if (signal !== undefined && !/^(SIG)?[A-Z0-9+-]{1,12}$|^\d{1,2}$/.test(signal))
    throw badQuery('signal: a signal name or number');
  return runAction(
    watcher,
    ctx.history,
    ctx.log,
    item,
    action,
    {
      t: t === undefined ? undefined : Number(t),
      signal,
      force: boolParam(q, 'force', false),
      volumes: boolParam(q, 'v', false),
    },
    request.principal,
  );
}

/**
 * A change (or a WebSocket) that a browser sends from another site is refused, whoever it would
 * be made as. A token cannot ride along cross-site, and a session's changes need its CSRF token;
 * but a monitor whose anonymous role acts (`--anonymous-role operator` on loopback) would restart a
 * container for any page the user opens: a plain form POST, or a WebSocket (no CORS), carries no
 * credential at all. Browsers name the page's origin in `Origin`; other clients send none.
 */
function refuseCrossSite(request: FastifyRequest): void {
  if (request.principal.via === 'token') return;
  const upgrade = String(request.headers.upgrade ?? '').toLowerCase() === 'websocket';
  if (!upgrade && ['GET', 'HEAD', 'OPTIONS'].includes(request.method)) return;
  const origin = request.headers.origin;
  if (origin !== undefined && !sameSite(request))
    throw new DockgateError('DG_CSRF', `a request from another site (Origin: ${origin}) is refused`);
}

export type { FastifyReply };

/**
 * Where the built dashboard is: dist/web beside the compiled monitor, or — when the monitor runs
 * from its sources (tsx) — the repository's dist/web. Undefined until `npm run build`.
 */
function dashboardFiles(): string | undefined {
  for (const candidate of ['../../web/', '../../../dist/web/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (
      existsSync(join(dir, 'index.html')) &&
      !readFileSync(join(dir, 'index.html'), 'utf8').includes('__JS__')
    )
      return dir;
  }
  return undefined;
}
