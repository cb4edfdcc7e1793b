import { DockgateError, type ErrorCode } from '../../errors.js';

enum State {
  Size,
  SizeTail, // whitespace or extension after the size digits, up to CR
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart, // start of a trailer line, or the final CRLF
  Trailer,
  TrailerLf,
  FinalLf,
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
/** 13 hex digits reach 2^52; more than that cannot be a real chunk and overflows doubles. */
const MAX_SIZE_DIGITS = 13;
const MAX_LINE = 4096;

/**
 * Finds where a chunked body ends (RFC 9112 §7.1) without copying or decoding it, so the gateway
 * can forward the bytes as they are and know where the next message starts. Strict: a size that
 * is not hex, a missing CRLF after a chunk, or an over-long line is an error, never a guess —
 * disagreeing with the engine about where a body ends is how requests get smuggled.
 */
export class ChunkedScanner {
  #state = State.Size;
  #remaining = 0;
  #digits = 0;
  #lineLength = 0;
  readonly #code: ErrorCode;

  constructor(code: ErrorCode) {
    this.#code = code;
  }

  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Scans `buf` from `start`. Returns the index just past the body's last byte when the body
   * ends inside `buf`, or -1 when all of `buf` belongs to the body and more is to come.
   */
  scan(buf: Buffer, start: number): number {
    let i = start;
    const end = buf.length;
    while (i < end) {
      switch (this.#state) {
        case State.Size: {
          const c = buf[i] as number;
          const digit = hexValue(c);
          if (digit >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) this.#fail('chunk size too large');
            this.#remaining = this.#remaining * 16 + digit;
          } else if (this.#digits === 0) {
            this.#fail('chunk size is not hexadecimal');
          } else if (c === CR) {
            this.#state = State.SizeLf;
          } else if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09) {
            this.#state = State.SizeTail;
            this.#lineLength = 0;
          } else {
            this.#fail('chunk size is not hexadecimal');
          }
          i++;
          break;
        }
        case State.SizeTail: {
          const c = buf[i] as number;
          if (c === CR) this.#state = State.SizeLf;
          else if (c === LF || ++this.#lineLength > MAX_LINE) this.#fail('malformed chunk extension');
          i++;
          break;
        }
        case State.SizeLf:
          if (buf[i] !== LF) this.#fail('missing LF after chunk size');
          i++;
          this.#digits = 0;
          this.#state = this.#remaining === 0 ? State.TrailerStart : State.Data;
          break;
        case State.Data: {
          const take = Math.min(this.#remaining, end - i);
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (buf[i] !== CR) this.#fail('missing CRLF after chunk data');
          i++;
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          if (buf[i] !== LF) this.#fail('missing CRLF after chunk data');
          i++;
          this.#state = State.Size;
          break;
        case State.TrailerStart:
          if (buf[i] === CR) {
            this.#state = State.FinalLf;
          } else {
            this.#state = State.Trailer;
            this.#lineLength = 0;
          }
          i++;
          break;
        case State.Trailer: {
          const c = buf[i] as number;
          if (c === CR) this.#state = State.TrailerLf;
          else if (c === LF || ++this.#lineLength > MAX_LINE) this.#fail('malformed trailer');
          i++;
          break;
        }
        case State.TrailerLf:
          if (buf[i] !== LF) this.#fail('malformed trailer');
          i++;
          this.#state = State.TrailerStart;
          break;
        case State.FinalLf:
          if (buf[i] !== LF) this.#fail('missing final CRLF');
          this.#state = State.Done;
          return i + 1;
        case State.Done:
          return i;
      }
    }
    return -1;
  }

  #fail(why: string): never {
    throw new DockgateError(this.#code, `invalid chunked body: ${why}`);
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
