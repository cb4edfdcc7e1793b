import { DockgateError, type ErrorCode } from '../../errors.js';

/**
 * Header lines of an HTTP/1.x head, parsed strictly (RFC 9112 §5): a token name, a colon with no
 * whitespace before it (§5.1: such a request must be rejected, a classic smuggling vector), a
 * value without control characters. Obsolete line folding is rejected (§5.2).
 * Names keep their case as sent; lookups compare lowercase.
 */
export type HeaderList = string[]; // flat: [name, value, name, value, …]

const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t ]*([\t\x20-\x7e\x80-\xff]*?)[\t ]*$/;

export function parseHeaderLines(lines: string[], from: number, code: ErrorCode): HeaderList {
  const headers: HeaderList = [];
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
    headers.push(match[1] as string, match[2] as string);
  }
  return headers;
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

/** Every value of a header (case-insensitive name). */
export function headerValues(headers: HeaderList, lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === lowerName) values.push(headers[i + 1] as string);
  }
  return values;
}

/** The comma-separated tokens of every `Connection` header, lowercased. */
export function connectionTokens(headers: HeaderList): Set<string> {
  const tokens = new Set<string>();
  for (const value of headerValues(headers, 'connection')) {
    for (const token of value.split(',')) {
      const trimmed = token.trim().toLowerCase();
      if (trimmed !== '') tokens.add(trimmed);
    }
  }
  return tokens;
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
