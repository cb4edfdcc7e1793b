import { DockgateError, type ErrorCode } from '../../errors.js';
import { HOP_BY_HOP_HEADERS } from './hop-by-hop.js';

/**
 * Header lines of an HTTP/1.x head, parsed strictly (RFC 9112 §5): a token name, a colon with no
 * whitespace before it (§5.1: such a request must be rejected, a classic smuggling vector), a
 * value without control characters. Obsolete line folding is rejected (§5.2).
 * Names keep their case as sent; lookups compare lowercase.
 */
export type HeaderList = string[]; // flat: [name, value, name, value, …]

/** A header name: an RFC 9110 token, nothing else (no whitespace before the colon, §5.1). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A field value may hold HTAB, visible ASCII, SP and obs-text; any other control is refused. */
const BAD_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

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
  /** Values of `Authorization` headers: the gate reads them and they never reach the engine. */
  readonly authorization: string[];
}

const NO_TOKENS: ReadonlySet<string> = new Set();
const NONE: string[] = [];

/** Parses header lines once, strictly, and picks out the headers the gateway acts on. */
export function scanHeaders(lines: string[], from: number, code: ErrorCode): HeaderScan {
  const headers: HeaderList = [];
  const contentLength: string[] = [];
  const transferEncoding: string[] = [];
  const upgrade: string[] = [];
  let connection: Set<string> | undefined;
  let hasHopByHop = false;
  let authorization: string[] | undefined;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    const rest = line.slice(colon + 1);
    if (!TOKEN.test(name) || BAD_VALUE_CHAR.test(rest)) {
      const why =
        line.startsWith(' ') || line.startsWith('\t')
          ? 'obsolete line folding is not accepted'
          : `malformed header line ${JSON.stringify(line.slice(0, 80))}`;
      throw new DockgateError(code, why);
    }
    // Only SP and HTAB can surround the value here: everything else was refused above.
    const value = rest.trim();
    headers.push(name, value);
    const lower = name.toLowerCase();
    switch (lower) {
      case 'content-length':
        contentLength.push(value);
        break;
      case 'transfer-encoding':
        transferEncoding.push(value);
        break;
      case 'upgrade':
        upgrade.push(value);
        break;
      case 'authorization':
        authorization ??= [];
        authorization.push(value);
        break;
      case 'connection':
        connection ??= new Set();
        for (const token of value.split(',')) {
          const trimmed = token.trim().toLowerCase();
          if (trimmed !== '') connection.add(trimmed);
        }
        break;
      default:
        if (!hasHopByHop && HOP_BY_HOP_HEADERS.has(lower)) hasHopByHop = true;
    }
  }
  return {
    headers,
    contentLength,
    transferEncoding,
    upgrade,
    connection: connection ?? NO_TOKENS,
    hasHopByHop,
    authorization: authorization ?? NONE,
  };
}

/** Splits a head (without its final CRLF CRLF) into lines; a bare LF or CR is an error. */
export function splitHeadLines(head: string, code: ErrorCode): string[] {
  if (BARE_CR_OR_LF.test(head)) throw new DockgateError(code, 'bare CR or LF in the head');
  return head.split('\r\n');
}

/** A CR not followed by LF, or an LF not preceded by CR. */
const BARE_CR_OR_LF = /\r(?!\n)|(?<!\r)\n/;

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
