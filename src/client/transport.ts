import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { ConnectionError, engineError } from './errors.js';

/** The newest API version this client's types describe (the spec it is generated from). */
export const CLIENT_API_VERSION = '1.55';
/** What an engine that sends no `Api-Version` on `/_ping` speaks (the docker CLI's fallback). */
const FALLBACK_API_VERSION = '1.24';

export type QueryValue =
  | string
  | number
  | boolean
  | undefined
  | readonly string[]
  | Readonly<Record<string, unknown>>;

export interface CallOptions {
  readonly query?: Readonly<Record<string, QueryValue>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON value (sent as application/json), a Buffer, or a stream (sent as it is read). */
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** Milliseconds; for finite calls only (streams are never timed out). Default: the client's. */
  readonly timeout?: number | undefined;
  /** Send under `/v<negotiated>` (default) or unversioned (raw access). */
  readonly versioned?: boolean;
  /** A stream or a wait: the client's default timeout does not apply (only an explicit one). */
  readonly stream?: boolean;
  /** Answers with a status ≥ 400 throw (default); raw access may want to look at them. */
  readonly throwOnError?: boolean;
}

export interface EngineResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Readable & AsyncIterable<Buffer>;
}

/** What the engine said about itself on `/_ping`. */
export interface EngineInfo {
  /** The version this client speaks to it: min(client, engine), or the one asked for. */
  readonly apiVersion: string;
  readonly engineApiVersion: string | undefined;
  readonly osType: string | undefined;
  readonly builderVersion: string | undefined;
  readonly swarm: string | undefined;
}

export interface TransportOptions {
  readonly endpoint: EngineEndpoint;
  readonly headers: Readonly<Record<string, string>>;
  /** A fixed API version (option or DOCKER_API_VERSION): no negotiation. */
  readonly apiVersion: string | undefined;
  readonly timeout: number | undefined;
}

/**
 * HTTP to the engine over undici (pooled keep-alive connections; unix sockets and named pipes
 * through the connector's socket path), with the API version negotiated once, lazily, by
 * `HEAD /_ping`, and errors turned into the classes of errors.ts.
 */
export class Transport {
  readonly endpoint: EngineEndpoint;
  readonly headers: Readonly<Record<string, string>>;
  readonly #dispatcher: Dispatcher;
  readonly #origin: string;
  readonly #fixedVersion: string | undefined;
  readonly #timeout: number | undefined;
  #info: Promise<EngineInfo> | undefined;

  constructor(options: TransportOptions) {
    this.endpoint = options.endpoint;
    this.headers = options.headers;
    this.#fixedVersion = options.apiVersion;
    this.#timeout = options.timeout;
    const { dispatcher, origin } = dispatcherFor(options.endpoint);
    this.#dispatcher = dispatcher;
    this.#origin = origin;
  }

  /** Negotiates once (the first call that needs it) and remembers; a failure is retried next time. */
  info(signal?: AbortSignal): Promise<EngineInfo> {
    this.#info ??= this.#negotiate(signal).catch((error: unknown) => {
      this.#info = undefined;
      throw error;
    });
    return this.#info;
  }

  async #negotiate(signal?: AbortSignal): Promise<EngineInfo> {
    const response = await this.request('HEAD', '/_ping', { versioned: false, signal });
    response.body.resume();
    const header = (name: string): string | undefined => {
      const value = response.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const engineApiVersion = header('api-version');
    const apiVersion =
      this.#fixedVersion ?? minVersion(CLIENT_API_VERSION, engineApiVersion ?? FALLBACK_API_VERSION);
    return {
      apiVersion,
      engineApiVersion,
      osType: header('ostype'),
      builderVersion: header('builder-version'),
      swarm: header('swarm'),
    };
  }

  /** Sends one request; the answer's body is a stream the caller must read or destroy. Errors ≥ 400 throw. */
  async request(method: string, path: string, options: CallOptions = {}): Promise<EngineResponse> {
    const prefix =
      options.versioned === false
        ? ''
        : `/v${this.#fixedVersion ?? (await this.info(options.signal)).apiVersion}`;
    const fullPath = `${this.endpoint.kind === 'tcp' ? this.endpoint.basePath : ''}${prefix}${path}${queryString(options.query)}`;
    const headers: Record<string, string> = { ...this.headers, ...options.headers };
    let body: string | Buffer | Readable | null = null;
    if (options.body !== undefined) {
      if (Buffer.isBuffer(options.body) || typeof options.body === 'string' || isStream(options.body)) {
        body = options.body as string | Buffer | Readable;
      } else {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    const timeout = options.timeout ?? (options.stream === true ? undefined : this.#timeout);
    const signals = [options.signal, timeout === undefined ? undefined : AbortSignal.timeout(timeout)].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const signal =
      signals.length === 0
        ? null
        : signals.length === 1
          ? (signals[0] as AbortSignal)
          : AbortSignal.any(signals);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#dispatcher.request({
        origin: this.#origin,
        method: method as Dispatcher.HttpMethod,
        path: fullPath,
        headers,
        body,
        signal,
      });
    } catch (error) {
      // An aborted call throws the signal's reason (AbortError, TimeoutError, or the caller's own),
      // never a ConnectionError: nothing is wrong with the engine.
      if (signal?.aborted === true || isAbort(error)) throw error;
      throw new ConnectionError(this.endpoint.url, error);
    }
    if (response.statusCode >= 400 && options.throwOnError !== false) {
      const text = await response.body.text().catch(() => '');
      throw engineError(response.statusCode, engineMessage(text), method, path);
    }
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body as unknown as EngineResponse['body'],
    };
  }

  /** A request whose answer is JSON (or empty). */
  async json<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const response = await this.request(method, path, options);
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** A request whose answer is ignored (204s, actions). */
  async send(method: string, path: string, options: CallOptions = {}): Promise<void> {
    const response = await this.request(method, path, options);
    for await (const _ of response.body) {
      // drained: the connection goes back to the pool
    }
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

/** "1.41" vs "1.55" → the lower. */
export function minVersion(a: string, b: string): string {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 < b1 || (a1 === b1 && a2 <= b2) ? a : b;
}

function dispatcherFor(endpoint: EngineEndpoint): { dispatcher: Dispatcher; origin: string } {
  if (endpoint.kind !== 'tcp') {
    // undici's connector passes socketPath to net.connect, which opens unix sockets and, on
    // Windows, named pipes (\\.\pipe\docker_engine) alike.
    return { dispatcher: new Agent({ connect: { socketPath: endpoint.path } }), origin: 'http://docker' };
  }
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  if (endpoint.tls === undefined)
    return { dispatcher: new Agent(), origin: `http://${host}:${endpoint.port}` };
  const { ca, cert, key, verify } = endpoint.tls;
  return {
    dispatcher: new Agent({
      connect: { rejectUnauthorized: verify, ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) },
    }),
    origin: `https://${host}:${endpoint.port}`,
  };
}

/** Query values: arrays repeat the key; objects (filters, labels, buildargs) are JSON. */
export function queryString(query: CallOptions['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, String(item));
    else if (typeof value === 'object') params.append(key, JSON.stringify(value));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

function isStream(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function';
}

function isAbort(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}

export function engineMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not JSON: the raw text.
  }
  return text.trim();
}
