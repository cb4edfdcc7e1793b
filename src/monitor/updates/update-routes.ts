import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth/principal.js';
import type { UpdateChecker } from './update-checker.js';

/**
 * `GET /api/v1/updates` (viewer): the containers whose image's tag moved on its registry;
 * `POST /api/v1/updates/check` (operator): asks every registry now and answers, when done, what
 * `GET` would (docs/updates.md). Each container's `update` is also in `/api/v1/containers`.
 */
export async function registerUpdateRoutes(app: FastifyInstance, checker: UpdateChecker): Promise<void> {
  app.get('/api/v1/updates', async (request) => {
    requireRole(request.principal, 'viewer', 'the updates');
    return checker.outdated();
  });

  app.post('/api/v1/updates/check', async (request) => {
    requireRole(request.principal, 'operator', 'an update check');
    await checker.check(true);
    return checker.outdated();
  });
}
