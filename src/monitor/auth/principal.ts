import { DockgateError } from '../../errors.js';
import type { Role } from '../config/monitor-config.js';
import type { MonitorTokens } from './monitor-tokens.js';

/** Who is calling the monitor's API, and what they may do. */
export interface Principal {
  /** A token's name, a signed-in user's name, or "anonymous". */
  readonly name: string;
  readonly role: Role | 'none';
  readonly via: 'token' | 'session' | 'anonymous';
  /** A session's CSRF token, which the dashboard sends back with changes. */
  readonly csrf?: string;
}

const RANK: Readonly<Record<Role | 'none', number>> = { none: 0, viewer: 1, operator: 2, admin: 3 };

/** What an authenticator reads of a request. */
export interface RequestCredentials {
  readonly authorization?: string | string[] | undefined;
  readonly cookie?: string | string[] | undefined;
  readonly method?: string;
  /** `X-CSRF-Token`. */
  readonly csrf?: string | string[] | undefined;
  /** Signing in itself: it starts a new session, so no old session's token is asked for. */
  readonly csrfExempt?: boolean;
}

/**
 * One way of proving who one is: a bearer token, or the dashboard's session cookie
 * (sessions.ts); the routes do not know which. Returns undefined when the request
 * carries nothing this method reads, a Principal when it proves someone, and throws 401 when it
 * carries something that proves no one.
 */
export interface Authenticator {
  authenticate(request: RequestCredentials): Promise<Principal | undefined>;
}

/** `Authorization: Bearer <token>` against the token store. */
export function bearerAuthenticator(tokens: MonitorTokens): Authenticator {
  return {
    async authenticate(request) {
      const header = request.authorization;
      if (header === undefined) return undefined;
      if (Array.isArray(header)) throw unauthenticated('more than one Authorization header');
      const match = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i.exec(header);
      if (match === null) throw unauthenticated('the Authorization header must be "Bearer <token>"');
      const found = await tokens.find(match[1] as string);
      if (found === undefined) throw unauthenticated('unknown or revoked token');
      return { name: found.name, role: found.role, via: 'token' };
    },
  };
}

/** The first authenticator that recognises the request decides; else the anonymous role. */
export async function resolvePrincipal(
  authenticators: readonly Authenticator[],
  anonymousRole: Role | 'none',
  request: RequestCredentials,
): Promise<Principal> {
  for (const authenticator of authenticators) {
    const principal = await authenticator.authenticate(request);
    if (principal !== undefined) return principal;
  }
  return { name: 'anonymous', role: anonymousRole, via: 'anonymous' };
}

/** A role's rank: none < viewer < operator < admin. */
export function rankOf(role: Role | 'none'): number {
  return RANK[role];
}

/** Throws 401 (no one) or 403 (someone, not enough) unless `principal` has at least `role`. */
export function requireRole(principal: Principal, role: Role, what: string): void {
  if (RANK[principal.role] >= RANK[role]) return;
  if (principal.role === 'none')
    throw unauthenticated(`${what} needs a token (Authorization: Bearer …) or signing in`);
  throw new DockgateError(
    'DG_ROLE_FORBIDDEN',
    `${what} needs the ${role} role; ${principal.name} is ${principal.role}`,
  );
}

function unauthenticated(message: string): DockgateError {
  return new DockgateError('DG_UNAUTHENTICATED', message);
}
