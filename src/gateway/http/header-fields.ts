import { DockgateError, type ErrorCode } from '../../errors.js';
import { HOP_BY_HOP_HEADERS } from './hop-by-hop.js';

/**
 * Header lines of an HTTP/1.x head, parsed strictly (RFC 9112 §5): a token name, a colon with no
 * whitespace before it (§5.1: such a request must be rejected, a classic smuggling vector), a
 * value without control characters. Obsolete line folding is rejected (§5.2).
 * Names keep their case as sent; lookups compare lowercase.
 */
export type HeaderList = string[]; // flat: [name, value, name, value, …]

const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t ]*([\t\x20-\x7e\x80-\xff]*?)[\t ]*$/;

/** The header list plus, gathered in the same pass, what framing and forwarding decide on. */
export interface HeaderScan {
  readonly headers: HeaderList;
  readonly contentLength: string[];
  readonly transferEncoding: string[];
  readonly upgrade: string[];
  /** Lowercased tokens of every `Connection` header. */
  readonly connection: ReadonlySet<string>;
  /** A header of the fixed hop-by-hop list is present (see hop-by-hop.ts). */
  readonly hasHopByHop: boolean;
}

const NO_TOKENS: ReadonlySet<string> = new Set();

/** Parses header lines once, strictly, and picks out the headers the gateway acts on. */
export function scanHeaders(lines: string[], from: number, code: ErrorCode): HeaderScan {
  const headers: HeaderList = [];
  const contentLength: string[] = [];
  const transferEncoding: string[] = [];
  const upgrade: string[] = [];
  let connection: Set<string> | undefined;
  let hasHopByHop = false;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] as string;
    const match = HEADER_LINE.exec(line);
    if (match === null) {
      const why =
        line.startsWith(' ') || line.startsWith('\t')
          ? 'obsolete line folding is not accepted'
          : `malformed header line ${JSON.stringify(line.slice(0, 80))}`;
      throw new DockgateError(code, why);
    }
    const name = match[1] as string;
    const value = match[2] as string;
    headers.push(name, value);
    switch (name.toLowerCase()) {
      case 'content-length':
        contentLength.push(value);
        break;
      case 'transfer-encoding':
        transferEncoding.push(value);
        break;
      case 'upgrade':
        upgrade.push(value);
        break;
      case 'connection':
        connection ??= new Set();
        for (const token of value.split(',')) {
          const trimmed = token.trim().toLowerCase();
          if (trimmed !== '') connection.add(trimmed);
        }
        break;
      default:
        if (!hasHopByHop && HOP_BY_HOP_HEADERS.has(name.toLowerCase())) hasHopByHop = true;
    }
  }
  return {
    headers,
    contentLength,
    transferEncoding,
    upgrade,
    connection: connection ?? NO_TOKENS,
    hasHopByHop,
  };
}

/** Splits a head (without its final CRLF CRLF) into lines; a bare LF or CR is an error. */
export function splitHeadLines(head: string, code: ErrorCode): string[] {
  const lines = head.split('\r\n');
  for (const line of lines) {
    if (line.includes('\n') || line.includes('\r'))
      throw new DockgateError(code, 'bare CR or LF in the head');
  }
  return lines;
}

/** A Content-Length value: decimal digits only, at most 2^53 - 1. */
export function parseContentLength(values: string[], code: ErrorCode): number | undefined {
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new DockgateError(code, 'more than one Content-Length header');
  const text = values[0] as string;
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new DockgateError(code, `invalid Content-Length ${JSON.stringify(text.slice(0, 40))}`);
  }
  return Number(text);
}

/** Index just past the CRLF CRLF that ends a head, searching `buf` from `from`; -1 if none yet. */
export function findHeadEnd(buf: Buffer, from: number): number {
  const at = buf.indexOf('\r\n\r\n', from, 'latin1');
  return at < 0 ? -1 : at + 4;
}

/** True when a header named in `names` (lowercase) is present. */
export function hasAny(headers: HeaderList, names: ReadonlySet<string>): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (names.has((headers[i] as string).toLowerCase())) return true;
  }
  return false;
}

/** A head rebuilt from its first line and headers, without those named in `drop`. */
export function rebuildHead(firstLine: string, headers: HeaderList, drop: ReadonlySet<string>): Buffer {
  let out = `${firstLine}\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (!drop.has(name.toLowerCase())) out += `${name}: ${headers[i + 1]}\r\n`;
  }
  return Buffer.from(`${out}\r\n`, 'latin1');
}
