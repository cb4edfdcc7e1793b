import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { defaultEngineEndpoint, type EngineEndpoint, parseEngineUrl } from '../engine/endpoint.js';
import { DOCKGATE_VERSION } from '../version.js';
import { EngineError } from './engine-error.js';

export interface DockerClientOptions {
  /** Engine address (`unix://`, `npipe://`, `tcp://`, `https://`) or a parsed endpoint; default as the docker CLI. */
  readonly engine?: string | EngineEndpoint;
  /** Extra headers on every request (for example a dockgate `Authorization: Bearer`). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON value (sent as application/json), a buffer, or a stream (sent as it is read). */
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

export interface EngineResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Readable & AsyncIterable<Buffer>;
}

/**
 * The seed of `dockgate/client`: a small undici-based Engine API client over any transport.
 * The typed surface (every endpoint, version negotiation, hijacked sessions) grows on top of
 * `request()`.
 *
 * @example
 * const docker = new DockerClient({ engine: 'unix:///var/run/docker.sock' });
 * const { Version, ApiVersion } = await docker.version();
 */
export class DockerClient {
  readonly endpoint: EngineEndpoint;
  readonly #dispatcher: Dispatcher;
  readonly #origin: string;
  readonly #headers: Record<string, string>;

  constructor(options: DockerClientOptions = {}) {
    const { engine } = options;
    this.endpoint =
      engine === undefined
        ? defaultEngineEndpoint()
        : typeof engine === 'string'
          ? parseEngineUrl(engine)
          : engine;
    this.#headers = { 'user-agent': `dockgate/${DOCKGATE_VERSION}`, ...options.headers };
    const { dispatcher, origin } = dispatcherFor(this.endpoint);
    this.#dispatcher = dispatcher;
    this.#origin = origin;
  }

  /** Sends one request; the body of the answer is a stream the caller must read or destroy. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<EngineResponse> {
    const headers: Record<string, string> = { ...this.#headers, ...options.headers };
    let body: string | Buffer | Readable | null = null;
    if (options.body === undefined) {
      body = null;
    } else if (Buffer.isBuffer(options.body) || typeof options.body === 'string' || isStream(options.body)) {
      body = options.body as string | Buffer | Readable;
    } else {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await this.#dispatcher.request({
      origin: this.#origin,
      method: method as Dispatcher.HttpMethod,
      path: `${this.endpoint.kind === 'tcp' ? this.endpoint.basePath : ''}${path}${queryString(options.query)}`,
      headers,
      body,
      signal: options.signal ?? null,
    });
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  /** Sends a request and parses the JSON answer; a status >= 400 throws an `EngineError`. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, options);
    const text = await readText(response.body);
    if (response.status >= 400) throw new EngineError(response.status, engineMessage(text), method, path);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** `GET /_ping`: resolves to the engine's answer body ("OK"). */
  async ping(signal?: AbortSignal): Promise<string> {
    const response = await this.request('GET', '/_ping', signal ? { signal } : {});
    const text = await readText(response.body);
    if (response.status >= 400) throw new EngineError(response.status, engineMessage(text), 'GET', '/_ping');
    return text;
  }

  /** `GET /version`. */
  version(signal?: AbortSignal): Promise<EngineVersion> {
    return this.json<EngineVersion>('GET', '/version', signal ? { signal } : {});
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}

/** The fields of `GET /version` the seed client relies on. */
export interface EngineVersion {
  readonly Version: string;
  readonly ApiVersion: string;
  readonly MinAPIVersion?: string;
  readonly Os: string;
  readonly Arch: string;
}

function dispatcherFor(endpoint: EngineEndpoint): { dispatcher: Dispatcher; origin: string } {
  if (endpoint.kind !== 'tcp') {
    return { dispatcher: new Agent({ connect: { socketPath: endpoint.path } }), origin: 'http://docker' };
  }
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  if (endpoint.tls === undefined) {
    return { dispatcher: new Agent(), origin: `http://${host}:${endpoint.port}` };
  }
  const { ca, cert, key, verify } = endpoint.tls;
  return {
    dispatcher: new Agent({
      connect: { rejectUnauthorized: verify, ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) },
    }),
    origin: `https://${host}:${endpoint.port}`,
  };
}

function queryString(query: RequestOptions['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function isStream(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function';
}

async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function engineMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return text.trim();
}
