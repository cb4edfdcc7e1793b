import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { defaultEngineEndpoint, type EngineEndpoint, parseEngineUrl } from '../engine/endpoint.js';
import { DockgateError } from '../errors.js';
import { isLoopback, type ListenAddress, parseListenAddress } from '../gateway/listen-address.js';
import { LOG_LEVELS } from '../log/logger.js';

/** Every default of `dockgate serve`, in one place; the CLI help and docs/gateway.md show them. */
export const SERVE_DEFAULTS = {
  listen: ['tcp://127.0.0.1:2375'],
  profile: 'full',
  socketMode: '0660',
  shutdownGrace: '10',
  maxHeaderSize: String(64 * 1024),
  logLevel: 'info',
  workers: '1',
} as const;

/** Profiles the gateway knows. Access control (identities, least-privilege profiles) comes next. */
export const PROFILES = ['full'] as const;

/** The options as the command line gives them: strings, validated below. */
const rawServeOptions = z
  .object({
    listen: z.array(z.string()).min(1),
    upstream: z.string().optional(),
    profile: z.enum(PROFILES, { error: () => `--profile must be one of: ${PROFILES.join(', ')}` }),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    tlsClientCa: z.string().optional(),
    socketMode: z.string().regex(/^0?[0-7]{3}$/, '--socket-mode must be octal, such as 0660'),
    shutdownGrace: z.string().regex(/^\d+(\.\d+)?$/, '--shutdown-grace must be a number of seconds'),
    maxHeaderSize: z
      .string()
      .regex(/^\d+$/, '--max-header-size must be a number of bytes')
      .refine(
        (v) => Number(v) >= 1024 && Number(v) <= 16 * 1024 * 1024,
        '--max-header-size must be 1024 … 16777216',
      ),
    logLevel: z.enum(LOG_LEVELS, { error: () => `--log-level must be one of: ${LOG_LEVELS.join(', ')}` }),
    insecure: z.boolean(),
    workers: z
      .string()
      .regex(/^(auto|\d+)$/, '--workers must be a number of processes or "auto"')
      .refine((v) => v === 'auto' || (Number(v) >= 1 && Number(v) <= 64), '--workers must be 1 … 64'),
  })
  .strict();

/** As the command line gives them: every value a string (or a flag), checked by the schema. */
export interface RawServeOptions {
  readonly listen: string[];
  readonly upstream?: string;
  readonly profile: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
  readonly socketMode: string;
  readonly shutdownGrace: string;
  readonly maxHeaderSize: string;
  readonly logLevel: string;
  readonly insecure: boolean;
  readonly workers?: string;
}

export interface TlsListenerMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** With a client CA, every TLS client must present a certificate it signed. */
  readonly clientCa: Buffer | undefined;
}

export interface ServeConfig {
  readonly listen: readonly ListenAddress[];
  readonly upstream: EngineEndpoint;
  readonly profile: (typeof PROFILES)[number];
  readonly tls: TlsListenerMaterial | undefined;
  readonly socketMode: number;
  readonly shutdownGraceMs: number;
  readonly maxHeaderBytes: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** Gateway processes sharing the listeners (see gateway/worker-pool.ts). */
  readonly workers: number;
}

/**
 * Validates `dockgate serve` options once, loudly: any bad value is an error with a hint, never
 * a silent fallback to a default.
 */
export function loadServeConfig(raw: RawServeOptions): ServeConfig {
  const parsed = rawServeOptions.safeParse({ ...raw, workers: raw.workers ?? SERVE_DEFAULTS.workers });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` (${issue.path.join('.')})` : '';
    throw new DockgateError('DG_CONFIG_INVALID', `${issue?.message ?? 'invalid options'}${where}`);
  }
  const options = parsed.data;
  const listen = dedupe(options.listen.map(parseListenAddress));
  const tls = loadTls(options, listen);
  const config: ServeConfig = {
    listen,
    upstream: options.upstream === undefined ? defaultEngineEndpoint() : parseEngineUrl(options.upstream),
    profile: options.profile,
    tls,
    socketMode: Number.parseInt(options.socketMode, 8),
    shutdownGraceMs: Math.round(Number(options.shutdownGrace) * 1000),
    maxHeaderBytes: Number(options.maxHeaderSize),
    logLevel: options.logLevel,
    workers: options.workers === 'auto' ? availableParallelism() : Number(options.workers),
  };
  assertProtected(config, options.insecure);
  return config;
}

function dedupe(addresses: ListenAddress[]): ListenAddress[] {
  const seen = new Set<string>();
  for (const address of addresses) {
    if (seen.has(address.url))
      throw new DockgateError('DG_CONFIG_INVALID', `--listen ${address.url} is given twice`);
    seen.add(address.url);
  }
  return addresses;
}

function loadTls(
  options: z.output<typeof rawServeOptions>,
  listen: ListenAddress[],
): TlsListenerMaterial | undefined {
  const wantsTls = listen.some((address) => address.kind === 'tls');
  const given =
    options.tlsCert !== undefined || options.tlsKey !== undefined || options.tlsClientCa !== undefined;
  if (!wantsTls) {
    if (given)
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        '--tls-cert/--tls-key/--tls-client-ca need a tls:// listener',
      );
    return undefined;
  }
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    throw new DockgateError('DG_CONFIG_INVALID', 'a tls:// listener needs --tls-cert and --tls-key');
  }
  return {
    cert: readMaterial(options.tlsCert, '--tls-cert'),
    key: readMaterial(options.tlsKey, '--tls-key'),
    clientCa:
      options.tlsClientCa === undefined ? undefined : readMaterial(options.tlsClientCa, '--tls-client-ca'),
  };
}

function readMaterial(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new DockgateError('DG_TLS_MATERIAL', `${option} ${file}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Protected mode: the `full` profile is root on the engine's host. Refuse to offer it to
 * anyone on the network who has not proven who they are (a tls:// listener with a client CA),
 * unless the operator says --insecure.
 */
function assertProtected(config: ServeConfig, insecure: boolean): void {
  if (insecure) return;
  for (const address of config.listen) {
    if (isLoopback(address)) continue;
    if (address.kind === 'tls' && config.tls?.clientCa !== undefined) continue;
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `--listen ${address.url} would give anyone who can reach it full control of the Docker engine (root on its host). ` +
        'Listen on loopback or a unix socket, use tls:// with --tls-client-ca so that only holders of a client certificate get in, ' +
        'or pass --insecure if that is really what you want',
    );
  }
}
