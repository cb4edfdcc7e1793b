import { DockgateError } from '../../errors.js';
import {
  type HeaderList,
  type HeaderScan,
  hasAny,
  parseContentLength,
  rebuildHead,
  scanHeaders,
  splitHeadLines,
} from './header-fields.js';
import { namesToDrop } from './hop-by-hop.js';

/** How the response body is delimited: by length, chunks, the engine closing, or not at all. */
export type ResponseBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'close' };

export interface ResponseHead {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: ResponseBody;
  /** The head to send to the client: the bytes as received unless a hop-by-hop header must go. */
  readonly forward: Buffer;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [\t\x20-\x7e\x80-\xff]*)?$/;

/**
 * Parses an engine response head. `requestMethod` matters: a HEAD answer never has a body
 * whatever its Content-Length says (RFC 9112 §6.3).
 */
export function parseResponseHead(head: Buffer, requestMethod: string): ResponseHead {
  const lines = splitHeadLines(head.toString('latin1', 0, head.length - 4), 'DG_ENGINE_PROTOCOL');
  const match = STATUS_LINE.exec(lines[0] as string);
  if (match === null) throw new DockgateError('DG_ENGINE_PROTOCOL', 'malformed status line from the engine');
  const status = Number(match[2]);
  const scan = scanHeaders(lines, 1, 'DG_ENGINE_PROTOCOL');
  const tokens = scan.connection;
  const drop = scan.hasHopByHop || tokens.size > 0 ? namesToDrop(tokens) : undefined;
  return {
    status,
    headers: scan.headers,
    body: responseBody(status, requestMethod, scan),
    forward:
      drop !== undefined && hasAny(scan.headers, drop)
        ? rebuildHead(lines[0] as string, scan.headers, drop)
        : head,
  };
}

function responseBody(status: number, method: string, scan: HeaderScan): ResponseBody {
  if (status === 101) return { kind: 'close' }; // the connection now carries the new protocol
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return { kind: 'none' };
  const transferEncodings = scan.transferEncoding;
  if (transferEncodings.length > 0) {
    const codings = transferEncodings.join(',').toLowerCase().split(',');
    // Chunked must be the final coding; any other framing is delimited by the close.
    return codings.at(-1)?.trim() === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  }
  const length = parseContentLength(scan.contentLength, 'DG_ENGINE_PROTOCOL');
  if (length === undefined) return { kind: 'close' };
  return length === 0 ? { kind: 'none' } : { kind: 'length', length };
}
