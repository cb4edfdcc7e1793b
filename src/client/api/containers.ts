import type { Readable } from 'node:stream';
import { openSession, type Session } from '../session.js';
import { closeBody, demuxBatches, jsonLines, type OutputFrame, rawFrames } from '../streams.js';
import type { CallOptions, Transport } from '../transport.js';
import type {
  ContainerCreateBody,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerStats,
  ContainerSummary,
  ContainerTop,
  ContainerUpdateBody,
  ContainerWait,
  FilesystemChange,
  PathStat,
  PruneReport,
  QueryOf,
} from '../types.js';

/** Per-call options every method takes: an AbortSignal, and a timeout for finite calls. */
export interface Call {
  readonly signal?: AbortSignal | undefined;
  readonly timeout?: number | undefined;
}

/** Filters as the engine takes them: `{ label: ['a=b'], status: ['running'] }`. */
export type Filters = Readonly<Record<string, readonly string[]>>;

export const id = (value: string): string => encodeURIComponent(value);
export const call = (options: Call | undefined, extra: CallOptions = {}): CallOptions => ({
  signal: options?.signal,
  timeout: options?.timeout,
  ...extra,
});

export type LogsOptions = Omit<QueryOf<'ContainerLogs'>, 'follow' | 'since' | 'until'> & {
  readonly follow?: boolean;
  /** Unix seconds; as text, `seconds.nanoseconds` (exact: a number cannot hold nanoseconds). */
  readonly since?: number | string;
  readonly until?: number | string;
  readonly signal?: AbortSignal;
  /**
   * Read through a dockgate gateway's file reader (`GET /dockgate/v1/containers/{id}/logs`):
   * the same frames from the json-file/local files on the engine's host, without dockerd
   * decoding them. Only on a gateway; answers 501 for other drivers or unreadable files.
   */
  readonly agent?: boolean;
};

/** `docker container …`: every container call of the Engine API. */
export class Containers {
  readonly #t: Transport;
  constructor(transport: Transport) {
    this.#t = transport;
  }

  list(
    query: Omit<QueryOf<'ContainerList'>, 'filters'> & { filters?: Filters } = {},
    options?: Call,
  ): Promise<ContainerSummary[]> {
    return this.#t.json('GET', '/containers/json', call(options, { query }));
  }

  inspect(
    container: string,
    query: QueryOf<'ContainerInspect'> = {},
    options?: Call,
  ): Promise<ContainerInspect> {
    return this.#t.json('GET', `/containers/${id(container)}/json`, call(options, { query }));
  }

  create(
    body: ContainerCreateBody,
    query: QueryOf<'ContainerCreate'> = {},
    options?: Call,
  ): Promise<ContainerCreateResponse> {
    return this.#t.json('POST', '/containers/create', call(options, { query, body }));
  }

  start(container: string, options?: Call): Promise<void> {
    return this.#t.send('POST', `/containers/${id(container)}/start`, call(options));
  }

  stop(container: string, query: QueryOf<'ContainerStop'> = {}, options?: Call): Promise<void> {
    return this.#t.send('POST', `/containers/${id(container)}/stop`, call(options, { query }));
  }

  restart(container: string, query: QueryOf<'ContainerRestart'> = {}, options?: Call): Promise<void> {
    return this.#t.send('POST', `/containers/${id(container)}/restart`, call(options, { query }));
  }

  kill(container: string, query: QueryOf<'ContainerKill'> = {}, options?: Call): Promise<void> {
    return this.#t.send('POST', `/containers/${id(container)}/kill`, call(options, { query }));
  }

  pause(container: string, options?: Call): Promise<void> {
    return this.#t.send('POST', `/containers/${id(container)}/pause`, call(options));
  }

  unpause(container: string, options?: Call): Promise<void> {
    return this.#t.send('POST', `/containers/${id(container)}/unpause`, call(options));
  }

  remove(container: string, query: QueryOf<'ContainerDelete'> = {}, options?: Call): Promise<void> {
    return this.#t.send('DELETE', `/containers/${id(container)}`, call(options, { query }));
  }

  /** Waits for the container to stop (no timeout unless given: a wait lasts as long as the container). */
  wait(container: string, query: QueryOf<'ContainerWait'> = {}, options?: Call): Promise<ContainerWait> {
    return this.#t.json('POST', `/containers/${id(container)}/wait`, call(options, { query, stream: true }));
  }

  /**
   * Log output as `{ stream, data }` frames: demultiplexed, or raw stdout for a TTY container
   * (known from the answer's content type, or from the container's config on engines older
   * than API 1.42, which do not say). With `follow`, the iterable lasts as long as the
   * container; stop it with the signal or by breaking out of the loop.
   */
  async *logs(container: string, options: LogsOptions = {}): AsyncGenerator<OutputFrame> {
    for await (const frames of this.logBatches(container, options)) yield* frames;
  }

  /** The same frames, a read at a time (a busy log without a promise per line). */
  async *logBatches(container: string, options: LogsOptions = {}): AsyncGenerator<OutputFrame[]> {
    const { signal, agent, ...query } = options;
    const path =
      agent === true ? `/dockgate/v1/containers/${id(container)}/logs` : `/containers/${id(container)}/logs`;
    const response = await this.#t.request('GET', path, {
      query: { stdout: true, stderr: true, ...query },
      signal,
      stream: true,
      versioned: agent !== true,
    });
    try {
      const type = String(response.headers['content-type'] ?? '');
      let tty: boolean;
      if (type.includes('multiplexed')) tty = false;
      else if (type.includes('raw-stream')) tty = true;
      else tty = (await this.inspect(container, {}, { signal })).Config.Tty ?? false;
      if (tty) for await (const frame of rawFrames(response.body)) yield [frame];
      else yield* demuxBatches(response.body);
    } finally {
      closeBody(response.body);
    }
  }

  /** Stats samples as they come; with `stream: false`, one. */
  async *stats(
    container: string,
    query: QueryOf<'ContainerStats'> = {},
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<ContainerStats> {
    const response = await this.#t.request('GET', `/containers/${id(container)}/stats`, {
      query,
      signal: options.signal,
      stream: true,
    });
    try {
      yield* jsonLines<ContainerStats>(response.body);
    } finally {
      closeBody(response.body);
    }
  }

  top(container: string, query: QueryOf<'ContainerTop'> = {}, options?: Call): Promise<ContainerTop> {
    return this.#t.json('GET', `/containers/${id(container)}/top`, call(options, { query }));
  }

  changes(container: string, options?: Call): Promise<FilesystemChange[] | null> {
    return this.#t.json('GET', `/containers/${id(container)}/changes`, call(options));
  }

  update(
    container: string,
    body: ContainerUpdateBody,
    options?: Call,
  ): Promise<{ Warnings?: readonly string[] | null }> {
    return this.#t.json('POST', `/containers/${id(container)}/update`, call(options, { body }));
  }

  rename(container: string, name: string, options?: Call): Promise<void> {
    return this.#t.send('POST', `/containers/${id(container)}/rename`, call(options, { query: { name } }));
  }

  resize(container: string, size: { h: number; w: number }, options?: Call): Promise<void> {
    return this.#t.send('POST', `/containers/${id(container)}/resize`, call(options, { query: size }));
  }

  /** The container's filesystem as a tar stream. */
  async export(container: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    return (
      await this.#t.request('GET', `/containers/${id(container)}/export`, {
        signal: options.signal,
        stream: true,
      })
    ).body;
  }

  /** A path of the container as a tar stream, with its stat. */
  async getArchive(
    container: string,
    path: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ stat: PathStat; tar: Readable }> {
    const response = await this.#t.request('GET', `/containers/${id(container)}/archive`, {
      query: { path },
      signal: options.signal,
      stream: true,
    });
    return { stat: decodeStat(response.headers['x-docker-container-path-stat']), tar: response.body };
  }

  /** Extracts a tar (Buffer or stream) into a directory of the container. */
  putArchive(
    container: string,
    path: string,
    tar: Buffer | Readable,
    query: Omit<QueryOf<'PutContainerArchive'>, 'path'> = {},
    options?: Call,
  ): Promise<void> {
    return this.#t.send('PUT', `/containers/${id(container)}/archive`, {
      ...call(options),
      query: { ...query, path },
      body: tar,
      headers: { 'content-type': 'application/x-tar' },
    });
  }

  /** Stat of a path in the container (`HEAD …/archive`). */
  async statPath(container: string, path: string, options?: Call): Promise<PathStat> {
    const response = await this.#t.request(
      'HEAD',
      `/containers/${id(container)}/archive`,
      call(options, { query: { path } }),
    );
    response.body.resume();
    return decodeStat(response.headers['x-docker-container-path-stat']);
  }

  prune(query: { filters?: Filters } = {}, options?: Call): Promise<PruneReport> {
    return this.#t.json('POST', '/containers/prune', call(options, { query }));
  }

  /**
   * Attaches to a container's stdio as a Session (a Duplex: write stdin, `end()` half-closes,
   * read stdout, `session.stderr`); `exitCode` comes from waiting for the container.
   */
  async attach(
    container: string,
    options: {
      stdin?: boolean;
      logs?: boolean;
      detachKeys?: string;
      tty?: boolean;
      signal?: AbortSignal;
    } = {},
  ): Promise<Session> {
    const signal = options.signal;
    const tty = options.tty ?? (await this.inspect(container, {}, { signal })).Config.Tty ?? false;
    const { apiVersion } = await this.#t.info(signal);
    const query = new URLSearchParams({
      stream: '1',
      stdout: '1',
      stderr: '1',
      stdin: options.stdin === false ? '0' : '1',
      logs: options.logs === true ? '1' : '0',
      ...(options.detachKeys === undefined ? {} : { detachKeys: options.detachKeys }),
    });
    return openSession(
      {
        endpoint: this.#t.endpoint,
        path: `/v${apiVersion}/containers/${id(container)}/attach?${query}`,
        headers: this.#t.headers,
        body: undefined,
        tty,
        signal,
      },
      async () => (await this.wait(container)).StatusCode,
    );
  }
}

function decodeStat(header: string | string[] | undefined): PathStat {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) throw new Error('the engine sent no X-Docker-Container-Path-Stat header');
  return JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as PathStat;
}
