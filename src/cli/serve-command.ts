import cluster from 'node:cluster';
import type { Command } from 'commander';
import { DockerClient } from '../client/docker-client.js';
import {
  loadServeConfig,
  type RawServeOptions,
  SERVE_DEFAULTS,
  type ServeConfig,
} from '../config/serve-config.js';
import { Gateway } from '../gateway/gateway.js';
import { isLoopback } from '../gateway/listen-address.js';
import { type ReadyMessage, WorkerPool } from '../gateway/worker-pool.js';
import { createLogger, flushLogs, type Logger } from '../log/logger.js';
import { startAdminServer } from '../metrics/admin-server.js';
import { GatewayMetrics } from '../metrics/metrics.js';
import { createPolicyRuntime } from '../policy/runtime.js';
import { tecnativaVariablesSet } from '../policy/tecnativa.js';
import { DOCKGATE_VERSION } from '../version.js';
import { envFlag, optionsFromEnv } from './env-options.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** `dockgate serve`: the Docker Engine API on TCP, TLS and unix sockets. */
export function registerServeCommand(program: Command): void {
  const serve = program
    .command('serve')
    .description('serve the Docker Engine API, forwarding to the engine')
    .option(
      '--listen <url>',
      `where to listen, repeatable: tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH, fd:// (systemd socket activation) (default: ${SERVE_DEFAULTS.listen.join(', ')})`,
      collect,
    )
    .option(
      '--upstream <url>',
      'the engine: unix://, npipe://, tcp://, https:// (default: DOCKER_HOST, then the standard socket)',
    )
    .option(
      '--profile <name>',
      'profile of callers with no identity on --listen listeners: read-only, manage, deploy, full, a preset or a config profile',
      SERVE_DEFAULTS.profile,
    )
    .option(
      '--config <file>',
      'YAML config: profiles, identities, listeners, audit (reloaded on change and SIGHUP)',
    )
    .option('--tokens <file>', 'token store (default: $DOCKGATE_TOKENS or ~/.config/dockgate/tokens.json)')
    .option(
      '--tecnativa-env',
      'build the profile from Tecnativa docker-socket-proxy variables (CONTAINERS=1, POST=0, …)',
    )
    .option(
      '--learn <file>',
      'record the routes each identity uses and write a profile allowing exactly that',
    )
    .option('--audit-file <file>', 'write one line per request and decision here (rotated) instead of stdout')
    .option('--audit-max-size <size>', 'rotate the audit file at this size (bytes, or 10M, 1G)')
    .option('--audit-keep <n>', 'rotated audit files kept')
    .option(
      '--host-root <dir>',
      "where the host's root filesystem is mounted, for GET /dockgate/v1/host (/host in a container started with -v /:/host:ro)",
      '/',
    )
    .option('--admin <url>', 'admin listener on loopback: /metrics, /healthz, /readyz (tcp://127.0.0.1:9375)')
    .option('--tls-cert <file>', 'PEM certificate for tls:// listeners')
    .option('--tls-key <file>', 'PEM private key for tls:// listeners')
    .option('--tls-client-ca <file>', 'PEM CA: tls:// clients must present a certificate it signed')
    .option('--socket-mode <octal>', 'permissions of unix socket listeners', SERVE_DEFAULTS.socketMode)
    .option(
      '--shutdown-grace <seconds>',
      'on SIGTERM/SIGINT, time given to requests under way',
      SERVE_DEFAULTS.shutdownGrace,
    )
    .option(
      '--max-header-size <bytes>',
      'largest request line + headers accepted (431 beyond)',
      SERVE_DEFAULTS.maxHeaderSize,
    )
    .option(
      '--log-level <level>',
      'trace, debug, info (one line per request), warn, error, silent',
      SERVE_DEFAULTS.logLevel,
    )
    .option(
      '--insecure',
      'allow more than read-only for unauthenticated callers on a non-loopback listener',
      false,
    )
    .option(
      '--workers <n>',
      'gateway processes sharing the listeners, or "auto" (one per core)',
      SERVE_DEFAULTS.workers,
    )
    .action(async (options: Omit<RawServeOptions, 'listen'> & { listen?: string[] }) => {
      const config = loadServeConfig({ ...options, listen: options.listen ?? [] });
      const log = createLogger(config.logLevel);
      if (config.workers > 1 && cluster.isPrimary) await runPool(config, log);
      else await runGateway(config, log);
      await flushLogs(log);
      // A worker's IPC channel to the primary would keep it alive.
      if (cluster.isWorker) process.disconnect();
    });
  optionsFromEnv(serve, 'DOCKGATE_', SERVE_ENV);
}

/** How serve's options read DOCKGATE_* (also `doctor`, which checks what serve would do). */
export const SERVE_ENV = {
  lists: { listen: /,/ },
  special: {
    // The image sets `auto`: on when any of Tecnativa's variables is set (CONTAINERS=1…).
    tecnativaEnv: (raw: string) =>
      raw === 'auto' ? tecnativaVariablesSet(process.env) : envFlag('DOCKGATE_TECNATIVA_ENV', raw),
  },
};

/** Resolves on the first SIGTERM or SIGINT; later ones are ignored (stopping is under way). */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals): void => resolve(signal);
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

function announce(config: ServeConfig, log: Logger, urls: string[], workers: number): void {
  for (const url of urls) {
    log.info(
      {
        listen: url,
        upstream: config.upstream.url,
        profile: config.policy.listeners.get(url)?.profile.name,
        workers,
        version: DOCKGATE_VERSION,
      },
      'listening',
    );
  }
  const pool = workers > 1 ? ` (${workers} workers)` : '';
  process.stderr.write(
    `dockgate ${DOCKGATE_VERSION} listening on ${urls.join(', ')} → ${config.upstream.url}${pool}\n`,
  );
  const hint = grantHint(config);
  if (hint !== undefined) process.stderr.write(hint);
}

/**
 * Said once at start when a listener others can reach gives callers without a token only the
 * read-only profile (the image's default): how to grant more, so nobody reaches for --insecure.
 */
export function grantHint(config: ServeConfig): string | undefined {
  const open = config.listen.filter(
    (a) => !isLoopback(a) && config.policy.listeners.get(a.url)?.profile.name === 'read-only',
  );
  if (open.length === 0) return undefined;
  return [
    `dockgate: callers without a token get the read-only profile on ${open.map((a) => a.url).join(', ')}. To grant more:`,
    '  dockgate token add NAME --profile manage      (in a container: docker exec CONTAINER dockgate token add …)',
    '  then send it: ~/.docker/config.json {"HttpHeaders": {"Authorization": "Bearer <token>"}}',
    '  profiles: read-only, manage, deploy, full, presets (traefik, portainer, …) — docs/access-control.md',
    '',
  ].join('\n');
}

/** One gateway in this process: alone, or as a worker of a pool. */
async function runGateway(config: ServeConfig, log: Logger): Promise<void> {
  let gateway: Gateway | undefined;
  // Metrics cost a few label lookups per request: kept only when someone can scrape them
  // (this process's admin listener, or the primary's when this is a worker).
  const metrics =
    config.admin === undefined ? undefined : new GatewayMetrics(() => gateway?.connections ?? 0);
  const runtime = createPolicyRuntime(config, log, metrics);
  gateway = new Gateway(config, log, runtime.gatekeeper, runtime.access);
  const stopped = untilSignal();
  process.on('SIGHUP', () => runtime.reloader.reload('SIGHUP'));
  const urls = await gateway.start();
  const admin =
    config.admin !== undefined && !cluster.isWorker
      ? await startAdminServer({ address: config.admin, engine: runtime.engine, cluster: false })
      : undefined;
  if (admin !== undefined) log.info({ admin: admin.url }, 'admin listener: /metrics /healthz /readyz');
  if (cluster.isWorker) {
    const ready: ReadyMessage = { type: 'dockgate:ready', urls };
    process.send?.(ready);
  } else {
    announce(config, log, urls, 1);
  }
  const signal = await stopped;
  log.info({ signal, graceMs: config.shutdownGraceMs }, 'stopping');
  await gateway.stop();
  await admin?.close();
  await runtime.close();
  log.info('stopped');
}

async function runPool(config: ServeConfig, log: Logger): Promise<void> {
  const pool = new WorkerPool(config, log);
  const stopped = untilSignal();
  // Each worker reloads its own policy; the primary only passes the signal on.
  process.on('SIGHUP', () => pool.signal('SIGHUP'));
  announce(config, log, await pool.start(config.workers), config.workers);
  const engine = new DockerClient({ engine: config.upstream });
  const admin =
    config.admin === undefined
      ? undefined
      : await startAdminServer({ address: config.admin, engine, cluster: true });
  if (admin !== undefined) log.info({ admin: admin.url }, 'admin listener: /metrics /healthz /readyz');
  const signal = await stopped;
  log.info({ signal, graceMs: config.shutdownGraceMs }, 'stopping');
  await pool.stop();
  await admin?.close();
  await engine.close();
  log.info('stopped');
}
