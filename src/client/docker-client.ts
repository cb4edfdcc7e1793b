import type { EngineEndpoint } from '../engine/endpoint.js';
import { DOCKGATE_VERSION } from '../version.js';
import { Containers } from './api/containers.js';
import { Exec } from './api/exec.js';
import { Images } from './api/images.js';
import { System } from './api/system.js';
import { Networks, Volumes } from './api/volumes.js';
import { type ConnectionOptions, resolveEngine } from './connection.js';
import { type CallOptions, type EngineInfo, type EngineResponse, Transport } from './transport.js';
import type { SystemVersion } from './types.js';

export interface DockerClientOptions extends ConnectionOptions {
  /** The engine's address; the same as `url` (kept for dockgate's own callers). */
  readonly engine?: string | EngineEndpoint;
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A dockgate gateway token: sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** A fixed API version ("1.41"): no negotiation. Default: `DOCKER_API_VERSION`, else negotiated. */
  readonly apiVersion?: string;
  /** Milliseconds for finite calls (never for streams); a call's own `timeout` wins. */
  readonly timeout?: number;
}

/** Raw request options: sent as given, unversioned unless `versioned: true`. */
export type RequestOptions = Omit<CallOptions, 'versioned' | 'throwOnError'> & {
  readonly versioned?: boolean;
};

/**
 * A typed client for the Docker Engine API over every transport (unix socket, named pipe, TCP,
 * TLS), on undici.
 *
 * @example
 * const docker = new DockerClient(); // DOCKER_HOST, the docker context, or the default socket
 * for (const c of await docker.containers.list({ all: true })) console.log(c.Names[0], c.State);
 * const exec = await docker.exec.create(id, { Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
 * const session = await docker.exec.start(exec.Id);
 * session.end('input'); // half-close: the output keeps coming
 * for await (const chunk of session) process.stdout.write(chunk);
 * console.log('exit', await session.exitCode);
 */
export class DockerClient {
  readonly endpoint: EngineEndpoint;
  readonly containers: Containers;
  readonly exec: Exec;
  readonly images: Images;
  readonly volumes: Volumes;
  readonly networks: Networks;
  readonly system: System;
  readonly #t: Transport;

  constructor(options: DockerClientOptions = {}) {
    const { endpoint } = resolveEngine(
      options.engine === undefined ? options : { ...options, url: options.engine },
    );
    this.endpoint = endpoint;
    const envVersion = process.env.DOCKER_API_VERSION;
    this.#t = new Transport({
      endpoint,
      headers: {
        'user-agent': `dockgate/${DOCKGATE_VERSION}`,
        ...options.headers,
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      },
      apiVersion:
        options.apiVersion ?? (envVersion === undefined || envVersion === '' ? undefined : envVersion),
      timeout: options.timeout,
    });
    this.containers = new Containers(this.#t);
    this.exec = new Exec(this.#t);
    this.images = new Images(this.#t);
    this.volumes = new Volumes(this.#t);
    this.networks = new Networks(this.#t);
    this.system = new System(this.#t);
  }

  /** What `/_ping` said: the negotiated API version, the engine's, OS type, builder, swarm. */
  engineInfo(signal?: AbortSignal): Promise<EngineInfo> {
    return this.#t.info(signal);
  }

  /**
   * A raw request (path sent as given): the answer whatever its status, for callers that look
   * at it themselves; its body must be read or destroyed.
   */
  request(method: string, path: string, options: RequestOptions = {}): Promise<EngineResponse> {
    return this.#t.request(method, path, {
      ...options,
      versioned: options.versioned ?? false,
      throwOnError: false,
    });
  }

  /** A raw request whose answer is JSON; a status ≥ 400 throws the matching EngineError. */
  json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.#t.json<T>(method, path, { ...options, versioned: options.versioned ?? false });
  }

  /** `GET /_ping`. */
  ping(signal?: AbortSignal): Promise<string> {
    return this.system.ping({ signal });
  }

  /** `GET /version`. */
  version(signal?: AbortSignal): Promise<SystemVersion> {
    return this.system.version({ signal });
  }

  /** Closes the connection pool. */
  close(): Promise<void> {
    return this.#t.close();
  }
}

export type { EngineInfo, EngineResponse };
