import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { defaultTokenFile } from '../auth/tokens.js';
import { defaultEngineEndpoint, type EngineEndpoint, parseEngineUrl } from '../engine/endpoint.js';
import { DockgateError } from '../errors.js';
import { isLoopback, type ListenAddress, parseListenAddress } from '../gateway/listen-address.js';
import { LOG_LEVELS } from '../log/logger.js';
import type { Policy } from '../policy/policy.js';
import { tecnativaProfile } from '../policy/tecnativa.js';
import { type ConfigFile, readConfigFile } from './policy-file.js';
import { loadPolicy, type PolicySource } from './policy-source.js';

/** Where the image expects the host's root (`-v /:/host:ro`, docs/hosts.md#in-a-container). */
const IMAGE_HOST_ROOT = '/host';

/** Every default of `dockgate serve`, in one place; the CLI help and docs/gateway.md show them. */
export const SERVE_DEFAULTS = {
  listen: ['tcp://127.0.0.1:2375'],
  profile: 'read-only',
  socketMode: '0660',
  shutdownGrace: '10',
  maxHeaderSize: String(64 * 1024),
  logLevel: 'info',
  workers: '1',
} as const;

/** The options as the command line gives them: strings, validated below. */
const rawServeOptions = z
  .object({
    listen: z.array(z.string()),
    upstream: z.string().optional(),
    profile: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, '--profile must be a profile name such as read-only'),
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
    config: z.string().optional(),
    tokens: z.string().optional(),
    tecnativaEnv: z.boolean().optional(),
    learn: z.string().optional(),
    auditFile: z.string().optional(),
    auditMaxSize: z
      .string()
      .regex(/^\d+[KMG]?$/, '--audit-max-size is bytes, or a number with K, M or G')
      .optional(),
    auditKeep: z.string().regex(/^\d+$/, '--audit-keep must be a number of files').optional(),
    admin: z.string().optional(),
    hostRoot: z
      .string()
      .regex(/^(\/|auto$)/, '--host-root must be an absolute path such as /host, or auto')
      .optional(),
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
  /** YAML config file (profiles, identities, listeners, audit); watched for changes. */
  readonly config?: string;
  readonly tokens?: string;
  readonly tecnativaEnv?: boolean;
  readonly learn?: string;
  readonly auditFile?: string;
  readonly auditMaxSize?: string;
  readonly auditKeep?: string;
  readonly admin?: string;
  readonly hostRoot?: string;
}

/** Where one line per decision goes: the log (stdout), or a size-rotated file. */
export interface AuditConfig {
  readonly file: string | undefined;
  readonly maxSize: string;
  readonly keep: number;
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
  readonly tls: TlsListenerMaterial | undefined;
  readonly socketMode: number;
  readonly shutdownGraceMs: number;
  readonly maxHeaderBytes: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** Gateway processes sharing the listeners (see gateway/worker-pool.ts). */
  readonly workers: number;
  /** Where the policy comes from, to read again on reload. */
  readonly policySource: PolicySource;
  /** The policy as loaded at start (it failed loudly if invalid). */
  readonly policy: Policy;
  readonly learn: string | undefined;
  readonly audit: AuditConfig;
  /** The admin listener (metrics, health), off unless given. */
  readonly admin: ListenAddress | undefined;
  /** Where the host's root filesystem is here, for `GET /dockgate/v1/host` (docs/hosts.md). */
  readonly hostRoot: string;
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
  const file: ConfigFile | undefined =
    options.config === undefined ? undefined : readConfigFile(options.config);
  const tecnativa = options.tecnativaEnv === true ? tecnativaProfile(process.env) : undefined;
  // The CLI --profile is the default for CLI listeners; --tecnativa-env makes it "tecnativa".
  const cliProfile = tecnativa !== undefined ? 'tecnativa' : options.profile;
  const fromFile = (file?.listeners ?? []).map((l) => ({
    address: parseListenAddress(l.listen),
    profile: l.profile ?? cliProfile,
    allowFrom: l.allowFrom,
  }));
  const cliListen =
    options.listen.length > 0 || fromFile.length > 0 ? options.listen : [...SERVE_DEFAULTS.listen];
  const listeners = [
    ...cliListen.map((raw) => ({
      address: parseListenAddress(raw),
      profile: cliProfile,
      allowFrom: undefined,
    })),
    ...fromFile,
  ];
  const listen = dedupe(listeners.map((l) => l.address));
  const tls = loadTls(options, listen);
  const policySource: PolicySource = {
    configFile: options.config,
    tokensFile: options.tokens ?? file?.tokens ?? defaultTokenFile(),
    listeners,
    tecnativa: tecnativa !== undefined,
    clientCertsRequired: tls?.clientCa !== undefined,
    insecure: options.insecure,
  };
  const upstream = options.upstream ?? tecnativa?.upstream;
  const logLevel = tecnativa?.logLevel ?? options.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new DockgateError('DG_CONFIG_INVALID', `LOG_LEVEL=${logLevel} is not a level dockgate knows`);
  }
  const admin = options.admin ?? file?.admin?.listen;
  const adminAddress = admin === undefined ? undefined : parseListenAddress(admin);
  if (adminAddress !== undefined && !isLoopback(adminAddress)) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `the admin listener ${adminAddress.url} must be on loopback or a unix socket`,
    );
  }
  const workers = options.workers === 'auto' ? availableParallelism() : Number(options.workers);
  const auditFile = options.auditFile ?? file?.audit?.file;
  if (auditFile !== undefined && workers > 1) {
    // Each worker would rotate the same file under the others' feet.
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      '--audit-file needs --workers 1; with several workers, leave the audit lines on stdout (the primary relays them whole) and collect them there',
    );
  }
  if (workers > 1 && listen.some((l) => l.kind === 'fd')) {
    // The passed socket belongs to this process; cluster workers would each need their own.
    throw new DockgateError('DG_CONFIG_INVALID', 'fd:// (socket activation) needs --workers 1');
  }
  if (options.learn !== undefined && workers > 1) {
    // Each worker sees only its share of the traffic and would overwrite the others' file.
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      '--learn needs --workers 1: one process must see all the traffic',
    );
  }
  return {
    listen,
    upstream: upstream === undefined ? defaultEngineEndpoint() : parseEngineUrl(upstream),
    tls,
    socketMode: Number.parseInt(options.socketMode, 8),
    shutdownGraceMs: Math.round(Number(options.shutdownGrace) * 1000),
    maxHeaderBytes: Number(options.maxHeaderSize),
    logLevel: logLevel as (typeof LOG_LEVELS)[number],
    workers,
    policySource,
    policy: loadPolicy(policySource, 1, file),
    learn: options.learn,
    audit: {
      file: auditFile,
      maxSize: options.auditMaxSize ?? file?.audit?.maxSize ?? '100M',
      keep: Number(options.auditKeep ?? file?.audit?.keep ?? 5),
    },
    admin: adminAddress,
    hostRoot: hostRootOf(options.hostRoot),
  };
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
 * `--host-root`: a directory that exists (a missing mount is said at start, not per request).
 * `auto` — the image's setting — is `/host` when it is mounted; when it is not, the host endpoint
 * says which of its fields need it (`unavailable`) instead of reporting the container's own mounts.
 */
function hostRootOf(dir: string | undefined): string {
  if (dir === undefined || dir === '/') return '/';
  if (dir === 'auto') return IMAGE_HOST_ROOT;
  if (!existsSync(dir))
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `--host-root ${dir} does not exist: mount the host's root there (-v /:${dir}:ro) or leave the option out`,
    );
  return dir.replace(/\/+$/, '');
}
