import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  defaultEngineEndpoint,
  type EngineEndpoint,
  type EngineTls,
  parseEngineUrl,
} from '../engine/endpoint.js';

/** How to reach the engine; every field optional — without any, the docker CLI's rules apply. */
export interface ConnectionOptions {
  /** `unix:///…`, `npipe:////./pipe/…`, `tcp://host:port`, `https://…`, or a parsed endpoint. */
  readonly url?: string | EngineEndpoint;
  /** Shorthand for `url: unix://<socketPath>` (or the named pipe on Windows). */
  readonly socketPath?: string;
  /** TLS material for tcp/https engines (overrides DOCKER_CERT_PATH). */
  readonly tls?: EngineTls;
}

export interface ResolvedEngine {
  readonly endpoint: EngineEndpoint;
  /** Where the address came from, for error messages: "option", "DOCKER_HOST", "context NAME", "default". */
  readonly source: string;
}

/**
 * Finds the engine as the docker CLI does: explicit options, then `DOCKER_HOST`, then the
 * current docker context (`DOCKER_CONTEXT`, else `currentContext` of `~/.docker/config.json`,
 * its endpoint in `~/.docker/contexts/meta/<sha256 of the name>/meta.json` and TLS material in
 * `~/.docker/contexts/tls/<sha256>/docker/`), then the platform's default socket.
 */
export function resolveEngine(
  options: ConnectionOptions,
  env: NodeJS.ProcessEnv = process.env,
  home = homedir(),
): ResolvedEngine {
  const withTls = (endpoint: EngineEndpoint): EngineEndpoint =>
    options.tls !== undefined && endpoint.kind === 'tcp' ? { ...endpoint, tls: options.tls } : endpoint;
  if (options.url !== undefined) {
    return {
      endpoint: withTls(typeof options.url === 'string' ? parseEngineUrl(options.url, env) : options.url),
      source: 'option',
    };
  }
  if (options.socketPath !== undefined) {
    const url = options.socketPath.startsWith('\\\\')
      ? `npipe://${options.socketPath.replace(/\\/g, '/')}`
      : `unix://${options.socketPath}`;
    return { endpoint: parseEngineUrl(url, env), source: 'option' };
  }
  if (env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== '') {
    return { endpoint: withTls(parseEngineUrl(env.DOCKER_HOST, env)), source: 'DOCKER_HOST' };
  }
  const context = contextEndpoint(env, home);
  if (context !== undefined)
    return { endpoint: withTls(context.endpoint), source: `context ${context.name}` };
  return { endpoint: withTls(defaultEngineEndpoint()), source: 'default' };
}

function contextEndpoint(
  env: NodeJS.ProcessEnv,
  home: string,
): { name: string; endpoint: EngineEndpoint } | undefined {
  const dockerDir =
    env.DOCKER_CONFIG !== undefined && env.DOCKER_CONFIG !== '' ? env.DOCKER_CONFIG : join(home, '.docker');
  let name = env.DOCKER_CONTEXT;
  if (name === undefined || name === '') {
    const configFile = join(dockerDir, 'config.json');
    if (!existsSync(configFile)) return undefined;
    try {
      name = (JSON.parse(readFileSync(configFile, 'utf8')) as { currentContext?: string }).currentContext;
    } catch {
      return undefined; // the CLI also ignores an unreadable config for the context
    }
  }
  if (name === undefined || name === '' || name === 'default') return undefined;
  const id = createHash('sha256').update(name).digest('hex');
  const metaFile = join(dockerDir, 'contexts', 'meta', id, 'meta.json');
  if (!existsSync(metaFile)) throw new Error(`docker context "${name}" not found (${metaFile})`);
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as {
    Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
  };
  const host = meta.Endpoints?.docker?.Host;
  if (host === undefined) throw new Error(`docker context "${name}" has no docker endpoint`);
  const tlsDir = join(dockerDir, 'contexts', 'tls', id, 'docker');
  const hasTls = existsSync(tlsDir);
  // A context with TLS material uses it, as the CLI does; SkipTLSVerify turns verification off.
  const endpoint = parseEngineUrl(
    host,
    hasTls
      ? {
          DOCKER_TLS_VERIFY: meta.Endpoints?.docker?.SkipTLSVerify === true ? '' : '1',
          DOCKER_TLS: '1',
          DOCKER_CERT_PATH: tlsDir,
        }
      : {},
  );
  return { name, endpoint };
}
