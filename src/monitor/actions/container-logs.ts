import type { DockerClient } from '../../client/docker-client.js';

/** One log line (`GET …/logs`): stdout and stderr apart, with the engine's timestamp. */
export interface LogLine {
  /** ISO 8601 with the engine's nanoseconds cut to milliseconds; null when the engine sent none. */
  readonly time: string | null;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

export interface LogOptions {
  readonly tail: number | 'all';
  readonly follow: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
  /** Unix seconds. */
  readonly since?: number | undefined;
  readonly signal: AbortSignal;
}

/** A line longer than this is cut into pieces (a runaway line must not grow the buffer without end). */
const MAX_LINE = 64 * 1024;

/**
 * A container's log as lines, streamed from the engine: frames are split at newlines per stream
 * (a frame may end mid-line), each line's leading RFC 3339 timestamp (`timestamps=1`) is parsed.
 */
export async function* logLines(
  client: DockerClient,
  id: string,
  options: LogOptions,
): AsyncGenerator<LogLine> {
  const pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  for await (const frame of client.containers.logs(id, {
    follow: options.follow,
    tail: String(options.tail),
    stdout: options.stdout,
    stderr: options.stderr,
    timestamps: true,
    ...(options.since === undefined ? {} : { since: options.since }),
    signal: options.signal,
  })) {
    if (frame.stream === 'stdin') continue;
    const stream = frame.stream;
    let text = pending[stream] + frame.data.toString('utf8');
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      yield parseLine(stream, text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    while (text.length > MAX_LINE) {
      yield parseLine(stream, text.slice(0, MAX_LINE));
      text = text.slice(MAX_LINE);
    }
    pending[stream] = text;
  }
  for (const stream of ['stdout', 'stderr'] as const)
    if (pending[stream] !== '') yield parseLine(stream, pending[stream]);
}

/** "2026-12-01T08:00:00.123456789Z text" → its time and text. */
export function parseLine(stream: 'stdout' | 'stderr', line: string): LogLine {
  const space = line.indexOf(' ');
  const stamp = space > 0 ? line.slice(0, space) : '';
  const ms = /^\d{4}-\d\d-\d\dT/.test(stamp) ? Date.parse(stamp) : Number.NaN;
  if (Number.isNaN(ms)) return { time: null, stream, text: line.replace(/\r$/, '') };
  return { time: new Date(ms).toISOString(), stream, text: line.slice(space + 1).replace(/\r$/, '') };
}
