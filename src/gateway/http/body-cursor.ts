import type { ErrorCode } from '../../errors.js';
import { ChunkedScanner } from './chunked-scanner.js';

/**
 * Where a body being forwarded as it arrives ends: a Content-Length countdown or a chunked scan
 * (without decoding). Both directions of a bridge use it, requests and answers alike.
 */
export class BodyCursor {
  #remaining = 0;
  #scanner: ChunkedScanner | undefined;
  readonly #code: ErrorCode;
  /** The body's last byte has been passed. */
  complete = false;

  /** `code`: what a malformed chunked body is (a bad request, or the engine breaking the protocol). */
  constructor(code: ErrorCode) {
    this.#code = code;
  }

  /** A body of `length` bytes (length > 0), or a chunked one. */
  start(body: { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' }): void {
    this.complete = false;
    if (body.kind === 'length') {
      this.#remaining = body.length;
      this.#scanner = undefined;
    } else {
      this.#scanner = new ChunkedScanner(this.#code);
    }
  }

  /**
   * The index where this read's part of the body stops: `buf.length` when all of it is body,
   * else just past the body's last byte (and `complete` is set). Malformed chunk framing throws.
   */
  advance(buf: Buffer, pos: number): number {
    const scanner = this.#scanner;
    if (scanner === undefined) {
      const take = Math.min(this.#remaining, buf.length - pos);
      this.#remaining -= take;
      this.complete = this.#remaining === 0;
      return pos + take;
    }
    const end = scanner.scan(buf, pos);
    if (end < 0) return buf.length;
    this.#scanner = undefined;
    this.complete = true;
    return end;
  }
}
