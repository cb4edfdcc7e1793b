import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Command } from 'commander';
import { SERVE_DEFAULTS } from '../config/serve-config.js';
import { DockgateError } from '../errors.js';
import { parseListenAddress } from '../gateway/listen-address.js';
import { MONITOR_DEFAULTS } from '../monitor/config/monitor-config.js';
import { envValue } from './env-options.js';

/** Where to ask, and what the answer means. */
interface Probe {
  readonly url: string;
  /** A unix socket to ask `path` on, instead of `url`. */
  readonly socketPath?: string;
  readonly path: string;
  /** The gateway's /_ping: a refusal by its policy (401/403) still proves it runs. */
  readonly gateway: boolean;
}

/**
 * `dockgate health`: exit 0 when the gateway or monitor of this container (or host) answers, 1
 * when not — the image's HEALTHCHECK. Without `--url` it asks the process it would be: PID 1's
 * command line in a container (`serve` or `monitor`, its `--listen`), else the DOCKGATE_*
 * variables, else the defaults. The gateway is asked `/_ping` (through to the engine: a gateway
 * that cannot reach its engine is not healthy), or its admin listener's `/healthz`; the monitor
 * its `/healthz`.
 */
export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description("exit 0 if this host's (or container's) dockgate gateway or monitor answers, 1 if not")
    .option('--url <url>', 'what to ask: http(s)://…/path, tcp://HOST:PORT or unix:///PATH (a gateway)')
    .option('--timeout <seconds>', 'give up after', '5')
    .action(async (options: { url?: string; timeout: string }) => {
      const probe = options.url === undefined ? defaultProbe() : probeFor(options.url);
      const timeout = Number(options.timeout);
      if (!(timeout > 0))
        throw new DockgateError('DG_CONFIG_INVALID', '--timeout must be a number of seconds');
      try {
        const { status, body } = await get(probe, timeout * 1000);
        const ok = status === 200 || (probe.gateway && (status === 401 || status === 403));
        process.stdout.write(
          `${ok ? 'healthy' : 'unhealthy'}: ${probe.url} answered ${status} ${body.slice(0, 200).trim()}\n`,
        );
        process.exitCode = ok ? 0 : 1;
      } catch (error) {
        process.stdout.write(`unhealthy: ${probe.url}: ${(error as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}

function defaultProbe(): Probe {
  const args = pid1Arguments();
  const command = args?.find((a) => a === 'serve' || a === 'monitor');
  const flag = (name: string): string | undefined => {
    const i = args?.indexOf(name) ?? -1;
    return i >= 0 ? args?.[i + 1] : undefined;
  };
  if (command === 'monitor') {
    const listen = flag('--listen') ?? envValue('DOCKGATE_MONITOR_LISTEN') ?? MONITOR_DEFAULTS.listen;
    return { url: `${loopback(listen.replace(/\/$/, ''))}/healthz`, path: '/healthz', gateway: false };
  }
  const admin = flag('--admin') ?? envValue('DOCKGATE_ADMIN');
  // The admin listener (tcp:// on loopback or unix://) has /healthz, engine included.
  if (admin !== undefined) return { ...probeFor(admin, '/healthz'), gateway: false };
  const listen =
    flag('--listen') ?? envValue('DOCKGATE_LISTEN')?.split(',')[0]?.trim() ?? SERVE_DEFAULTS.listen[0];
  return probeFor(listen);
}

/** A gateway listener (tcp://, tls://, unix://) → its `path` (/_ping); an http(s) URL as it is. */
function probeFor(url: string, path = '/_ping'): Probe {
  if (/^https?:\/\//.test(url)) return { url: loopback(url), path: new URL(url).pathname, gateway: false };
  const address = parseListenAddress(url);
  if (address.kind === 'unix')
    return { url: `unix://${address.path}:${path}`, socketPath: address.path, path, gateway: true };
  if (address.kind === 'fd')
    throw new DockgateError('DG_CONFIG_INVALID', 'a passed socket (fd://) has no address to ask: use --url');
  const scheme = address.kind === 'tls' ? 'https' : 'http';
  return { url: `${loopback(`${scheme}://${address.url.slice(6)}`)}${path}`, path, gateway: true };
}

/** A wildcard address is asked on loopback. */
function loopback(url: string): string {
  return url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
}

/** PID 1's arguments when it is dockgate (in its container), else undefined. */
function pid1Arguments(): string[] | undefined {
  try {
    const args = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
    return args.some((a) => /dockgate|dist\/cli\/main\.js|src\/cli\/main\.ts/.test(a)) ? args : undefined;
  } catch {
    return undefined;
  }
}

function get(probe: Probe, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = probe.socketPath === undefined ? new URL(probe.url) : undefined;
    const request =
      target?.protocol === 'https:'
        ? // Its own certificate, asked on loopback: liveness, not identity.
          httpsRequest(target, { rejectUnauthorized: false, timeout: timeoutMs })
        : target !== undefined
          ? httpRequest(target, { timeout: timeoutMs })
          : httpRequest({
              socketPath: probe.socketPath,
              path: probe.path,
              host: 'localhost',
              timeout: timeoutMs,
            });
    request.on('timeout', () => request.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    request.on('error', reject);
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.end();
  });
}
