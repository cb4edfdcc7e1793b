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
import { ParsedHeads } from './parsed-heads.js';

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
  /**
   * The head to send to the client: the bytes as received unless a hop-by-hop header must go, or
   * `Connection: close` must be added (see `parseResponseHead`).
   */
  readonly forward: Buffer;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [\t\x20-\x7e\x80-\xff]*)?$/;

/**
 * Parses an engine response head. `requestMethod` matters: a HEAD answer never has a body
 * whatever its Content-Length says (RFC 9112 §6.3). With `connectionClose` (the client asked for
 * `Connection: close`, which the engine never saw: its connection is kept for the next client),
 * a final answer is forwarded as the engine would have sent it to that request.
 */
export function parseResponseHead(
  head: Buffer,
  requestMethod: string,
  connectionClose = false,
): ResponseHead {
  const text = head.toString('latin1', 0, head.length - 4);
  // A HEAD answer is framed differently from the same head answering a GET: remembered apart.
  const memo = requestMethod === 'HEAD' ? seenForHead : seen;
  let parsed = memo.get(text);
  if (parsed === undefined) {
    parsed = parseResponseText(text, requestMethod);
    memo.set(text, parsed);
  }
  const forward = parsed.rebuilt ?? head;
  return {
    status: parsed.status,
    headers: parsed.headers,
    body: parsed.body,
    // A 1xx answer is interim: the close goes on the final one.
    forward: connectionClose && parsed.status >= 200 ? closingHead(parsed, forward) : forward,
  };
}

/** What a head's text says; `rebuilt` when hop-by-hop headers had to go (else the bytes as received). */
interface ParsedResponse {
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: ResponseBody;
  readonly rebuilt: Buffer | undefined;
  /** The head with `Connection: close`, made at first use; null when it already says Connection. */
  closing?: Buffer | null;
}

/**
 * The engine's answer as it would have been to `Connection: close`. Go's server writes the
 * handler's headers sorted, then its own: Date, Content-Length, Connection, Transfer-Encoding —
 * so `Connection: close` goes before a closing Transfer-Encoding, else last. Already there:
 * unchanged. Kept with the parsed head, so a health check's repeated answer is rewritten once.
 */
function closingHead(parsed: ParsedResponse, forward: Buffer): Buffer {
  if (parsed.closing === undefined) {
    const lines = forward.toString('latin1', 0, forward.length - 4).split('\r\n');
    if (lines.some((line, i) => i > 0 && /^connection:/i.test(line))) {
      parsed.closing = null;
    } else {
      const last = lines.length - 1;
      const at = last > 0 && /^transfer-encoding:/i.test(lines[last] as string) ? last : lines.length;
      lines.splice(at, 0, 'Connection: close');
      parsed.closing = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    }
  }
  return parsed.closing ?? forward;
}

const seen = new ParsedHeads<ParsedResponse>();
const seenForHead = new ParsedHeads<ParsedResponse>();

function parseResponseText(text: string, requestMethod: string): ParsedResponse {
  const lines = splitHeadLines(text, 'DG_ENGINE_PROTOCOL');
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
    rebuilt:
      drop !== undefined && hasAny(scan.headers, drop)
        ? rebuildHead(lines[0] as string, scan.headers, drop)
        : undefined,
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
