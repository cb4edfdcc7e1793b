import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth/principal.js';
import type { LiveState } from '../state/live-state.js';
import type { ClusterView } from './cluster.js';

/** This monitor process, as `GET /api/v1/cluster` names it. */
export interface Instance {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
}

/** A new instance id: the host, the pid and a random part (a restarted process is a new instance). */
export function newInstance(now: number): Instance {
  const random = Math.random().toString(36).slice(2, 8);
  return {
    id: `${hostname()}-${process.pid}-${random}`,
    host: hostname(),
    pid: process.pid,
    startedAt: new Date(now).toISOString(),
  };
}

/**
 * `GET /api/v1/cluster` (admin, docs/scaling.md): which monitor instances share the store and
 * which owns each engine — from the lease table on PostgreSQL. With the SQLite store there is one
 * instance, owning every engine it watches, for as long as it runs (term 1, no expiry).
 */
export async function registerClusterRoutes(
  app: FastifyInstance,
  self: Instance,
  state: LiveState,
  listen: () => string,
  cluster: () => Promise<ClusterView> | undefined,
): Promise<void> {
  app.get('/api/v1/cluster', async (request) => {
    requireRole(request.principal, 'admin', 'the cluster view');
    const shared = cluster();
    if (shared !== undefined) return shared;
    const engines = state.engines().map((e) => e.name);
    return {
      self: self.id,
      store: 'sqlite',
      instances: [
        {
          id: self.id,
          host: self.host,
          pid: self.pid,
          listen: listen(),
          lastSeen: new Date().toISOString(),
          engines,
        },
      ],
      leases: engines.map((engine) => ({ engine, owner: self.id, term: 1, expiresAt: null })),
    };
  });
}
