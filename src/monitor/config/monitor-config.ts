import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { resolveEngine } from '../../client/connection.js';
import { readYamlFile } from '../../config/yaml-file.js';
import { type EngineEndpoint, type EngineTls, parseEngineUrl } from '../../engine/endpoint.js';
import { DockgateError } from '../../errors.js';
import { LOG_LEVELS } from '../../log/logger.js';
import {
  ALERT_KINDS,
  type AlertKind,
  type AlertRules,
  alertsSchema,
  compileAlertRules,
} from '../alerts/alert-rules.js';
import { CLUSTER_DEFAULTS, type ClusterTiming } from '../cluster/cluster-timing.js';
import { GROUP_DEFAULTS, GROUP_LABELS, type GroupLabel, type GroupRoute } from '../notify/notify-groups.js';
import { parseStoreUrl, type StoreTarget } from '../store/store-url.js';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';

/** Every default of `dockgate monitor`, in one place; the CLI help and docs/monitor.md show them. */
export const MONITOR_DEFAULTS = {
  data: './dockgate-data',
  listen: 'http://127.0.0.1:9400',
  interval: '10s',
  logLevel: 'info',
  anonymousRole: 'viewer',
  /** `/metrics`' names: cAdvisor's, dockgate's own, or both (docs/prometheus.md). */
  metricsCompat: 'both',
  retention: { raw: '24h', minute: '7d', hour: '90d' },
  /** Every finite engine call (inspect, list, stats, actions). */
  callTimeout: '10s',
  /** Engine calls in flight per engine: more wait (and the engine shows as degraded if they time out). */
  maxInFlight: 8,
  /** Terminals: stronger than operator's actions, so admin's; every session recorded, input too. */
  terminal: {
    role: 'admin',
    record: 'all',
    castLimitBytes: 10 * 1024 * 1024,
    castTotalBytes: 1024 * 1024 * 1024,
  },
  /** Every container's log kept and searchable (docs/logs.md); viewers may search. */
  logs: {
    collect: true,
    role: 'viewer',
    retention: { age: '7d', size: '2GiB' },
    /** Lines per second for the whole monitor, shared fairly among the containers that log. */
    budget: 50_000,
  },
  /** Which containers run an outdated image (docs/updates.md): one registry HEAD per tag per interval. */
  updates: { check: true, interval: '6h', settle: '10s' },
} as const;

export const TERMINAL_RECORDS = ['none', 'output', 'all'] as const;
export type TerminalRecord = (typeof TERMINAL_RECORDS)[number];

export const METRICS_COMPAT = ['cadvisor', 'dockgate', 'both'] as const;
export type MetricsCompat = (typeof METRICS_COMPAT)[number];

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
const duration = z.string();

const engineSchema = z
  .object({
    name: z.string().regex(NAME, 'an engine name is letters, digits, . _ - (up to 63)'),
    url: z.string(),
    tls: z
      .object({
        /** A directory with ca.pem, cert.pem, key.pem (DOCKER_CERT_PATH's layout). */
        certDir: z.string().optional(),
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        verify: z.boolean().optional(),
      })
      .strict()
      .optional(),
    token: z.string().min(1).optional(),
    tokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'tokenEnv is the name of an environment variable')
      .optional(),
    labels: z.record(z.string(), z.string()).optional(),
    stats: z.enum(['auto', 'gateway', 'cgroup', 'engine']).optional(),
    logs: z.enum(['auto', 'gateway', 'files', 'engine']).optional(),
  })
  .strict()
  .refine((e) => e.token === undefined || e.tokenEnv === undefined, 'give token or tokenEnv, not both');

const fileSchema = z
  .object({
    version: z.literal(1, { error: () => 'version: must be 1' }),
    engines: z.array(engineSchema).optional(),
    listen: z.string().optional(),
    tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
    data: z.string().optional(),
    /** sqlite: (default), sqlite:DIR or postgres://… (docs/scaling.md). */
    store: z.string().optional(),
    /** Several monitors on one PostgreSQL store (docs/scaling.md). */
    cluster: z
      .object({ leaseTtl: duration.optional(), pollOnly: z.boolean().optional(), poll: duration.optional() })
      .strict()
      .optional(),
    interval: duration.optional(),
    anonymousRole: z.enum(['none', ...ROLES]).optional(),
    metrics: z
      .object({ compat: z.enum(METRICS_COMPAT).optional() })
      .strict()
      .optional(),
    insecure: z.boolean().optional(),
    logLevel: z.enum(LOG_LEVELS).optional(),
    retention: z.object({ raw: duration, minute: duration, hour: duration }).partial().strict().optional(),
    alerts: alertsSchema.optional(),
    /** The browser and API terminal (docs/terminal.md). */
    terminal: z
      .object({
        role: z.enum(['none', 'operator', 'admin']).optional(),
        record: z.enum(TERMINAL_RECORDS).optional(),
        /** An image on the engine with a shell, for `?debug=1` beside containers that have none. */
        debugImage: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Every container's log, kept and searchable (docs/logs.md). */
    logs: z
      .object({
        collect: z.boolean().optional(),
        role: z.enum(ROLES).optional(),
        retention: z.object({ age: duration, size: z.string() }).partial().strict().optional(),
        budget: z.number().int().min(100).max(10_000_000).optional(),
      })
      .strict()
      .optional(),
    /** Outdated images and updates (docs/updates.md). */
    updates: z
      .object({
        check: z.boolean().optional(),
        interval: duration.optional(),
        settle: duration.optional(),
        /** A docker `config.json` whose `auths` hold registry credentials (not credential helpers). */
        dockerConfig: z.string().optional(),
      })
      .strict()
      .optional(),
    /** Registry credentials and plain-http registries, by host. */
    registries: z
      .array(
        z
          .object({
            host: z.string().min(1),
            username: z.string().optional(),
            passwordEnv: z
              .string()
              .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'passwordEnv is the name of an environment variable')
              .optional(),
            insecure: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
    /** Notifier URLs (`${VAR}` for secrets), each routed to every kind or to `kinds`. */
    notify: z
      .array(
        z.union([
          z.string(),
          z
            .object({
              url: z.string(),
              kinds: z.array(z.enum(ALERT_KINDS)).optional(),
              /** Alertmanager's grouping for the built-in notifiers (docs/alerts.md#grouping). */
              group_by: z.array(z.enum(GROUP_LABELS)).optional(),
              group_wait: duration.optional(),
              group_interval: duration.optional(),
            })
            .strict(),
        ]),
      )
      .optional(),
  })
  .strict();

export type MonitorFile = z.output<typeof fileSchema>;

/** One engine the monitor watches. */
export interface EngineConfig {
  readonly name: string;
  readonly endpoint: EngineEndpoint;
  /** A dockgate gateway's token, sent like any client's. */
  readonly token: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  /** Which stats path to use; `auto` tries the gateway's endpoint, then cgroups, then the engine. */
  readonly stats: 'auto' | 'gateway' | 'cgroup' | 'engine';
  /**
   * Which path the kept logs are read through (docs/logs.md, "Cost"): `auto` tries the gateway's
   * file reader, then the log files on this host, then the engine.
   */
  readonly logs: LogPathSetting;
  /** Where it was given: a reload of the config file replaces only the file's engines. */
  readonly source: 'flag' | 'file' | 'default';
}

/** Which path a container's kept log is read through; `auto` takes the first that works. */
export type LogPathSetting = 'auto' | 'gateway' | 'files' | 'engine';

export interface ListenConfig {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly loopback: boolean;
}

export interface MonitorConfig {
  readonly engines: readonly EngineConfig[];
  readonly listen: ListenConfig;
  readonly data: string;
  /** Where history, alerts, users and tokens live: SQLite in `data`, or PostgreSQL. */
  readonly store: StoreTarget;
  /** Lease and follow timing when several monitors share a PostgreSQL store. */
  readonly cluster: ClusterTiming;
  readonly intervalMs: number;
  /** The role of a caller without a token; `none`: refused. */
  readonly anonymousRole: Role | 'none';
  /** Which names `/metrics` exports (docs/prometheus.md). */
  readonly metricsCompat: MetricsCompat;
  readonly insecure: boolean;
  readonly logLevel: string;
  readonly retention: { readonly rawMs: number; readonly minuteMs: number; readonly hourMs: number };
  readonly callTimeoutMs: number;
  readonly maxInFlight: number;
  /** The config file, watched for engine changes (hot reload). */
  readonly configFile: string | undefined;
  readonly alerts: AlertRules;
  /** Where alerts go: `--notify` URLs and the file's `notify:` (routed by kind). */
  readonly notify: readonly {
    readonly url: string;
    readonly kinds: readonly AlertKind[];
    /** How its messages are grouped (not for alertmanager+, which groups by itself). */
    readonly group: GroupRoute;
  }[];
  readonly terminal: TerminalConfig;
  readonly logs: LogsConfig;
  readonly updates: UpdatesConfig;
}

export interface UpdatesConfig {
  /** Ask registries which tags moved (false: every container's update status stays unknown). */
  readonly check: boolean;
  readonly intervalMs: number;
  /** How long an updated container without a healthcheck must run to count as started. */
  readonly settleMs: number;
  /** Per registry host: credentials (the password read from its env var) and plain http. */
  readonly registries: readonly RegistryConfig[];
  /** A docker config.json to read `auths` from, when it exists. */
  readonly dockerConfig: string | undefined;
}

export interface RegistryConfig {
  readonly host: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly insecure: boolean;
}

export interface LogsConfig {
  /** Collect every container's log into the store (false: only the live tail from the engine). */
  readonly collect: boolean;
  /** Who may search the kept logs (logs often hold secrets: raise it). */
  readonly role: Role;
  readonly retention: { readonly ageMs: number; readonly sizeBytes: number };
  readonly budget: number;
}

export interface TerminalConfig {
  /** Who may open one; `none`: nobody (every request 403, no tab in the dashboard). */
  readonly role: 'operator' | 'admin' | 'none';
  /** What the asciicast keeps: nothing, the output, or input too. */
  readonly record: TerminalRecord;
  readonly debugImage: string | undefined;
  /** Per session, then the recording says it was truncated. */
  readonly castLimitBytes: number;
  /** All recordings together: the oldest go first. */
  readonly castTotalBytes: number;
}

/** The options as the command line gives them. */
export interface MonitorOptions {
  readonly engine?: readonly string[];
  readonly config?: string;
  readonly data?: string;
  readonly store?: string;
  readonly listen?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly interval?: string;
  readonly anonymousRole?: string;
  readonly metricsCompat?: string;
  readonly insecure?: boolean;
  readonly logLevel?: string;
  readonly notify?: readonly string[];
  readonly terminalRole?: string;
  readonly terminalRecord?: string;
  /** `7d`, `2GiB`, or both: `7d,2GiB`. */
  readonly logRetention?: string;
}

/** Reads and validates monitor.yaml; errors name the file and the key. */
export function readMonitorFile(file: string): MonitorFile {
  return readYamlFile(file, fileSchema);
}

/**
 * Command line + config file + environment → a validated MonitorConfig. The command line wins
 * over the file; engines from both are watched (a name used twice is an error).
 */
export function loadMonitorConfig(
  options: MonitorOptions,
  env: NodeJS.ProcessEnv = process.env,
): MonitorConfig {
  const file = options.config === undefined ? undefined : readMonitorFile(options.config);
  const base = options.config === undefined ? process.cwd() : resolve(options.config, '..');
  const engines: EngineConfig[] = [];
  for (const spec of options.engine ?? []) engines.push(engineFromFlag(spec, env));
  for (const [i, spec] of (file?.engines ?? []).entries()) engines.push(engineFromFile(spec, i, base, env));
  if (engines.length === 0) {
    const { endpoint } = resolveEngine({}, env);
    engines.push({
      name: 'local',
      endpoint,
      token: undefined,
      labels: {},
      stats: 'auto',
      logs: 'auto',
      source: 'default',
    });
  }
  const seen = new Set<string>();
  for (const engine of engines) {
    if (seen.has(engine.name)) throw invalid(`engine name "${engine.name}" is used twice`);
    seen.add(engine.name);
  }
  const insecure = options.insecure === true || file?.insecure === true;
  const listen = parseListen(
    options.listen ?? file?.listen ?? MONITOR_DEFAULTS.listen,
    options.tlsCert ?? file?.tls?.cert,
    options.tlsKey ?? file?.tls?.key,
    insecure,
  );
  const anonymous = options.anonymousRole ?? file?.anonymousRole;
  if (anonymous !== undefined && anonymous !== 'none' && !(ROLES as readonly string[]).includes(anonymous)) {
    throw invalid(`--anonymous-role must be one of none, ${ROLES.join(', ')}`);
  }
  // Safe by default: on a loopback listener anonymous callers may look; elsewhere nothing
  // unless the operator says so with --insecure (and then the role they chose, or viewer).
  const anonymousRole: Role | 'none' = listen.loopback
    ? ((anonymous as Role | 'none' | undefined) ?? MONITOR_DEFAULTS.anonymousRole)
    : insecure
      ? ((anonymous as Role | 'none' | undefined) ?? MONITOR_DEFAULTS.anonymousRole)
      : 'none';
  if (!listen.loopback && !insecure && anonymous !== undefined && anonymous !== 'none') {
    throw invalid(
      `--anonymous-role ${anonymous} on ${listen.url} would let anyone who can reach it in: pass --insecure if that is really what you want`,
    );
  }
  const logLevel = options.logLevel ?? file?.logLevel ?? MONITOR_DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw invalid(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const terminalRole = options.terminalRole ?? file?.terminal?.role ?? MONITOR_DEFAULTS.terminal.role;
  if (!['none', 'operator', 'admin'].includes(terminalRole))
    throw invalid('--terminal-role must be one of operator, admin, none');
  const terminalRecord = options.terminalRecord ?? file?.terminal?.record ?? MONITOR_DEFAULTS.terminal.record;
  if (!(TERMINAL_RECORDS as readonly string[]).includes(terminalRecord))
    throw invalid(`--terminal-record must be one of ${TERMINAL_RECORDS.join(', ')}`);
  const metricsCompat = options.metricsCompat ?? file?.metrics?.compat ?? MONITOR_DEFAULTS.metricsCompat;
  if (!(METRICS_COMPAT as readonly string[]).includes(metricsCompat))
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `--metrics-compat: "${metricsCompat}" is not one of ${METRICS_COMPAT.join(', ')}`,
    );
  const logRetention = parseLogRetention(options.logRetention, file?.logs?.retention);
  const retention = {
    raw: file?.retention?.raw ?? MONITOR_DEFAULTS.retention.raw,
    minute: file?.retention?.minute ?? MONITOR_DEFAULTS.retention.minute,
    hour: file?.retention?.hour ?? MONITOR_DEFAULTS.retention.hour,
  };
  const data = resolve(
    options.data ?? (file?.data === undefined ? MONITOR_DEFAULTS.data : resolve(base, file.data)),
  );
  return {
    engines,
    listen,
    data,
    store: parseStoreUrl(options.store ?? file?.store, data),
    cluster: clusterTiming(file?.cluster),
    intervalMs: parseDuration(options.interval ?? file?.interval ?? MONITOR_DEFAULTS.interval, '--interval'),
    anonymousRole,
    metricsCompat: metricsCompat as MetricsCompat,
    insecure,
    logLevel,
    retention: {
      rawMs: parseDuration(retention.raw, 'retention.raw'),
      minuteMs: parseDuration(retention.minute, 'retention.minute'),
      hourMs: parseDuration(retention.hour, 'retention.hour'),
    },
    callTimeoutMs: parseDuration(MONITOR_DEFAULTS.callTimeout, 'callTimeout'),
    maxInFlight: MONITOR_DEFAULTS.maxInFlight,
    configFile: options.config === undefined ? undefined : resolve(options.config),
    alerts: compileAlertRules(file?.alerts),
    terminal: {
      role: terminalRole as TerminalConfig['role'],
      record: terminalRecord as TerminalRecord,
      debugImage: file?.terminal?.debugImage,
      castLimitBytes: MONITOR_DEFAULTS.terminal.castLimitBytes,
      castTotalBytes: MONITOR_DEFAULTS.terminal.castTotalBytes,
    },
    updates: {
      check: file?.updates?.check ?? MONITOR_DEFAULTS.updates.check,
      intervalMs: parseDuration(
        file?.updates?.interval ?? MONITOR_DEFAULTS.updates.interval,
        'updates.interval',
      ),
      settleMs: parseDuration(file?.updates?.settle ?? MONITOR_DEFAULTS.updates.settle, 'updates.settle'),
      registries: (file?.registries ?? []).map((r, i) => registryFrom(r, i, env)),
      dockerConfig:
        file?.updates?.dockerConfig === undefined
          ? defaultDockerConfig(env)
          : resolve(base, file.updates.dockerConfig),
    },
    logs: {
      collect: file?.logs?.collect ?? MONITOR_DEFAULTS.logs.collect,
      role: file?.logs?.role ?? MONITOR_DEFAULTS.logs.role,
      retention: logRetention,
      budget: file?.logs?.budget ?? MONITOR_DEFAULTS.logs.budget,
    },
    notify: [
      ...(options.notify ?? []).map((url) => ({ url, kinds: [], group: groupRoute({}, 'notify') })),
      ...(file?.notify ?? []).map((n, i) =>
        typeof n === 'string'
          ? { url: n, kinds: [], group: groupRoute({}, `notify[${i}]`) }
          : { url: n.url, kinds: n.kinds ?? [], group: groupRoute(n, `notify[${i}]`) },
      ),
    ],
  };
}

function groupRoute(
  n: {
    group_by?: readonly GroupLabel[] | undefined;
    group_wait?: string | undefined;
    group_interval?: string | undefined;
  },
  at: string,
): GroupRoute {
  return {
    by: n.group_by ?? GROUP_DEFAULTS.by,
    waitMs: parseDuration(n.group_wait ?? GROUP_DEFAULTS.wait, `${at}.group_wait`, true),
    intervalMs: parseDuration(n.group_interval ?? GROUP_DEFAULTS.interval, `${at}.group_interval`, true),
  };
}

function registryFrom(
  spec: NonNullable<MonitorFile['registries']>[number],
  index: number,
  env: NodeJS.ProcessEnv,
): RegistryConfig {
  let password: string | undefined;
  if (spec.passwordEnv !== undefined) {
    password = env[spec.passwordEnv];
    if (password === undefined || password === '')
      throw invalid(`registries.${index} (${spec.host}).passwordEnv: ${spec.passwordEnv} is not set`);
  }
  if (password !== undefined && spec.username === undefined)
    throw invalid(`registries.${index} (${spec.host}): passwordEnv without username`);
  return { host: spec.host, username: spec.username, password, insecure: spec.insecure === true };
}

/** The docker CLI's own: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
function defaultDockerConfig(env: NodeJS.ProcessEnv): string | undefined {
  if (env.DOCKER_CONFIG !== undefined && env.DOCKER_CONFIG !== '')
    return join(env.DOCKER_CONFIG, 'config.json');
  return env.HOME === undefined || env.HOME === '' ? undefined : join(env.HOME, '.docker', 'config.json');
}

/** `--log-retention 7d`, `2GiB` or `7d,2GiB` over the file's `logs.retention`, over the defaults. */
function parseLogRetention(
  flag: string | undefined,
  file: { age?: string | undefined; size?: string | undefined } | undefined,
): LogsConfig['retention'] {
  let age = file?.age ?? MONITOR_DEFAULTS.logs.retention.age;
  let size = file?.size ?? MONITOR_DEFAULTS.logs.retention.size;
  let ageWhat = 'logs.retention.age';
  let sizeWhat = 'logs.retention.size';
  for (const part of (flag ?? '').split(',').filter((p) => p.trim() !== '')) {
    if (/b$/i.test(part.trim())) {
      size = part;
      sizeWhat = '--log-retention';
    } else {
      age = part;
      ageWhat = '--log-retention';
    }
  }
  return { ageMs: parseDuration(age, ageWhat), sizeBytes: parseSize(size, sizeWhat) };
}

/** The engines of a config file alone (hot reload re-reads just these). */
export function enginesFromFile(file: string, env: NodeJS.ProcessEnv = process.env): EngineConfig[] {
  const parsed = readMonitorFile(file);
  return (parsed.engines ?? []).map((spec, i) => engineFromFile(spec, i, resolve(file, '..'), env));
}

/** `--engine NAME=URL`. */
function engineFromFlag(spec: string, env: NodeJS.ProcessEnv): EngineConfig {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? '' : spec.slice(0, eq);
  if (!NAME.test(name)) throw invalid(`--engine ${spec}: expected NAME=URL (NAME: letters, digits, . _ -)`);
  return {
    name,
    endpoint: parseEngineUrl(spec.slice(eq + 1), env),
    token: undefined,
    labels: {},
    stats: 'auto',
    logs: 'auto',
    source: 'flag',
  };
}

function engineFromFile(
  spec: z.output<typeof engineSchema>,
  index: number,
  base: string,
  env: NodeJS.ProcessEnv,
): EngineConfig {
  const at = `engines.${index} (${spec.name})`;
  let endpoint: EngineEndpoint;
  try {
    endpoint = parseEngineUrl(
      spec.url,
      spec.tls?.certDir === undefined
        ? {}
        : { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: resolve(base, spec.tls.certDir) },
    );
  } catch (error) {
    throw invalid(`${at}.url: ${(error as Error).message}`);
  }
  if (spec.tls !== undefined) {
    if (endpoint.kind !== 'tcp') throw invalid(`${at}.tls: only tcp:// and https:// engines use TLS`);
    endpoint = {
      ...endpoint,
      url: endpoint.url.replace(/^tcp:/, 'https:'),
      tls: tlsOf(spec.tls, base, at, endpoint.tls),
    };
  }
  let token = spec.token;
  if (spec.tokenEnv !== undefined) {
    token = env[spec.tokenEnv];
    if (token === undefined || token === '') throw invalid(`${at}.tokenEnv: ${spec.tokenEnv} is not set`);
  }
  return {
    name: spec.name,
    endpoint,
    token,
    labels: spec.labels ?? {},
    stats: spec.stats ?? 'auto',
    logs: spec.logs ?? 'auto',
    source: 'file',
  };
}

function tlsOf(
  tls: NonNullable<z.output<typeof engineSchema>['tls']>,
  base: string,
  at: string,
  fromDir: EngineTls | undefined,
): EngineTls {
  const read = (key: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const path = tls[key];
    if (path === undefined) return fromDir?.[key];
    try {
      return readFileSync(resolve(base, path));
    } catch (error) {
      throw invalid(`${at}.tls.${key}: ${(error as Error).message}`);
    }
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  return { verify: tls.verify ?? true, ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
}

/** `http://HOST:PORT` or `https://HOST:PORT` (with a certificate and key). */
function parseListen(
  raw: string,
  cert: string | undefined,
  key: string | undefined,
  insecure: boolean,
): ListenConfig {
  const match = /^(https?):\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(raw.trim());
  if (match === null) throw invalid(`--listen ${raw}: expected http://HOST:PORT or https://HOST:PORT`);
  const [, scheme, rawHost, rawPort] = match as unknown as [string, 'http' | 'https', string, string];
  let host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (host === 'localhost') host = '127.0.0.1';
  if (isIP(host) === 0)
    throw invalid(`--listen ${raw}: "${host}" is not an IP address (use 127.0.0.1, [::1], 0.0.0.0)`);
  const port = Number(rawPort);
  if (port > 65535) throw invalid(`--listen ${raw}: port out of range`);
  const loopback = host === '::1' || host.startsWith('127.');
  let tls: ListenConfig['tls'];
  if (scheme === 'https') {
    if (cert === undefined || key === undefined)
      throw invalid(`--listen ${raw}: https needs --tls-cert and --tls-key`);
    try {
      tls = { cert: readFileSync(cert), key: readFileSync(key) };
    } catch (error) {
      throw new DockgateError('DG_TLS_MATERIAL', `--tls-cert/--tls-key: ${(error as Error).message}`);
    }
  } else if (!loopback && !insecure) {
    throw invalid(
      `--listen ${raw}: plain http on a non-loopback address sends tokens in clear; use https:// with --tls-cert and --tls-key, or pass --insecure`,
    );
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  return { url: `${scheme}://${shown}:${port}`, host, port, tls, loopback };
}

function invalid(message: string): DockgateError {
  return new DockgateError('DG_CONFIG_INVALID', message);
}

/** Where the SQLite file lives in a data directory. */
export function databaseFile(data: string): string {
  return join(data, 'monitor.db');
}

/** `cluster:` of monitor.yaml: a lease of 3 s to 5 min, renewed five times within it. */
function clusterTiming(
  file:
    | { leaseTtl?: string | undefined; pollOnly?: boolean | undefined; poll?: string | undefined }
    | undefined,
): ClusterTiming {
  const leaseTtlMs =
    file?.leaseTtl === undefined
      ? CLUSTER_DEFAULTS.leaseTtlMs
      : parseDuration(file.leaseTtl, 'cluster.leaseTtl');
  if (leaseTtlMs < 3_000 || leaseTtlMs > 300_000)
    throw new DockgateError('DG_CONFIG_INVALID', 'cluster.leaseTtl: between 3s and 5m');
  const pollMs =
    file?.poll === undefined ? CLUSTER_DEFAULTS.pollMs : parseDuration(file.poll, 'cluster.poll');
  if (pollMs < 100 || pollMs > 60_000)
    throw new DockgateError('DG_CONFIG_INVALID', 'cluster.poll: between 100ms and 1m');
  return {
    leaseTtlMs,
    intervalMs: Math.round(leaseTtlMs / 5),
    pollOnly: file?.pollOnly ?? CLUSTER_DEFAULTS.pollOnly,
    pollMs,
  };
}
