import { DockgateError } from '../errors.js';
import type { ProfileSpec, RuleSpec } from './profile.js';

/** Tecnativa docker-socket-proxy's API sections, each an env var. */
const SECTIONS = [
  'AUTH',
  'BUILD',
  'COMMIT',
  'CONFIGS',
  'CONTAINERS',
  'DISTRIBUTION',
  'EVENTS',
  'EXEC',
  'GRPC',
  'IMAGES',
  'INFO',
  'NETWORKS',
  'NODES',
  'PING',
  'PLUGINS',
  'SECRETS',
  'SERVICES',
  'SESSION',
  'SWARM',
  'SYSTEM',
  'TASKS',
  'VERSION',
  'VOLUMES',
] as const;

/** Tecnativa's defaults: these sections are on unless set to 0. */
const ON_BY_DEFAULT = new Set(['EVENTS', 'PING', 'VERSION']);

const PATHS: Record<(typeof SECTIONS)[number], string> = {
  AUTH: '/auth',
  BUILD: '/build',
  COMMIT: '/commit',
  CONFIGS: '/configs',
  CONTAINERS: '/containers',
  DISTRIBUTION: '/distribution',
  EVENTS: '/events',
  EXEC: '/exec',
  GRPC: '/grpc',
  IMAGES: '/images',
  INFO: '/info',
  NETWORKS: '/networks',
  NODES: '/nodes',
  PING: '/_ping',
  PLUGINS: '/plugins',
  SECRETS: '/secrets',
  SERVICES: '/services',
  SESSION: '/session',
  SWARM: '/swarm',
  SYSTEM: '/system',
  TASKS: '/tasks',
  VERSION: '/version',
  VOLUMES: '/volumes',
};

/** Tecnativa's variables besides the sections: any of them set means a Tecnativa-style setup. */
const OTHER_VARIABLES = ['POST', 'ALLOW_START', 'ALLOW_STOP', 'ALLOW_RESTARTS', 'SOCKET_PATH', 'LOG_LEVEL'];

/**
 * True when the environment sets any of Tecnativa's variables (`CONTAINERS=1`, `POST=0`…): the
 * image's `DOCKGATE_TECNATIVA_ENV=auto` turns `--tecnativa-env` on then, so Tecnativa's compose
 * file works with only `image:` changed. `LOG_LEVEL` alone does not count (too common a name).
 */
export function tecnativaVariablesSet(env: NodeJS.ProcessEnv): boolean {
  return [...SECTIONS, ...OTHER_VARIABLES]
    .filter((name) => name !== 'LOG_LEVEL')
    .some((name) => env[name] !== undefined && env[name] !== '');
}

export interface TecnativaSettings {
  readonly profile: ProfileSpec;
  /** `SOCKET_PATH` as an upstream URL, when set. */
  readonly upstream: string | undefined;
  /** `LOG_LEVEL` mapped onto dockgate's levels, when set. */
  readonly logLevel: string | undefined;
}

/** HAProxy's syslog levels → dockgate's. */
const LOG_LEVELS: Record<string, string> = {
  emerg: 'error',
  alert: 'error',
  crit: 'error',
  err: 'error',
  warning: 'warn',
  notice: 'info',
  info: 'info',
  debug: 'debug',
};

/**
 * Reads Tecnativa/linuxserver docker-socket-proxy's environment and builds the equivalent
 * profile, with two corrections users asked for: `ALLOW_START`, `ALLOW_STOP` and
 * `ALLOW_RESTARTS` work without `POST=1` (Tecnativa#101, as linuxserver does), and with
 * `POST=0` the read-only sections do not expose file contents through archive/export
 * (Tecnativa#182), stdin through a websocket attach, or Env values. Bodies of allowed writes are inspected for host escapes unless `INSPECT=0`.
 */
export function tecnativaProfile(env: NodeJS.ProcessEnv): TecnativaSettings {
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new DockgateError('DG_CONFIG_INVALID', `${name}=${raw}: use 1 or 0`);
  };
  const post = flag('POST', false);
  const rules: RuleSpec[] = [];
  if (flag('ALLOW_START', false)) rules.push({ allow: 'POST /containers/*/start' });
  if (flag('ALLOW_STOP', false)) rules.push({ allow: 'POST /containers/*/stop' });
  if (flag('ALLOW_RESTARTS', false)) {
    for (const verb of ['stop', 'restart', 'kill']) rules.push({ allow: `POST /containers/*/${verb}` });
  }
  if (!post) {
    rules.push(
      { deny: 'GET,HEAD /containers/*/archive' },
      { deny: 'GET /containers/*/export' },
      { deny: 'GET /images/get' },
      { deny: 'GET /images/**/get' },
      // A websocket attach is a GET that writes: stdin goes to the container (issue 10).
      { deny: 'GET /containers/*/attach/ws' },
    );
  }
  for (const section of SECTIONS) {
    if (!flag(section, ON_BY_DEFAULT.has(section))) continue;
    const path = PATHS[section];
    const methods = post ? '*' : 'GET,HEAD';
    rules.push({ allow: `${methods} ${path}` }, { allow: `${methods} ${path}/**` });
  }
  const logLevel = env.LOG_LEVEL;
  const socket = env.SOCKET_PATH;
  return {
    profile: {
      description: 'built from Tecnativa docker-socket-proxy environment variables',
      rules,
      inspect: flag('INSPECT', true),
      // POST=0 is read-only: Env values (passwords, tokens) are redacted as in dockgate's own
      // read-only profile, so the compose file's 0.0.0.0:2375 passes protected mode (issue 10).
      // With POST=1 the caller can create containers anyway, and tools that recreate containers
      // from inspect (Portainer, Watchtower) need the values: they are kept.
      redactEnv: !post,
      // Tecnativa's HAProxy refuses with 403 whatever the method; a drop-in answers the same.
      methodNotAllowed: false,
    },
    upstream: socket === undefined || socket === '' ? undefined : `unix://${socket}`,
    logLevel:
      logLevel === undefined || logLevel === ''
        ? undefined
        : (LOG_LEVELS[logLevel.toLowerCase()] ?? logLevel),
  };
}
