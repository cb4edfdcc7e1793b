import type { ErrorCode } from '../../errors.js';
import { decodeChunked } from './chunked-decode.js';
import { ChunkedScanner } from './chunked-scanner.js';

/**
 * Reads one whole message body (Content-Length or chunked) across reads, keeping the bytes as
 * received. For the few bodies read whole: request bodies the gate inspects, answers the gate
 * rewrites. Everything else streams.
 */
export class BodyCollector {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #remaining: number;
  readonly #scanner: ChunkedScanner | undefined;

  constructor(
    framing: { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' },
    code: ErrorCode,
  ) {
    this.#remaining = framing.kind === 'length' ? framing.length : 0;
    this.#scanner = framing.kind === 'chunked' ? new ChunkedScanner(code) : undefined;
  }

  /** Bytes taken so far, framing included. */
  get size(): number {
    return this.#size;
  }

  get chunked(): boolean {
    return this.#scanner !== undefined;
  }

  /**
   * Takes what belongs to the body from `buf` at `pos`: returns where the body stopped in
   * `buf` and whether it is complete. Throws the scanner's error on a malformed chunk.
   */
  take(buf: Buffer, pos: number): { stop: number; complete: boolean } {
    let stop: number;
    let complete: boolean;
    if (this.#scanner !== undefined) {
      const end = this.#scanner.scan(buf, pos);
      stop = end < 0 ? buf.length : end;
      complete = end >= 0;
    } else {
      stop = pos + Math.min(this.#remaining, buf.length - pos);
      this.#remaining -= stop - pos;
      complete = this.#remaining === 0;
    }
    this.#chunks.push(buf.subarray(pos, stop));
    this.#size += stop - pos;
    return { stop, complete };
  }

  /** The body as received. */
  raw(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  /** The payload: the raw body without chunk framing. */
  static payload(raw: Buffer, chunked: boolean): Buffer {
    return chunked ? decodeChunked(raw) : raw;
  }
}
