import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { DockerClient } from '../client/docker-client.js';
import { EngineError } from '../client/errors.js';
import { type FileLogEntry, unixParamTime } from '../engine/log-files/file-entry.js';
import { readLogFiles } from '../engine/log-files/log-file-reader.js';
import { containerDir, type LogInspect, logLocation } from '../engine/log-files/log-location.js';
import type { RunningSet } from './running-set.js';

/** The route's name in the policy (routes.ts) and its path prefix. */
export const AGENT_LOGS_ROUTE = 'GET /dockgate/v1/containers/{id}/logs';

/** What the gateway answers for its logs route: a stream, or an error as the engine words it. */
export type LogsAnswer =
  | { readonly status: 200; readonly contentType: string; readonly body: Readable }
  | { readonly status: number; readonly contentType: 'application/json'; readonly body: Buffer };

interface LogsQuery {
  readonly stdout: boolean;
  readonly stderr: boolean;
  readonly timestamps: boolean;
  readonly follow: boolean;
  readonly since: string | undefined;
  readonly until: string | undefined;
}

const MOUNT_HINT =
  "run the gateway on the engine host as root (in a container: -v /var/lib/docker/containers:/var/lib/docker/containers:ro, the engine's own path)";

/**
 * `GET /dockgate/v1/containers/{id}/logs`: a container's log read from the files its logging
 * driver writes (json-file, local) on the gateway's host, answered as the Engine API's
 * `/containers/{id}/logs` answers — the same frames, times and order, the same query parameters
 * (stdout, stderr, timestamps, follow, since, until) — so a monitor following every container's
 * log costs dockerd one inspect per stream instead of a goroutine decoding each line
 * (docs/logs.md, "Cost"). The file's path comes from the engine's inspect, never from the caller;
 * who may ask is decided like `GET /containers/{id}/logs` (ownership included).
 */
export class LogsEndpoint {
  readonly #engine: DockerClient;
  readonly #running: RunningSet;

  constructor(engine: DockerClient, running: RunningSet) {
    this.#engine = engine;
    this.#running = running;
  }

  async answer(ref: string, params: URLSearchParams): Promise<LogsAnswer> {
    const query = parseQuery(params);
    if (typeof query === 'string') return failure(400, query);
    const asked = Date.now();
    let inspect: LogInspect;
    try {
      inspect = await this.#engine.json<LogInspect>('GET', `/containers/${encodeURIComponent(ref)}/json`);
    } catch (error) {
      if (error instanceof EngineError) return failure(error.status, error.engineMessage);
      return failure(
        502,
        `dockgate: the engine could not be asked for the container: ${(error as Error).message}`,
      );
    }
    const location = logLocation(inspect);
    if (location === undefined)
      return failure(501, "dockgate: the engine did not say where this container's log is");
    // The engine answers a never-started container's log with nothing, follow or not.
    if (location.kind === 'not-started') return stream(inspect, query, emptyLog(), () => {});
    if (location.kind === 'not-a-file')
      return failure(
        501,
        `dockgate: container ${inspect.Id.slice(0, 12)} logs with driver ${location.driver}: not a file the gateway reads (json-file, local); ask the engine`,
      );
    const { path, format } = location;
    // The container's directory must be readable here; its log file may not exist yet.
    if ((await stat(containerDir(location)).catch(() => undefined)) === undefined)
      return failure(501, `dockgate: cannot read ${containerDir(location)} here: ${MOUNT_HINT}`);
    if ((await stat(path).catch(() => undefined)) === undefined)
      return stream(inspect, query, emptyLog(), () => {});
    const waiting =
      query.follow && inspect.State?.Running === true
        ? this.#running.whenStopped(inspect.Id, asked)
        : undefined;
    const controller = new AbortController();
    const entries = readLogFiles({
      path,
      format,
      since: query.since,
      until: query.until,
      follow: query.follow,
      stopped: query.follow ? (waiting?.stopped ?? Promise.resolve()) : undefined,
      signal: controller.signal,
    });
    return stream(inspect, query, entries, () => {
      controller.abort();
      waiting?.cancel();
    });
  }
}

const TRUE = new Set(['1', 'true', 'True', 'TRUE', 't', 'T']);
const KNOWN = new Set(['stdout', 'stderr', 'timestamps', 'follow', 'since', 'until', 'tail', 'details']);

function parseQuery(params: URLSearchParams): LogsQuery | string {
  for (const key of params.keys()) if (!KNOWN.has(key)) return `unknown parameter ${key}`;
  const flag = (name: string): boolean => TRUE.has(params.get(name) ?? '');
  const tail = params.get('tail');
  if (tail !== null && tail !== 'all' && tail !== '')
    return 'tail is not read from files by the gateway; ask the engine (GET /containers/{id}/logs)';
  if (flag('details')) return 'details is not read from files by the gateway; ask the engine';
  const time = (name: string): string | undefined | null => {
    const value = params.get(name);
    if (value === null || value === '' || value === '0') return undefined;
    return unixParamTime(value) ?? null;
  };
  const since = time('since');
  const until = time('until');
  if (since === null || until === null)
    return 'since and until are Unix seconds (1733577600 or 1733577600.123456789)';
  const query = {
    stdout: flag('stdout'),
    stderr: flag('stderr'),
    timestamps: flag('timestamps'),
    follow: flag('follow'),
    since,
    until,
  };
  // The engine's own words for it.
  if (!query.stdout && !query.stderr) return 'Bad parameters: you must choose at least one stream';
  return query;
}

function failure(status: number, message: string): LogsAnswer {
  return {
    status,
    contentType: 'application/json',
    body: Buffer.from(`${JSON.stringify({ message })}\n`),
  };
}

async function* emptyLog(): AsyncGenerator<FileLogEntry[]> {}

const STREAM_TYPE = { stdout: 1, stderr: 2 } as const;
/** `2026-12-07T13:27:13.123456789Z`: the API's times are all this long. */
const TIME_LENGTH = 30;

/**
 * The entries as the engine sends them: raw bytes for a TTY container, else each message in an
 * 8-byte-headed frame (stream, size); with `timestamps`, the time and a space first. One buffer
 * per read of the file, pulled as the connection drains (backpressure). `stop` runs first when
 * the answer is destroyed (the caller went away): a follow waiting for the file to grow wakes
 * and ends, rather than holding its file until the next line.
 */
function stream(
  inspect: LogInspect,
  query: LogsQuery,
  entries: AsyncGenerator<FileLogEntry[]>,
  stop: () => void,
): Extract<LogsAnswer, { status: 200 }> {
  const tty = inspect.Config?.Tty === true;
  const wanted = (entry: FileLogEntry): boolean => (entry.stream === 'stdout' ? query.stdout : query.stderr);
  const stamp = query.timestamps ? TIME_LENGTH + 1 : 0;
  async function* frames(): AsyncGenerator<Buffer> {
    for await (const batch of entries) {
      // One buffer per read of the file, written in place: no allocation per line.
      let size = 0;
      for (const entry of batch) if (wanted(entry)) size += (tty ? 0 : 8) + stamp + entry.text.length;
      if (size === 0) continue;
      const out = Buffer.allocUnsafe(size);
      let at = 0;
      for (const entry of batch) {
        if (!wanted(entry)) continue;
        if (!tty) {
          out.writeUInt32BE(STREAM_TYPE[entry.stream] << 24, at);
          out.writeUInt32BE(stamp + entry.text.length, at + 4);
          at += 8;
        }
        if (stamp > 0) {
          at += out.write(entry.time, at, 'latin1');
          out[at++] = 0x20;
        }
        at += entry.text.copy(out, at);
      }
      yield out;
    }
  }
  return {
    status: 200,
    contentType: tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
    body: pulled(frames(), stop),
  };
}

/** A byte stream pulled from a generator, one `next()` at a time. */
function pulled(source: AsyncGenerator<Buffer>, stop: () => void): Readable {
  return new Readable({
    read() {
      source.next().then(
        ({ done, value }) => this.push(done === true ? null : value),
        (error: unknown) => this.destroy(error as Error),
      );
    },
    destroy(error, callback) {
      stop();
      source.return(undefined).then(
        () => callback(error),
        () => callback(error),
      );
    },
  });
}
