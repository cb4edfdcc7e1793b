import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * A loopback port nothing listens on now: for a server a test starts (or, left closed, an engine
 * that stays down). Another process could take it in between; tests bind at once.
 */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
