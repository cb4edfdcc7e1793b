import type { OutputFrame } from '../../client/streams.js';

/**
 * One line of a container's log as the engine sent it (`timestamps=1`): the engine's own
 * timestamp kept to the nanosecond (`since` on resume needs it exact), the stream, the text.
 */
export interface EngineLine {
  /** The engine's RFC 3339 time with nanoseconds, as sent; '' when it sent none. */
  readonly ts: string;
  /** ms since the epoch (0 when the engine sent no time). */
  readonly ms: number;
  /** Nanoseconds within that millisecond (0–999 999). */
  readonly sub: number;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** A line longer than this is cut (a runaway line must not grow a buffer, a row or an answer). */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * Engine log frames → lines. The engine writes one frame per log message, each with its own
 * timestamp; a message longer than 16 KiB is split by the logging driver into partial messages
 * that end without a newline and carry the same timestamp (seen on dockerd 20.10: a 100 000
 * character line comes as seven frames). They are joined again here, and a line over 64 KiB is cut
 * with a marker saying how much went. A TTY container's raw stream has no frames: its chunks are
 * split at newlines.
 */
export class LineAssembler {
  readonly #partial: Record<
    'stdout' | 'stderr',
    { head: EngineLine; parts: string[]; bytes: number; cut: number } | undefined
  > = {
    stdout: undefined,
    stderr: undefined,
  };
  /** A raw (TTY) stream's text after its last newline. */
  #raw = '';

  /** One frame (of a multiplexed stream, or a raw stream's chunk) → the lines it completes. */
  frame(frame: OutputFrame): EngineLine[] {
    if (frame.raw === true) return this.raw(frame.data);
    if (frame.stream === 'stdin') return [];
    const stream = frame.stream;
    const message = frame.data.toString('utf8');
    const complete = message.endsWith('\n');
    const line = parseStamped(stream, complete ? message.slice(0, -1) : message);
    const pending = this.#partial[stream];
    if (pending === undefined && complete) return [cut(line)];
    const joined = pending ?? { head: line, parts: [], bytes: 0, cut: 0 };
    this.#add(joined, line.text);
    if (!complete) {
      this.#partial[stream] = joined;
      return [];
    }
    this.#partial[stream] = undefined;
    return [finish(joined)];
  }

  /** A chunk of a raw (TTY) stream → the lines it completes. */
  raw(data: Buffer): EngineLine[] {
    const text = this.#raw + data.toString('utf8');
    const lines = text.split('\n');
    this.#raw = lines.pop() ?? '';
    if (this.#raw.length > MAX_LINE_BYTES) {
      lines.push(this.#raw);
      this.#raw = '';
    }
    return lines.map((l) => cut(parseStamped('stdout', l)));
  }

  /** What is left when the stream ends: a partial line is kept as it is. */
  end(): EngineLine[] {
    const out: EngineLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const pending = this.#partial[stream];
      if (pending !== undefined) out.push(finish(pending));
      this.#partial[stream] = undefined;
    }
    if (this.#raw !== '') out.push(cut(parseStamped('stdout', this.#raw)));
    this.#raw = '';
    return out;
  }

  #add(joined: { parts: string[]; bytes: number; cut: number }, text: string): void {
    const size = Buffer.byteLength(text);
    if (joined.bytes + size <= MAX_LINE_BYTES) {
      joined.parts.push(text);
      joined.bytes += size;
    } else {
      const room = MAX_LINE_BYTES - joined.bytes;
      if (room > 0) joined.parts.push(truncateBytes(text, room));
      joined.cut += size - Math.max(room, 0);
      joined.bytes = MAX_LINE_BYTES;
    }
  }
}

function finish(joined: { head: EngineLine; parts: string[]; cut: number }): EngineLine {
  const text = joined.parts.join('').replace(/\r$/, '');
  return { ...joined.head, text: joined.cut > 0 ? `${text}${cutMarker(joined.cut)}` : text };
}

function cut(line: EngineLine): EngineLine {
  const size = Buffer.byteLength(line.text);
  if (size <= MAX_LINE_BYTES) return line;
  return { ...line, text: `${truncateBytes(line.text, MAX_LINE_BYTES)}${cutMarker(size - MAX_LINE_BYTES)}` };
}

/** The marker at the end of a cut line: how many bytes went. */
export function cutMarker(bytes: number): string {
  return ` …[dockgate: line cut, ${bytes} more bytes]`;
}

/** At most `bytes` bytes of `text`, never half a character. */
function truncateBytes(text: string, bytes: number): string {
  const buffer = Buffer.from(text);
  let end = Math.min(bytes, buffer.length);
  // A UTF-8 continuation byte (10xxxxxx) is not where a character starts.
  while (end > 0 && end < buffer.length && ((buffer[end] as number) & 0xc0) === 0x80) end--;
  return buffer.subarray(0, end).toString('utf8');
}

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) /;

/** The last second parsed: a busy container's lines share it, and Date.parse is not free. */
let lastSecond = '';
let lastSecondMs = 0;

function secondsOf(text: string): number {
  if (text !== lastSecond) {
    lastSecond = text;
    lastSecondMs = Date.parse(text);
  }
  return lastSecondMs;
}

/** "2026-12-01T08:00:00.123456789Z text" → the line with its exact time. */
export function parseStamped(stream: 'stdout' | 'stderr', line: string): EngineLine {
  const match = STAMP.exec(line);
  const text = line.replace(/\r$/, '');
  if (match === null) return { ts: '', ms: 0, sub: 0, stream, text };
  const seconds = secondsOf(`${match[1]}${match[3]}`);
  if (Number.isNaN(seconds)) return { ts: '', ms: 0, sub: 0, stream, text };
  const nanos = Number((match[2] ?? '').padEnd(9, '0'));
  return {
    ts: match[0].slice(0, -1),
    ms: seconds + Math.floor(nanos / 1e6),
    sub: nanos % 1e6,
    stream,
    text: text.slice(match[0].length),
  };
}

/** A line's time as the engine's `since` takes it: Unix seconds with nine decimals. */
export function sinceParam(ms: number, sub: number): string {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1e6 + sub;
  return `${seconds}.${String(nanos).padStart(9, '0')}`;
}

/** A line's time as RFC 3339 with nanoseconds (the API's `time`). */
export function isoNanos(ms: number, sub: number): string {
  const iso = new Date(ms).toISOString(); // 2026-12-01T08:00:00.123Z
  return `${iso.slice(0, 23)}${String(sub).padStart(6, '0')}Z`;
}

/** Orders two engine times (ms, then nanoseconds within it). */
export function compareTime(a: { ms: number; sub: number }, b: { ms: number; sub: number }): number {
  return a.ms === b.ms ? a.sub - b.sub : a.ms - b.ms;
}
