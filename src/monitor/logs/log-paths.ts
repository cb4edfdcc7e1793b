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

  /**
   * The gateway answered with an error before any line: for this container (its driver writes no
   * file: undefined, the engine reads it) or for the engine (not a gateway, refused, files not
   * readable there). A missing container is the caller's error.
   */
  #refused(path: 'gateway', error: unknown): undefined {
    if (!(error instanceof EngineError)) throw error;
    const message = error.engineMessage;
    if (error.status === 404 && !/page not found/i.test(message)) throw error; // no such container
    if (error.status === 501 && /not a file the gateway reads/.test(message)) return undefined;
    if (error.status === 400 || (error.status >= 500 && error.status !== 501)) throw error;
    this.#gateway = false;
    const level = this.#setting === 'gateway' ? 'warn' : 'info';
    this.#log[level](
      { engine: this.#watcher.name, path, reason: message },
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
