import { DockgateError } from '../errors.js';
import { type EscapeAllowances, NO_ESCAPES } from './host-escapes.js';

export const MODES = ['enforce', 'warn', 'audit'] as const;
export type Mode = (typeof MODES)[number];

/** A condition on one body field (dotted path, each step matched as Go matches struct fields). */
export interface Condition {
  readonly equals?: string | number | boolean | null;
  readonly in?: readonly (string | number | boolean | null)[];
  readonly notIn?: readonly (string | number | boolean | null)[];
  readonly matches?: string;
  readonly absent?: boolean;
}

/** A rule as written: `allow: "GET,HEAD /containers/*\/json"` or `deny: …`, optional `when`. */
export interface RuleSpec {
  readonly allow?: string;
  readonly deny?: string;
  readonly when?: Readonly<Record<string, Condition>>;
}

export interface ProfileSpec {
  readonly description?: string;
  readonly extends?: string;
  readonly mode?: Mode;
  readonly rules?: readonly RuleSpec[];
  /** Inspect bodies for host escapes (default true; `full` turns it off). */
  readonly inspect?: boolean;
  readonly allow?: Partial<EscapeAllowances>;
  readonly ownership?: boolean;
  readonly redactEnv?: boolean;
  /**
   * A method refused on a path the profile allows for other methods: 405 (default), or 403 when
   * false — what Tecnativa's HAProxy answers, for clients of a drop-in that check for 403.
   */
  readonly methodNotAllowed?: boolean;
  /** Largest inspected body, bytes (413 beyond). */
  readonly bodyLimit?: number;
  readonly rateLimit?: { readonly perSecond: number; readonly burst?: number };
  readonly concurrency?: number;
}

export interface CompiledRule {
  /** "deploy#3", shown in decisions and the audit log. */
  readonly name: string;
  readonly action: 'allow' | 'deny';
  /** Upper-case methods; empty means any. */
  readonly methods: ReadonlySet<string>;
  readonly regex: RegExp;
  readonly when: readonly [string[], Condition][];
  readonly source: string;
}

export interface Profile {
  readonly name: string;
  readonly description: string;
  readonly mode: Mode;
  readonly rules: readonly CompiledRule[];
  readonly inspect: boolean;
  readonly allow: EscapeAllowances;
  readonly ownership: boolean;
  readonly redactEnv: boolean;
  readonly methodNotAllowed: boolean;
  readonly bodyLimit: number;
  readonly rateLimit: { readonly perSecond: number; readonly burst: number } | undefined;
  readonly concurrency: number | undefined;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const READ_ONLY_RULES = [
  'GET,HEAD /_ping',
  'GET,HEAD /version',
  'GET,HEAD /info',
  'GET,HEAD /events',
  'GET,HEAD /system/df',
  'GET,HEAD /containers/json',
  'GET,HEAD /containers/*/json',
  'GET,HEAD /containers/*/top',
  'GET,HEAD /containers/*/logs',
  'GET,HEAD /containers/*/stats',
  'GET,HEAD /containers/*/changes',
  'GET,HEAD /images/json',
  'GET,HEAD /images/**/json',
  'GET,HEAD /images/**/history',
  'GET,HEAD /networks',
  'GET,HEAD /networks/*',
  'GET,HEAD /volumes',
  'GET,HEAD /volumes/*',
  // The gateway's own bulk stats (the monitor's agent): the same facts as each container's /stats.
  'GET /dockgate/v1/stats',
  // A container's log read from its files on the host: the same lines as its /logs.
  'GET /dockgate/v1/containers/*/logs',
  // The engine's machine from /proc and statfs: what /info says of it, measured (docs/hosts.md).
  'GET /dockgate/v1/host',
].map((allow) => ({ allow }));

const MANAGE_RULES = ['start', 'stop', 'restart', 'kill', 'pause', 'unpause', 'wait'].map((verb) => ({
  allow: `POST /containers/*/${verb}`,
}));

const DEPLOY_RULES = [
  'POST /containers/create',
  'DELETE /containers/*',
  'POST /containers/*/update',
  'POST /containers/*/rename',
  'POST /containers/*/resize',
  'POST /containers/*/exec',
  'POST /exec/*/start',
  'POST /exec/*/resize',
  'GET /exec/*/json',
  'POST /containers/*/attach',
  'GET /containers/*/attach/ws',
  'GET,HEAD,PUT /containers/*/archive',
  'POST /images/create',
  'POST /images/**/tag',
  'DELETE /images/**',
  'POST /build',
  'POST /images/load',
  'POST /volumes/create',
  'DELETE /volumes/*',
  'POST /networks/create',
  'DELETE /networks/*',
  'POST /networks/*/connect',
  'POST /networks/*/disconnect',
  'POST /containers/prune',
  'POST /images/prune',
  'POST /volumes/prune',
  'POST /networks/prune',
  'POST /build/prune',
].map((allow) => ({ allow }));

/** The built-in profiles, as data: the same shape a config file uses. */
export const BUILTIN_PROFILES: Readonly<Record<string, ProfileSpec>> = {
  'read-only': {
    description: 'look, never touch: lists, inspect, logs, stats, events; Env values redacted',
    rules: READ_ONLY_RULES,
    redactEnv: true,
  },
  manage: {
    description: 'read-only + start, stop, restart, kill, pause, unpause, wait',
    extends: 'read-only',
    rules: MANAGE_RULES,
  },
  deploy: {
    description:
      'manage + create/remove containers, exec, attach, archive, images, volumes, networks, prune; bodies inspected for host escapes',
    extends: 'manage',
    rules: DEPLOY_RULES,
    redactEnv: false,
  },
  full: {
    description: 'everything, unchecked: root on the engine host (what socat gives)',
    rules: [{ allow: '* /**' }],
    inspect: false,
    redactEnv: false,
  },
};

export const BUILTIN_NAMES = Object.keys(BUILTIN_PROFILES);

/** Compiles profile specs (built-ins plus `extra`); extends chains are resolved, cycles refused. */
export function compileProfiles(extra: Readonly<Record<string, ProfileSpec>>): Map<string, Profile> {
  const specs: Record<string, ProfileSpec> = { ...BUILTIN_PROFILES, ...extra };
  const out = new Map<string, Profile>();
  const resolving = new Set<string>();
  const resolve = (name: string): Profile => {
    const done = out.get(name);
    if (done !== undefined) return done;
    const spec = specs[name];
    if (spec === undefined) throw new DockgateError('DG_CONFIG_INVALID', `unknown profile "${name}"`);
    if (resolving.has(name)) throw new DockgateError('DG_CONFIG_INVALID', `profile "${name}" extends itself`);
    resolving.add(name);
    const parent = spec.extends === undefined ? undefined : resolve(spec.extends);
    const own = (spec.rules ?? []).map((rule, i) => compileRule(rule, `${name}#${i + 1}`));
    const profile: Profile = {
      name,
      description: spec.description ?? parent?.description ?? '',
      mode: spec.mode ?? parent?.mode ?? 'enforce',
      rules: [...own, ...(parent?.rules ?? [])],
      inspect: spec.inspect ?? parent?.inspect ?? true,
      allow: { ...(parent?.allow ?? NO_ESCAPES), ...spec.allow },
      ownership: spec.ownership ?? parent?.ownership ?? false,
      redactEnv: spec.redactEnv ?? parent?.redactEnv ?? false,
      methodNotAllowed: spec.methodNotAllowed ?? parent?.methodNotAllowed ?? true,
      bodyLimit: spec.bodyLimit ?? parent?.bodyLimit ?? DEFAULT_BODY_LIMIT,
      rateLimit:
        spec.rateLimit === undefined
          ? parent?.rateLimit
          : {
              perSecond: spec.rateLimit.perSecond,
              burst: spec.rateLimit.burst ?? Math.max(1, Math.ceil(spec.rateLimit.perSecond)),
            },
      concurrency: spec.concurrency ?? parent?.concurrency,
    };
    resolving.delete(name);
    out.set(name, profile);
    return profile;
  };
  for (const name of Object.keys(specs)) resolve(name);
  return out;
}

const METHOD = /^[A-Z]+$/;

export function compileRule(spec: RuleSpec, name: string): CompiledRule {
  const given = [spec.allow, spec.deny].filter((v) => v !== undefined);
  if (given.length !== 1)
    throw new DockgateError('DG_CONFIG_INVALID', `rule ${name}: give exactly one of allow or deny`);
  const action = spec.allow !== undefined ? 'allow' : 'deny';
  const source = (given[0] as string).trim();
  const parts = source.split(/\s+/);
  if (parts.length !== 2) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `rule ${name}: write "METHOD[,METHOD] /path/pattern", got ${JSON.stringify(source)}`,
    );
  }
  const [methodText, pattern] = parts as [string, string];
  const methods = methodText === '*' ? new Set<string>() : new Set(methodText.split(','));
  for (const m of methods) {
    if (!METHOD.test(m))
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `rule ${name}: method ${JSON.stringify(m)} must be upper case, such as GET`,
      );
  }
  if (!pattern.startsWith('/') || /\/\/|\/\.\.?(\/|$)/.test(pattern) || /[?#%]/.test(pattern)) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `rule ${name}: path pattern ${JSON.stringify(pattern)} must be a normalised path such as /containers/*/json`,
    );
  }
  for (const segment of pattern.split('/').slice(1)) {
    if (segment.includes('*') && segment !== '*' && segment !== '**') {
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `rule ${name}: "*" and "**" must be whole path segments in ${pattern}`,
      );
    }
  }
  const when = Object.entries(spec.when ?? {}).map(([field, condition]): [string[], Condition] => {
    if (condition.matches !== undefined) {
      try {
        new RegExp(condition.matches);
      } catch (error) {
        throw new DockgateError(
          'DG_CONFIG_INVALID',
          `rule ${name}: when ${field}: ${(error as Error).message}`,
        );
      }
    }
    return [field.split('.'), condition];
  });
  return {
    name,
    action,
    methods,
    regex: patternRegex(pattern),
    when,
    source: `${action} ${source}`,
  };
}

/** `*` is one segment, `**` one or more; `/**` alone matches every path. */
function patternRegex(pattern: string): RegExp {
  if (pattern === '/**') return /^\/.*$/;
  const body = pattern
    .split('/')
    .map((segment) => {
      if (segment === '*') return '[^/]+';
      if (segment === '**') return '.+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${body}$`);
}
