import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { LogsOptions } from '../../client/api/containers.js';
import { EngineError } from '../../client/errors.js';
import type { OutputFrame } from '../../client/streams.js';
import { unixParamTime } from '../../engine/log-files/file-entry.js';
import { readLogFiles } from '../../engine/log-files/log-file-reader.js';
import { containerDir, type LogInspect, logLocation } from '../../engine/log-files/log-location.js';
import type { Logger } from '../../log/logger.js';
import type { LogPathSetting } from '../config/monitor-config.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';

/** Through which path a read goes. */
export type LogPath = 'gateway' | 'files' | 'engine';

export interface LogRead {
  readonly follow: boolean;
  /** Unix seconds, `seconds.nanoseconds`. */
  readonly since: string;
  readonly signal: AbortSignal;
  /** Settles when the container stops (a follow from files ends then, as the engine's does). */
  readonly stopped: Promise<unknown>;
}

/**
 * One engine's way to a container's log, chosen per engine like the stats' (`logs: auto`):
 *
 * 1. `gateway` — the engine is a dockgate gateway on its host: its file reader
 *    (`GET /dockgate/v1/containers/{id}/logs`) sends the engine's own frames without dockerd
 *    decoding them (dockerd's cost of a followed log is its JSON decoding per line).
 * 2. `files` — the engine is local (a unix socket here) and its log files are readable: read
 *    them directly, the same reader.
 * 3. `engine` — `GET /containers/{id}/logs`: every driver that can be read back.
 *
 * All three give the same frames (the reader matches the engine's answer, test/integration/
 * log-files.test.ts), so a container's reads may switch paths without a line lost or repeated.
 * A path that refuses (not a gateway, files not readable) is given up for the engine; a
 * container whose driver writes no file is read from the engine.
 */
export class LogPaths {
  readonly #watcher: EngineWatcher;
  readonly #setting: LogPathSetting;
  readonly #log: Logger;
  /** Per engine: undefined until a read has told, false once refused. */
  #gateway: boolean | undefined;
  #files: boolean | undefined;
  readonly #told = new Set<LogPath>();
  /** A 429 from the gateway has been said. */
  #capped = false;

  constructor(watcher: EngineWatcher, setting: LogPathSetting, log: Logger) {
    this.#watcher = watcher;
    this.#setting = setting;
    this.#log = log;
    if (setting === 'engine' || setting === 'files') this.#gateway = false;
    if (setting === 'engine' || setting === 'gateway') this.#files = false;
    const endpoint = watcher.config.endpoint;
    if (endpoint.kind !== 'unix' || !existsSync(endpoint.path)) this.#files = false;
  }

  async *batches(container: string, read: LogRead): AsyncGenerator<OutputFrame[]> {
    const options: LogsOptions = {
      follow: read.follow,
      stdout: true,
      stderr: true,
      timestamps: true,
      since: read.since,
      signal: read.signal,
    };
    if (this.#gateway !== false) {
      const batches = this.#watcher.client.containers.logBatches(container, { ...options, agent: true });
      const first = await batches.next().catch((error: unknown) => this.#refused('gateway', error));
      if (first !== undefined) {
        this.#chosen('gateway');
        if (first.done !== true) yield first.value;
        yield* batches;
        return;
      }
    }
    if (this.#files !== false) {
      const files = await this.#fromFiles(container, read);
      if (files !== undefined) {
        yield* files;
        return;
      }
    }
    this.#chosen('engine');
    yield* this.#watcher.client.containers.logBatches(container, options);
  }

  /** The gateway answered with an error before any line: what it means is decided by `gatewayAnswer`. */
  #refused(path: 'gateway', error: unknown): undefined {
    const meaning = gatewayAnswer(error);
    if (meaning === 'this-container') return undefined;
    if (meaning === 'retry' && error instanceof EngineError && error.status === 429 && !this.#capped) {
      // Tried again with backoff; said once, since a cap below the engine's containers keeps some unread.
      this.#capped = true;
      this.#log.warn(
        { engine: this.#watcher.name, reason: error.engineMessage },
        "logs: the gateway's rate or concurrency cap refuses some log reads (each follow holds a slot): raise the monitor identity's concurrency",
      );
    }
    if (meaning !== 'not-this-engine') throw error;
    this.#gateway = false;
    const level = this.#setting === 'gateway' ? 'warn' : 'info';
    this.#log[level](
      { engine: this.#watcher.name, path, reason: (error as EngineError).engineMessage },
      'logs: not read through the gateway',
    );
    return undefined;
  }

  /** The local files, if the container logs to one this process can read. */
  async #fromFiles(container: string, read: LogRead): Promise<AsyncGenerator<OutputFrame[]> | undefined> {
    const inspect = (await this.#watcher.client.containers.inspect(
      container,
      {},
      { signal: read.signal },
    )) as LogInspect;
    const location = logLocation(inspect);
    if (location === undefined || location.kind === 'not-a-file') return undefined;
    if (location.kind === 'not-started') return (async function* nothing() {})();
    if ((await stat(containerDir(location)).catch(() => undefined)) === undefined) {
      this.#files = false;
      this.#log.info(
        { engine: this.#watcher.name, dir: containerDir(location) },
        'logs: the engine is local but its log files are not readable here; reading through the engine',
      );
      return undefined;
    }
    this.#chosen('files');
    const tty = inspect.Config?.Tty === true;
    const entries = readLogFiles({
      path: location.path,
      format: location.format,
      since: unixParamTime(read.since),
      follow: read.follow,
      stopped: inspect.State?.Running === true ? read.stopped : Promise.resolve(),
      signal: read.signal,
    });
    return (async function* frames(): AsyncGenerator<OutputFrame[]> {
      for await (const batch of entries) {
        // The engine's frames (`time text`), views into one buffer per read.
        let size = 0;
        for (const entry of batch) size += entry.time.length + 1 + entry.text.length;
        const out = Buffer.allocUnsafe(size);
        let at = 0;
        yield batch.map((entry): OutputFrame => {
          const start = at;
          at += out.write(entry.time, at, 'latin1');
          out[at++] = 0x20;
          at += entry.text.copy(out, at);
          const data = out.subarray(start, at);
          return tty ? { stream: 'stdout', data, raw: true } : { stream: entry.stream, data };
        });
      }
    })();
  }

  #chosen(path: LogPath): void {
    if (path === 'gateway') this.#gateway = true;
    if (path === 'files') this.#files = true;
    // The engine's path is the one its file-logging containers take (others always ask the engine).
    this.#watcher.setLogsPath(this.#gateway === true ? 'gateway' : this.#files === true ? 'files' : path);
    if (this.#told.has(path)) return;
    this.#told.add(path);
    this.#log.info({ engine: this.#watcher.name, path }, "logs: reading containers' logs");
  }
}

/**
 * What an error from the gateway's log route, before any line, says:
 * - `this-container`: this container's log is not a file the gateway reads — the engine reads it;
 * - `not-this-engine`: the engine is not a gateway, or it refuses the route, or cannot read the
 *   files there — every container is read from the engine from now on;
 * - `retry`: anything passing (429 of a rate or concurrency cap, 408, 5xx, a connection lost) or
 *   the caller's own error (400, no such container): thrown, the collector tries again later.
 * One container's answer never turns the gateway off for the whole engine (a container created
 * and not yet started once did, under load: its log has no path until it starts).
 */
export function gatewayAnswer(error: unknown): 'this-container' | 'not-this-engine' | 'retry' {
  if (!(error instanceof EngineError)) return 'retry';
  const message = error.engineMessage;
  switch (error.status) {
    case 404:
      return /page not found/i.test(message) ? 'not-this-engine' : 'retry';
    case 401:
    case 403:
    case 405:
      return 'not-this-engine';
    case 501:
      return /cannot read .* here/.test(message) ? 'not-this-engine' : 'this-container';
    default:
      return 'retry';
  }
}
