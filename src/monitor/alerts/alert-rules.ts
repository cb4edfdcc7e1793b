import { z } from 'zod';
import { DockgateError } from '../../errors.js';
import { parseDuration } from '../config/duration.js';
import { parseSize } from '../config/size.js';
import { compileQuery, type LogQuery } from '../logs/log-query.js';
import type { ContainerItem } from '../model/container.js';

export const ALERT_KINDS = [
  'died',
  'oom',
  'unhealthy',
  'restart-loop',
  'engine-down',
  'missing',
  'cpu',
  'memory',
  'log',
  'update-available',
  'update-failed',
  'disk',
  'disk-fill',
  'host-memory',
  'host-cpu',
  'host-temperature',
  'host-network',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

const scopeSchema = z
  .object({
    engines: z.array(z.string()).optional(),
    /** Container name globs: `web-*`, `*db*`. */
    names: z.array(z.string()).optional(),
    /** `key=value` or `key`: all must match. */
    labels: z.array(z.string()).optional(),
    /** Compose projects. */
    projects: z.array(z.string()).optional(),
  })
  .strict();

/** What a filesystem rule watches: `docker-root`, `*`, or an absolute mount point. */
const mountSpec = z
  .string()
  .regex(/^(docker-root|\*|\/.*)$/, 'a mount point (/data), docker-root, or * (every writable filesystem)');

const common = {
  enabled: z.boolean().optional(),
  scope: scopeSchema.optional(),
  for: z.string().optional(),
  cooldown: z.string().optional(),
  /** Reminders for incidents still open and not acknowledged (off unless set). */
  repeat: z.string().optional(),
};

export const alertsSchema = z
  .object({
    died: z
      .object({ ...common })
      .strict()
      .optional(),
    oom: z
      .object({ ...common })
      .strict()
      .optional(),
    unhealthy: z
      .object({ ...common })
      .strict()
      .optional(),
    'restart-loop': z
      .object({
        ...common,
        restarts: z.number().int().min(2).optional(),
        window: z.string().optional(),
        settle: z.string().optional(),
      })
      .strict()
      .optional(),
    'engine-down': z
      .object({ ...common })
      .strict()
      .optional(),
    missing: z
      .object({ ...common, containers: z.array(z.string()).optional() })
      .strict()
      .optional(),
    cpu: z
      .object({ ...common, above: z.number().positive().optional() })
      .strict()
      .optional(),
    memory: z
      .object({ ...common, above: z.union([z.number().positive(), z.string()]).optional() })
      .strict()
      .optional(),
    /** A container's image tag moved on its registry (docs/updates.md): one message per new digest. */
    'update-available': z
      .object({ ...common })
      .strict()
      .optional(),
    /** An update asked through the monitor was rolled back (docs/updates.md#the-gate). */
    'update-failed': z
      .object({ ...common })
      .strict()
      .optional(),
    /** A filesystem of an engine's host above `usedPercent` or below `availableBytes` (docs/hosts.md). */
    disk: z
      .object({
        ...common,
        usedPercent: z.number().positive().max(100).optional(),
        availableBytes: z.union([z.number().positive(), z.string()]).optional(),
        /** Mount points, `docker-root` (the default) or `*` (every writable one). */
        mounts: z.array(mountSpec).min(1).optional(),
      })
      .strict()
      .optional(),
    /** A filesystem predicted full within `within`, from its free space's slope over `window`. */
    'disk-fill': z
      .object({
        ...common,
        within: z.string().optional(),
        window: z.string().optional(),
        mounts: z.array(mountSpec).min(1).optional(),
      })
      .strict()
      .optional(),
    /** The host's available memory below `below` (a percent of the total, or a size). */
    'host-memory': z
      .object({ ...common, below: z.union([z.number().positive(), z.string()]).optional() })
      .strict()
      .optional(),
    /** The host's CPU (all cores) above `above` percent. */
    'host-cpu': z
      .object({ ...common, above: z.number().positive().max(100).optional() })
      .strict()
      .optional(),
    /**
     * The host's hottest sensor above `above` °C — or, with no `above`, above the sensor's own
     * critical limit less 5 °C, where the chip says one.
     */
    'host-temperature': z
      .object({ ...common, above: z.number().positive().max(150).optional() })
      .strict()
      .optional(),
    /** The host's network traffic (in and out together, real interfaces) above `above` per second. */
    'host-network': z
      .object({ ...common, above: z.union([z.number().positive(), z.string()]).optional() })
      .strict()
      .optional(),
    /** Patterns in the kept logs (docs/alerts.md#log): one incident per container and pattern. */
    log: z
      .array(
        z
          .object({
            ...common,
            name: z.string().min(1).max(63).optional(),
            /** The Logs page's syntax: words, "a phrase", -word, /regex/. */
            pattern: z.string().min(1),
            /** Resolved after this long without a match. */
            quiet: z.string().optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

export type AlertsFile = z.output<typeof alertsSchema>;

export interface Scope {
  readonly engines: readonly string[];
  readonly names: readonly RegExp[];
  readonly labels: readonly string[];
  readonly projects: readonly string[];
}

export interface Rule {
  readonly kind: AlertKind;
  readonly enabled: boolean;
  readonly scope: Scope;
  readonly forMs: number;
  readonly resolveForMs: number;
  readonly cooldownMs: number;
  readonly repeatMs: number | undefined;
}

/** A `log` rule: a pattern over new lines, per scope. */
export interface LogRule {
  readonly name: string;
  readonly pattern: string;
  readonly query: LogQuery;
  /** Scope, cooldown, repeat; `resolveForMs` is the quiet period. */
  readonly rule: Rule;
}

export interface AlertRules {
  readonly rules: Readonly<Record<AlertKind, Rule>>;
  readonly logs: readonly LogRule[];
  /** restart-loop: restarts in the window that make a loop, and how long it must then run stably. */
  readonly loop: { readonly restarts: number; readonly windowMs: number; readonly settleMs: number };
  /** missing: names (`web`) and label selectors (`label:app=db`) that must be running. */
  readonly missing: readonly string[];
  readonly cpuAbovePercent: number;
  /** memory: a fraction of the limit (`90%`) or bytes. */
  readonly memoryAbove: { readonly fraction: number } | { readonly bytes: number };
  /** The host rules' thresholds (docs/hosts.md#alerts). */
  readonly host: HostThresholds;
}

export interface HostThresholds {
  readonly disk: {
    readonly usedPercent: number;
    readonly availableBytes: number | undefined;
    readonly mounts: readonly string[];
  };
  readonly diskFill: {
    readonly withinMs: number;
    readonly windowMs: number;
    readonly mounts: readonly string[];
  };
  readonly memoryBelow: { readonly fraction: number } | { readonly bytes: number };
  readonly cpuAbovePercent: number;
  /** undefined: each sensor's critical limit less `CRITICAL_MARGIN_CELSIUS`. */
  readonly temperatureAboveCelsius: number | undefined;
  /** Bytes per second, in and out together. */
  readonly networkAboveBytesPerSecond: number;
}

/** The defaults, in one place (docs/alerts.md shows them). */
export const ALERT_DEFAULTS = {
  for: '30s',
  cooldown: '5m',
  loop: { restarts: 3, window: '10m', settle: '2m' },
  cpu: { above: 90, for: '5m' },
  memory: { above: '90%', for: '5m' },
  log: { quiet: '10m' },
  disk: { usedPercent: 90, for: '1m', mounts: ['docker-root'] },
  diskFill: { within: '24h', window: '6h', for: '10m' },
  hostMemory: { below: '10%', for: '5m' },
  hostCpu: { above: 90, for: '5m' },
  hostTemperature: { for: '2m' },
  hostNetwork: { above: '100MiB', for: '5m' },
} as const;

/** What monitor.yaml's `alerts:` says, with every default filled in; errors name the key. */
export function compileAlertRules(file: AlertsFile | undefined): AlertRules {
  const f = file ?? {};
  const rule = (
    kind: AlertKind,
    on: boolean,
    spec:
      | {
          enabled?: boolean | undefined;
          scope?: z.output<typeof scopeSchema> | undefined;
          for?: string | undefined;
          cooldown?: string | undefined;
          repeat?: string | undefined;
        }
      | undefined,
    forDefault: string,
    resolveDefault: string,
  ): Rule => ({
    kind,
    enabled: spec?.enabled ?? on,
    scope: scopeOf(spec?.scope, `alerts.${kind}.scope`),
    forMs: duration(spec?.for ?? forDefault, `alerts.${kind}.for`),
    resolveForMs: duration(spec?.for ?? resolveDefault, `alerts.${kind}.for`),
    cooldownMs: duration(spec?.cooldown ?? ALERT_DEFAULTS.cooldown, `alerts.${kind}.cooldown`),
    repeatMs: spec?.repeat === undefined ? undefined : duration(spec.repeat, `alerts.${kind}.repeat`),
  });
  const loop = f['restart-loop'];
  const settle = loop?.settle ?? ALERT_DEFAULTS.loop.settle;
  const missing = f.missing?.containers ?? [];
  const memoryAbove = f.memory?.above ?? ALERT_DEFAULTS.memory.above;
  return {
    rules: {
      // A crash is an event: it opens at once; it is over once the container runs for `for`.
      died: rule('died', true, f.died, '0s', ALERT_DEFAULTS.for),
      oom: rule('oom', true, f.oom, '0s', ALERT_DEFAULTS.for),
      unhealthy: rule('unhealthy', true, f.unhealthy, ALERT_DEFAULTS.for, ALERT_DEFAULTS.for),
      'restart-loop': {
        ...rule('restart-loop', true, loop, '0s', settle),
        resolveForMs: duration(settle, 'alerts.restart-loop.settle'),
      },
      'engine-down': rule('engine-down', true, f['engine-down'], ALERT_DEFAULTS.for, '0s'),
      missing: rule('missing', missing.length > 0, f.missing, ALERT_DEFAULTS.for, '0s'),
      cpu: rule('cpu', false, f.cpu, ALERT_DEFAULTS.cpu.for, ALERT_DEFAULTS.cpu.for),
      memory: rule('memory', false, f.memory, ALERT_DEFAULTS.memory.for, ALERT_DEFAULTS.memory.for),
      log: rule('log', (f.log ?? []).length > 0, undefined, '0s', ALERT_DEFAULTS.log.quiet),
      // Off by default; a newer digest is a new incident, the container updated resolves it.
      'update-available': rule('update-available', false, f['update-available'], '0s', '0s'),
      // On: someone asked for the update and it did not happen; resolved by a later update that works.
      'update-failed': rule('update-failed', true, f['update-failed'], '0s', '0s'),
      // The host's (docs/hosts.md): disk and disk-fill on by default — the way fleets fail most.
      disk: rule('disk', true, f.disk, ALERT_DEFAULTS.disk.for, ALERT_DEFAULTS.disk.for),
      'disk-fill': rule(
        'disk-fill',
        true,
        f['disk-fill'],
        ALERT_DEFAULTS.diskFill.for,
        ALERT_DEFAULTS.diskFill.for,
      ),
      'host-memory': rule(
        'host-memory',
        false,
        f['host-memory'],
        ALERT_DEFAULTS.hostMemory.for,
        ALERT_DEFAULTS.hostMemory.for,
      ),
      'host-cpu': rule(
        'host-cpu',
        false,
        f['host-cpu'],
        ALERT_DEFAULTS.hostCpu.for,
        ALERT_DEFAULTS.hostCpu.for,
      ),
      'host-temperature': rule(
        'host-temperature',
        false,
        f['host-temperature'],
        ALERT_DEFAULTS.hostTemperature.for,
        ALERT_DEFAULTS.hostTemperature.for,
      ),
      'host-network': rule(
        'host-network',
        false,
        f['host-network'],
        ALERT_DEFAULTS.hostNetwork.for,
        ALERT_DEFAULTS.hostNetwork.for,
      ),
    },
    logs: (f.log ?? []).map((spec, i) => {
      const at = `alerts.log[${i}]`;
      let query: LogQuery;
      try {
        query = compileQuery(spec.pattern);
      } catch (error) {
        throw new DockgateError('DG_CONFIG_INVALID', `${at}.pattern: ${(error as Error).message}`);
      }
      if (query.all) throw new DockgateError('DG_CONFIG_INVALID', `${at}.pattern: matches every line`);
      const base = rule('log', true, spec, '0s', ALERT_DEFAULTS.log.quiet);
      return {
        name: spec.name ?? spec.pattern,
        pattern: spec.pattern,
        query,
        rule: { ...base, resolveForMs: duration(spec.quiet ?? ALERT_DEFAULTS.log.quiet, `${at}.quiet`) },
      };
    }),
    loop: {
      restarts: loop?.restarts ?? ALERT_DEFAULTS.loop.restarts,
      windowMs: duration(loop?.window ?? ALERT_DEFAULTS.loop.window, 'alerts.restart-loop.window'),
      settleMs: duration(settle, 'alerts.restart-loop.settle'),
    },
    missing,
    cpuAbovePercent: f.cpu?.above ?? ALERT_DEFAULTS.cpu.above,
    memoryAbove: memoryThreshold(memoryAbove),
    host: {
      disk: {
        usedPercent: f.disk?.usedPercent ?? ALERT_DEFAULTS.disk.usedPercent,
        availableBytes:
          f.disk?.availableBytes === undefined
            ? undefined
            : size(f.disk.availableBytes, 'alerts.disk.availableBytes'),
        mounts: f.disk?.mounts ?? ALERT_DEFAULTS.disk.mounts,
      },
      diskFill: {
        withinMs: duration(
          f['disk-fill']?.within ?? ALERT_DEFAULTS.diskFill.within,
          'alerts.disk-fill.within',
        ),
        windowMs: duration(
          f['disk-fill']?.window ?? ALERT_DEFAULTS.diskFill.window,
          'alerts.disk-fill.window',
        ),
        mounts: f['disk-fill']?.mounts ?? f.disk?.mounts ?? ALERT_DEFAULTS.disk.mounts,
      },
      memoryBelow: hostMemoryThreshold(f['host-memory']?.below ?? ALERT_DEFAULTS.hostMemory.below),
      cpuAbovePercent: f['host-cpu']?.above ?? ALERT_DEFAULTS.hostCpu.above,
      temperatureAboveCelsius: f['host-temperature']?.above,
      networkAboveBytesPerSecond: size(
        f['host-network']?.above ?? ALERT_DEFAULTS.hostNetwork.above,
        'alerts.host-network.above',
      ),
    },
  };
}

function size(value: number | string, at: string): number {
  return typeof value === 'number' ? value : parseSize(value, at);
}

function hostMemoryThreshold(value: number | string): HostThresholds['memoryBelow'] {
  const percent = typeof value === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(value) : null;
  if (percent !== null) return { fraction: Number(percent[1]) / 100 };
  return { bytes: size(value, 'alerts.host-memory.below') };
}

/** The label on a container that silences every alert about it. */
export const SILENCE_LABEL = 'dockgate.alerts';

/** True when `rule` applies to `item` (its scope, and no `dockgate.alerts=off`). */
export function inScope(
  rule: Rule,
  item: Pick<ContainerItem, 'engine' | 'name' | 'labels' | 'compose'>,
): boolean {
  if (item.labels[SILENCE_LABEL] === 'off') return false;
  const s = rule.scope;
  if (s.engines.length > 0 && !s.engines.includes(item.engine)) return false;
  if (s.names.length > 0 && !s.names.some((re) => re.test(item.name))) return false;
  if (s.projects.length > 0 && !s.projects.includes(item.compose?.project ?? '')) return false;
  return s.labels.every((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in item.labels : item.labels[l.slice(0, eq)] === l.slice(eq + 1);
  });
}

function scopeOf(scope: z.output<typeof scopeSchema> | undefined, at: string): Scope {
  return {
    engines: scope?.engines ?? [],
    names: (scope?.names ?? []).map((glob) => globRegex(glob, at)),
    labels: scope?.labels ?? [],
    projects: scope?.projects ?? [],
  };
}

/** `web-*` → /^web-.*$/ (only `*` and `?` are special). */
export function globRegex(glob: string, at = 'glob'): RegExp {
  if (glob === '') throw new DockgateError('DG_CONFIG_INVALID', `${at}: an empty name pattern`);
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function memoryThreshold(value: number | string): AlertRules['memoryAbove'] {
  if (typeof value === 'number' || /^\d+(\.\d+)?$/.test(value)) return { bytes: Number(value) };
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (percent !== null) return { fraction: Number(percent[1]) / 100 };
  try {
    return { bytes: parseSize(value, 'alerts.memory.above') };
  } catch {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `alerts.memory.above: "${value}" is a percent of the limit (90%) or a size (512MiB)`,
    );
  }
}

function duration(text: string, at: string): number {
  if (text === '0s') return 0;
  return parseDuration(text, at);
}
