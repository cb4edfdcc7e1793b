import { ProgressError } from './errors.js';

/** One frame of Docker's multiplexed stream: which stream, and its bytes. */
export interface OutputFrame {
  readonly stream: 'stdin' | 'stdout' | 'stderr';
  readonly data: Buffer;
  /** A TTY container's raw stream: chunks as they came, not one message per frame. */
  readonly raw?: true;
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const;

/**
 * Newline-delimited JSON values (events, stats, progress), parsed as they arrive. A value split
 * across reads is joined; blank lines are skipped.
 */
export async function* jsonLines<T>(body: AsyncIterable<Buffer>): AsyncGenerator<T> {
  let pending = '';
  for await (const chunk of body) {
    pending += chunk.toString('utf8');
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== '') yield JSON.parse(line) as T;
      newline = pending.indexOf('\n');
    }
  }
  if (pending.trim() !== '') yield JSON.parse(pending) as T;
}

/**
 * Splits Docker's multiplexed stream (8-byte header: stream type, 3 zero bytes, big-endian
 * length) into frames, across reads. Type 3 is the engine reporting an error in-band: thrown.
 * One splitter for the pull side (`demux`) and the push side (sessions).
 */
export class FrameSplitter {
  #pending: Buffer = Buffer.alloc(0);

  /** The frames `chunk` completes, in order. */
  push(chunk: Buffer): OutputFrame[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: OutputFrame[] = [];
    let offset = 0;
    while (this.#pending.length - offset >= 8) {
      const type = this.#pending[offset] as number;
      const size = this.#pending.readUInt32BE(offset + 4);
      if (this.#pending.length - offset - 8 < size) break;
      const data = this.#pending.subarray(offset + 8, offset + 8 + size);
      offset += 8 + size;
      if (type === 3) throw new Error(`engine error in the stream: ${data.toString('utf8').trim()}`);
      const stream = STREAMS[type];
      if (stream === undefined) throw new Error(`malformed multiplexed stream: frame type ${type}`);
      frames.push({ stream, data });
    }
    this.#pending = this.#pending.subarray(offset);
    return frames;
  }

  /** Bytes of a frame not yet complete. */
  get pending(): number {
    return this.#pending.length;
  }
}

/** The frames of a multiplexed stream as they arrive. */
export async function* demux(body: AsyncIterable<Buffer>): AsyncGenerator<OutputFrame> {
  for await (const frames of demuxBatches(body)) yield* frames;
}

/**
 * The frames of a multiplexed stream, a read at a time: a busy log's frames are handled
 * together, without a promise per frame.
 */
export async function* demuxBatches(body: AsyncIterable<Buffer>): AsyncGenerator<OutputFrame[]> {
  const splitter = new FrameSplitter();
  for await (const chunk of body) {
    const frames = splitter.push(chunk);
    if (frames.length > 0) yield frames;
  }
  if (splitter.pending > 0) {
    throw new Error(`multiplexed stream ended inside a frame (${splitter.pending} bytes left)`);
  }
}

/** A raw (TTY) stream as frames of stdout. */
export async function* rawFrames(body: AsyncIterable<Buffer>): AsyncGenerator<OutputFrame> {
  for await (const data of body) yield { stream: 'stdout', data, raw: true };
}

/** One message of a pull, push, build or load progress stream. */
export interface ProgressMessage {
  readonly id?: string;
  readonly status?: string;
  readonly progress?: string;
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
  /** Build output. */
  readonly stream?: string;
  readonly aux?: Readonly<Record<string, unknown>>;
  readonly errorDetail?: { readonly code?: number; readonly message?: string };
  readonly error?: string;
}

/**
 * Progress messages as they arrive; an `errorDetail` (or `error`) **throws** a ProgressError —
 * the engine answers 200 and reports a failed pull or build in-band, and a caller that only
 * awaits the end must not mistake that for success.
 */
export async function* progress(body: AsyncIterable<Buffer>): AsyncGenerator<ProgressMessage> {
  for await (const message of jsonLines<ProgressMessage>(body)) {
    if (message.errorDetail !== undefined || message.error !== undefined) {
      throw new ProgressError(
        message.errorDetail?.message ?? message.error ?? 'unknown error',
        message.errorDetail?.code,
      );
    }
    yield message;
  }
}

/** Reads a progress stream to its end; resolves with every message, rejects on an error. */
export async function drainProgress(body: AsyncIterable<Buffer>): Promise<ProgressMessage[]> {
  const all: ProgressMessage[] = [];
  for await (const message of progress(body)) all.push(message);
  return all;
}

/**
 * Ends an answer's body the caller stops reading (a loop broken out of, an aborted follow).
 * undici's body emits its abort as an 'error' event; with no listener, Node turns that into an
 * uncaught exception — a monitor whose `logs` call timed out died of it. The caller already got
 * the abort from the iteration: the event is consumed here.
 */
export function closeBody(body: {
  on(event: 'error', listener: () => void): unknown;
  destroy(): unknown;
}): void {
  body.on('error', () => {});
  body.destroy();
}
