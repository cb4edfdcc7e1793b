import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DockgateError } from '../errors.js';

/** Client-side TLS material for an engine reached over TCP (the `DOCKER_CERT_PATH` convention). */
export interface EngineTls {
  /** PEM of the CA that signed the engine's certificate; absent = system CAs. */
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** `DOCKER_TLS_VERIFY` unset means "encrypt but do not verify", as the docker CLI does. */
  readonly verify: boolean;
}

/** Where a Docker engine listens. `url` is the normalised form, used in logs and errors. */
export type EngineEndpoint =
  | { readonly kind: 'unix'; readonly url: string; readonly path: string }
  | { readonly kind: 'npipe'; readonly url: string; readonly path: string }
  | {
      readonly kind: 'tcp';
      readonly url: string;
      readonly host: string;
      readonly port: number;
      /** `tcp://host:port/prefix`: the docker CLI sends every path under the prefix. '' when none. */
      readonly basePath: string;
      readonly tls: EngineTls | undefined;
    };

export interface TlsEnvironment {
  readonly DOCKER_TLS_VERIFY?: string | undefined;
  readonly DOCKER_TLS?: string | undefined;
  readonly DOCKER_CERT_PATH?: string | undefined;
}

/**
 * Parses an engine address the way the docker CLI reads `DOCKER_HOST`:
 * `unix:///path`, `npipe:////./pipe/name`, `tcp://host:port[/prefix]`, `https://…` (TLS) or
 * `http://…`. For `tcp://`, TLS is on when `DOCKER_TLS_VERIFY` or `DOCKER_TLS` is set, with the
 * client certificate, key and CA from `DOCKER_CERT_PATH` (default `~/.docker`).
 */
export function parseEngineUrl(raw: string, env: TlsEnvironment = process.env): EngineEndpoint {
  const text = raw.trim();
  const fail = (why: string): never => {
    throw new DockgateError('DG_CONFIG_INVALID', `invalid engine address "${raw}": ${why}`);
  };
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/')) fail('a unix socket path must be absolute (unix:///var/run/docker.sock)');
    return { kind: 'unix', url: `unix://${path}`, path };
  }
  if (text.startsWith('npipe://')) {
    // npipe:////./pipe/docker_engine → \\.\pipe\docker_engine (the CLI accepts either slash).
    const rest = text.slice('npipe://'.length).replace(/\//g, '\\');
    if (!/^\\\\[^\\]+\\pipe\\[^\\]+$/.test(rest)) fail('expected npipe:////./pipe/NAME');
    return { kind: 'npipe', url: text, path: rest };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail('expected unix://, npipe://, tcp://, http:// or https://');
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'tcp' && scheme !== 'http' && scheme !== 'https') {
    fail(`unsupported scheme "${scheme}"`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    fail('credentials, query and fragment are not allowed');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') fail('a host is required');
  const wantsTls =
    scheme === 'https' || (scheme === 'tcp' && (nonEmpty(env.DOCKER_TLS_VERIFY) || nonEmpty(env.DOCKER_TLS)));
  const port = url.port === '' ? (wantsTls ? 2376 : 2375) : Number(url.port);
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  const tls = wantsTls ? loadEngineTls(env) : undefined;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    kind: 'tcp',
    url: `${wantsTls ? 'https' : 'tcp'}://${shownHost}:${port}${basePath}`,
    host,
    port,
    basePath,
    tls,
  };
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value !== '';
}

function loadEngineTls(env: TlsEnvironment): EngineTls {
  const dir = nonEmpty(env.DOCKER_CERT_PATH) ? (env.DOCKER_CERT_PATH as string) : join(homedir(), '.docker');
  const read = (name: string): Buffer | undefined => {
    const file = join(dir, name);
    if (!existsSync(file)) return undefined;
    try {
      return readFileSync(file);
    } catch (cause) {
      throw new DockgateError('DG_TLS_MATERIAL', `cannot read ${file}`, { cause });
    }
  };
  const verify = nonEmpty(env.DOCKER_TLS_VERIFY);
  const ca = read('ca.pem');
  const cert = read('cert.pem');
  const key = read('key.pem');
  if ((cert === undefined) !== (key === undefined)) {
    throw new DockgateError('DG_TLS_MATERIAL', `${dir} must hold both cert.pem and key.pem, or neither`);
  }
  return { verify, ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
}

export interface DefaultEngineInputs {
  readonly env: TlsEnvironment & { readonly DOCKER_HOST?: string | undefined };
  readonly platform: NodeJS.Platform;
  readonly home: string;
  readonly exists: (path: string) => boolean;
}

/**
 * The engine the docker CLI would use, without a context: `DOCKER_HOST`, then
 * `/var/run/docker.sock`, then Docker Desktop's `~/.docker/run/docker.sock`, then (Windows) the
 * `docker_engine` named pipe. With nothing found, the standard socket path, so the error names it.
 */
export function defaultEngineEndpoint(inputs: DefaultEngineInputs = liveInputs()): EngineEndpoint {
  const fromEnv = inputs.env.DOCKER_HOST;
  if (fromEnv !== undefined && fromEnv !== '') return parseEngineUrl(fromEnv, inputs.env);
  if (inputs.platform === 'win32') return parseEngineUrl('npipe:////./pipe/docker_engine', inputs.env);
  const candidates = ['/var/run/docker.sock', join(inputs.home, '.docker', 'run', 'docker.sock')];
  const found = candidates.find((path) => inputs.exists(path)) ?? '/var/run/docker.sock';
  return parseEngineUrl(`unix://${found}`, inputs.env);
}

function liveInputs(): DefaultEngineInputs {
  return { env: process.env, platform: process.platform, home: homedir(), exists: existsSync };
}
