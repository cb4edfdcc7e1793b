import { createServer, type Server } from 'node:http';
import { AggregatorRegistry, register } from 'prom-client';
import type { DockerClient } from '../client/docker-client.js';
import { DockgateError } from '../errors.js';
import type { ListenAddress } from '../gateway/listen-address.js';

export interface AdminOptions {
  readonly address: ListenAddress;
  readonly engine: DockerClient;
  /** Gather metrics from every worker (the primary of --workers N). */
  readonly cluster: boolean;
}

/**
 * The admin listener: `/metrics` (Prometheus text), `/healthz` (the process is up) and
 * `/readyz` (the engine answers `/_ping` within two seconds; 503 otherwise, so a load
 * balancer stops sending traffic to a gateway whose engine is gone).
 */
export async function startAdminServer(
  options: AdminOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const aggregator = options.cluster ? new AggregatorRegistry() : undefined;
  const server: Server = createServer((req, res) => {
    const reply = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(405, 'application/json', '{"message":"method not allowed"}\n');
      return;
    }
    if (path === '/metrics') {
      const text = aggregator === undefined ? register.metrics() : aggregator.clusterMetrics();
      text.then(
        (body) => reply(200, register.contentType, body),
        (error: unknown) => reply(500, 'text/plain', `${(error as Error).message}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      reply(200, 'application/json', '{"status":"ok"}\n');
      return;
    }
    if (path === '/readyz') {
      options.engine.ping(AbortSignal.timeout(2000)).then(
        () => reply(200, 'application/json', '{"status":"ready"}\n'),
        (error: unknown) =>
          reply(
            503,
            'application/json',
            `${JSON.stringify({ status: 'engine not answering', error: (error as Error).message })}\n`,
          ),
      );
      return;
    }
    reply(404, 'application/json', '{"message":"not found: try /metrics, /healthz, /readyz"}\n');
  });
  const a = options.address;
  // The config refuses it too (an admin listener must be loopback): a passed socket's address is unknown.
  if (a.kind === 'fd') throw new DockgateError('DG_CONFIG_INVALID', 'the admin listener cannot be fd://');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (a.kind === 'unix') server.listen(a.path, resolve);
    else server.listen(a.port, a.host, resolve);
  });
  const bound = server.address();
  const url =
    a.kind === 'unix' || bound === null || typeof bound === 'string'
      ? a.url
      : `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${bound.port}`;
  return {
    url,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
