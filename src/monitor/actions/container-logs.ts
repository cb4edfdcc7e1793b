import type { DockerClient } from '../../client/docker-client.js';
import { LineAssembler } from '../logs/engine-lines.js';

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

/**
 * A container's log as lines, streamed from the engine (`timestamps=1`): partial messages joined,
 * a line over 64 KiB cut (logs/engine-lines.ts).
 */
export async function* logLines(
  client: DockerClient,
  id: string,
  options: LogOptions,
): AsyncGenerator<LogLine> {
  const assembler = new LineAssembler();
  const frames = client.containers.logs(id, {
    follow: options.follow,
    tail: String(options.tail),
    stdout: options.stdout,
    stderr: options.stderr,
    timestamps: true,
    ...(options.since === undefined ? {} : { since: options.since }),
    signal: options.signal,
  });
  for await (const frame of frames) for (const line of assembler.frame(frame)) yield asLogLine(line);
  for (const line of assembler.end()) yield asLogLine(line);
}

function asLogLine(line: { ts: string; ms: number; stream: 'stdout' | 'stderr'; text: string }): LogLine {
  return {
    time: line.ts === '' ? null : new Date(line.ms).toISOString(),
    stream: line.stream,
    text: line.text,
  };
}
