import { createReadStream, existsSync } from 'node:fs';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RawData } from 'ws';
import { DockgateError } from '../../errors.js';
import type { ApiContext } from '../api/api-server.js';
import { badQuery, engineOf, liveContainer, notFound, sameSite, single } from '../api/request-params.js';
import { type Principal, rankOf, requireRole } from '../auth/principal.js';
import { sameText, sessionCookie } from '../auth/sessions.js';
import { relayTerminal } from '../cluster/owner-forward.js';
import type { TerminalConfig } from '../config/monitor-config.js';
import { shellWords } from './shell-words.js';
import { type TerminalRequest, TerminalSession } from './terminal-session.js';
import type { TerminalStore } from './terminal-store.js';

/** The exec route, whose upgrade may carry its token in the query (browsers set no headers on a WebSocket). */
export const TERMINAL_ROUTE = '/api/v1/containers/:engine/:id/exec';
/** Sessions one caller may hold open at once: a script gone wrong must not fill the engine with shells. */
export const MAX_SESSIONS_PER_CALLER = 8;

export interface TerminalContext {
  readonly store: TerminalStore;
  readonly config: TerminalConfig;
  /** Sessions open now, ended with the monitor. */
  readonly open: Set<TerminalSession>;
}

/**
 * The WebSocket plugin, registered before any hook of the API's own: its hooks must run first on
 * an upgrade (they mark the request as one, and close its socket when a later hook refuses it —
 * registered after a refusing hook, a refused upgrade's socket stayed open, and with it the
 * monitor's shutdown: `refused_upgrade_regression`).
 */
export async function registerWebSockets(app: FastifyInstance): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
}

/**
 * The terminal's routes (docs/terminal.md): the exec WebSocket, the list of recorded sessions and
 * their recordings. Who the caller is and what they may do is decided before the upgrade (401,
 * 403: nothing runs on the engine); what is wrong with the container is told after it.
 */
export async function registerTerminalRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  terminals: TerminalContext,
): Promise<void> {
  const role = terminals.config.role;

  app.get(
    TERMINAL_ROUTE,
    {
      websocket: true,
      // Refusals for who is calling come before the upgrade.
      preValidation: async (request) => {
        allowedToOpen(request, role);
        if (request.principal.via === 'session') sameSiteUpgrade(request);
        const mine = [...terminals.open].filter((s) => s.by === request.principal.name).length;
        if (mine >= MAX_SESSIONS_PER_CALLER)
          throw new DockgateError(
            'DG_RATE_LIMITED',
            `${request.principal.name} has ${mine} terminal sessions open (at most ${MAX_SESSIONS_PER_CALLER}): close one first`,
          );
      },
    },
    (socket, request) => {
      // Several monitors: an engine another one watches gets its terminal there, relayed.
      const { engine } = request.params as { engine: string };
      if (ctx.watcher(engine) === undefined && ctx.state.engine(engine) !== undefined) {
        // What the browser sends while the owner is looked up is kept, and handed on after.
        const early: [RawData, boolean][] = [];
        const hold = (data: RawData, binary: boolean): void => {
          early.push([data, binary]);
        };
        socket.on('message', hold);
        const then = (relay: { id: string; listen: string } | undefined): void => {
          socket.off('message', hold);
          if (relay !== undefined && request.headers['x-dockgate-forwarded-by'] === undefined)
            relayTerminal(socket, request, relay, ctx.instance.id);
          else opened(socket, request);
          for (const [data, binary] of early) socket.emit('message', data, binary);
        };
        void ctx.ownerOf(engine).then(then, () => then(undefined));
        return;
      }
      opened(socket, request);
    },
  );

  /** A session on an engine this monitor watches (or the refusal that says why not). */
  function opened(socket: import('ws').WebSocket, request: FastifyRequest): void {
    const session = startSession(ctx, terminals, request, socket);
    if (session === undefined) return;
    // Open until it has ended (run() returns once the shell runs): the monitor's stop ends
    // what is here, and the per-caller cap counts it.
    terminals.open.add(session);
    void session.ended.then(() => terminals.open.delete(session));
    void session.run();
  }

  app.get('/api/v1/terminals', async (request) => {
    requireRole(request.principal, 'admin', 'the terminal sessions');
    return terminals.store.list();
  });

  app.get('/api/v1/terminals/:session/cast', async (request, reply) => {
    requireRole(request.principal, 'admin', 'a terminal recording');
    const { session } = request.params as { session: string };
    const found = await terminals.store.find(session);
    const file = terminals.store.castFile(session);
    if (found === undefined || !existsSync(file))
      throw notFound(`no recording of terminal session ${session}`);
    return reply
      .header('Cache-Control', 'no-store')
      .type('application/x-asciicast')
      .send(createReadStream(file));
  });
}

/** The caller may open a terminal: the configured role (`none`: nobody). */
function allowedToOpen(request: FastifyRequest, role: TerminalConfig['role']): void {
  if (role === 'none')
    throw new DockgateError('DG_ROLE_FORBIDDEN', 'terminals are turned off (--terminal-role none)');
  requireRole(request.principal, role, 'a terminal');
}

/**
 * A signed-in browser's upgrade must say it comes from the dashboard: the session's CSRF token in
 * `?csrf=` and an `Origin` of this very host. A cookie rides along with any site's WebSocket:
 * without both, another page could open a shell in the user's name (cross-site WebSocket hijacking).
 */
function sameSiteUpgrade(request: FastifyRequest): void {
  const csrf = single(request.query as Record<string, string | string[] | undefined>, 'csrf');
  const expected = request.principal.csrf ?? '';
  if (csrf === undefined || !sameText(csrf, expected))
    throw new DockgateError('DG_CSRF', 'a signed-in terminal needs the csrf parameter the dashboard sends');
  // A foreign Origin is refused for everyone (api-server's cross-site rule); a cookie also needs one.
  if (!sameSite(request))
    throw new DockgateError(
      'DG_CSRF',
      `a signed-in terminal must be opened from the dashboard's own origin (Origin: ${request.headers.origin ?? 'none'})`,
    );
}

function startSession(
  ctx: ApiContext,
  terminals: TerminalContext,
  request: FastifyRequest,
  socket: import('ws').WebSocket,
): TerminalSession | undefined {
  let parsed: TerminalRequest;
  try {
    parsed = terminalRequest(ctx, request);
  } catch (error) {
    socket.send(JSON.stringify({ type: 'error', message: (error as Error).message }));
    socket.close(1011, 'bad request');
    return undefined;
  }
  const watcher = engineOf(ctx, parsed.engine);
  const principal = request.principal;
  const credential = credentialOf(request);
  const needed = terminals.config.role;
  return new TerminalSession(
    socket,
    parsed,
    {
      name: principal.name,
      via: principal.via,
      address: request.ip,
      stillAllowed: () => stillAllowed(ctx, principal, credential, needed),
    },
    {
      client: watcher.client,
      store: terminals.store,
      config: terminals.config,
      log: ctx.log,
      now: ctx.now,
      state: () => ctx.state.container(parsed.engine, parsed.container.id)?.state ?? 'removed',
      timeline: (entry) =>
        ctx.history.addTimeline(parsed.engine, parsed.container.id, ctx.now() * 1e6, entry, null),
    },
  );
}

function terminalRequest(ctx: ApiContext, request: FastifyRequest): TerminalRequest {
  const item = liveContainer(ctx, request);
  const q = request.query as Record<string, string | string[] | undefined>;
  const cmdText = single(q, 'cmd');
  const size = (name: string, fallback: number): number => {
    const text = single(q, name);
    if (text === undefined) return fallback;
    if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 1000)
      throw badQuery(`${name}: a number from 1 to 1000`);
    return Number(text);
  };
  const debug = single(q, 'debug');
  return {
    engine: item.engine,
    container: { id: item.id, name: item.name },
    cmd: cmdText === undefined ? undefined : shellWords(cmdText),
    user: single(q, 'user'),
    workdir: single(q, 'workdir'),
    cols: size('cols', 80),
    rows: size('rows', 24),
    debug: debug === '1' || debug === 'true',
  };
}

/** What proved the caller, kept to ask again during the session. */
type Credential =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'session'; readonly id: string }
  | { readonly kind: 'anonymous' };

function credentialOf(request: FastifyRequest): Credential {
  const bearer = bearerOf(request);
  if (request.principal.via === 'token' && bearer !== undefined) return { kind: 'token', token: bearer };
  const id = sessionCookie(request.headers.cookie);
  if (request.principal.via === 'session' && id !== undefined) return { kind: 'session', id };
  return { kind: 'anonymous' };
}

/** The bearer token of a request: the header, or `?access_token=` on the exec route. */
export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') return /^Bearer +(\S+)$/i.exec(header)?.[1];
  if (request.routeOptions.url !== TERMINAL_ROUTE) return undefined;
  const q = request.query as Record<string, string | string[] | undefined>;
  const token = q.access_token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

/** Asked every 2 s during a session: why it must end now (revoked, signed out, role lost), or undefined. */
async function stillAllowed(
  ctx: ApiContext,
  principal: Principal,
  credential: Credential,
  needed: TerminalConfig['role'],
): Promise<string | undefined> {
  if (needed === 'none') return 'terminals turned off';
  let role: Principal['role'];
  if (credential.kind === 'token') {
    const found = await ctx.tokens.find(credential.token);
    if (found === undefined) return 'token revoked';
    role = found.role;
  } else if (credential.kind === 'session') {
    const found = await ctx.sessions.find(credential.id);
    if (found === undefined) return `${principal.name} signed out`;
    role = found.role;
  } else {
    role = ctx.anonymousRole();
  }
  return rankOf(role) >= rankOf(needed) ? undefined : `${principal.name} no longer has the ${needed} role`;
}
