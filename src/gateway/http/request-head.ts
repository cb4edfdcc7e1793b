import { DockgateError } from '../../errors.js';
import { CREDENTIAL_HEADERS } from '../gate.js';
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

/** How the request body is delimited on the wire. */
export type RequestBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

export interface RequestHead {
  readonly method: string;
  /** The request-target as sent (origin-form: path and query). */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  readonly headers: HeaderList;
  readonly body: RequestBody;
  /** The connection stays open after this exchange (HTTP/1.1 default, or 1.0 + keep-alive). */
  readonly keepAlive: boolean;
  /**
   * HTTP/1.1 with `Connection: close` and no other Connection token: the gateway may keep the
   * engine connection and close the client's itself (bridge/, engine-pool.ts).
   */
  readonly closeOnly: boolean;
  /** The protocol asked for with `Connection: upgrade` + `Upgrade:` (e.g. "tcp", "h2c", "websocket"). */
  readonly upgrade: string | undefined;
  /** Values of `Authorization` headers (for the gate; never forwarded). */
  readonly authorization: readonly string[];
  /** Header names (lowercase) that must not reach the engine; empty in the common case. */
  readonly drop: ReadonlySet<string>;
}

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TARGET = /^(?:\/[\x21-\x7e]*|\*)$/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;

/**
 * Parses a request head (bytes up to and including the blank line), strictly: anything the
 * engine's Go parser and this one could read differently is rejected, since a gateway that
 * decides on one reading while the engine acts on another can be bypassed
 * (request smuggling, RFC 9112 §11.2).
 */
export function parseRequestHead(head: Buffer): RequestHead {
  const text = head.toString('latin1', 0, head.length - 4);
  const known = seen.get(text);
  if (known !== undefined) return known;
  const parsed = parseRequestText(text);
  seen.set(text, parsed);
  return parsed;
}

/** Request heads already parsed (readonly values: sharing one between requests is safe). */
const seen = new ParsedHeads<RequestHead>();

function parseRequestText(text: string): RequestHead {
  const lines = splitHeadLines(text, 'DG_BAD_REQUEST');
  const requestLine = lines[0] as string;
  const parts = requestLine.split(' ');
  if (parts.length !== 3) throw new DockgateError('DG_BAD_REQUEST', 'malformed request line');
  const [method, target, protocol] = parts as [string, string, string];
  if (!METHOD.test(method)) throw new DockgateError('DG_BAD_REQUEST', 'malformed method');
  if (!TARGET.test(target)) {
    throw new DockgateError('DG_BAD_REQUEST', 'the request target must be a path starting with "/"');
  }
  const versionMatch = VERSION.exec(protocol);
  if (versionMatch === null) throw new DockgateError('DG_BAD_REQUEST', 'malformed HTTP version');
  if (versionMatch[1] !== '1' || (versionMatch[2] !== '0' && versionMatch[2] !== '1')) {
    throw new DockgateError('DG_HTTP_VERSION', `HTTP/${versionMatch[1]}.${versionMatch[2]} is not supported`);
  }
  const version = versionMatch[2] === '0' ? '1.0' : '1.1';
  const scan = scanHeaders(lines, 1, 'DG_BAD_REQUEST');
  const tokens = scan.connection;
  return {
    method,
    target,
    version,
    headers: scan.headers,
    body: requestBody(scan, version),
    keepAlive: version === '1.1' ? !tokens.has('close') : tokens.has('keep-alive'),
    closeOnly: version === '1.1' && tokens.size === 1 && tokens.has('close'),
    upgrade:
      tokens.has('upgrade') && scan.upgrade.length > 0
        ? scan.upgrade.join(',').trim().toLowerCase()
        : undefined,
    authorization: scan.authorization,
    drop: scan.hasHopByHop || tokens.size > 0 ? namesToDrop(tokens) : NOTHING,
  };
}

const NOTHING: ReadonlySet<string> = new Set();

function requestBody(scan: HeaderScan, version: '1.0' | '1.1'): RequestBody {
  const transferEncodings = scan.transferEncoding;
  const length = parseContentLength(scan.contentLength, 'DG_REQUEST_SMUGGLING');
  if (transferEncodings.length > 0) {
    // Both framings at once is the textbook smuggling request (CL.TE / TE.CL); so is a repeated
    // Transfer-Encoding or one on HTTP/1.0, which has no chunked coding.
    if (length !== undefined) {
      throw new DockgateError(
        'DG_REQUEST_SMUGGLING',
        'both Content-Length and Transfer-Encoding are present',
      );
    }
    if (transferEncodings.length > 1 || version === '1.0') {
      throw new DockgateError('DG_REQUEST_SMUGGLING', 'ambiguous Transfer-Encoding');
    }
    if ((transferEncodings[0] as string).toLowerCase() !== 'chunked') {
      throw new DockgateError(
        'DG_NOT_IMPLEMENTED',
        `unsupported Transfer-Encoding ${JSON.stringify(transferEncodings[0])}`,
      );
    }
    return { kind: 'chunked' };
  }
  if (length === undefined || length === 0) return { kind: 'none' };
  return { kind: 'length', length };
}

/** What the gate changed about a request on its way to the engine. */
export interface HeadChange {
  /** A new request target. */
  readonly target?: string | undefined;
  /** The length of a replacement body, sent with Content-Length instead of the original framing. */
  readonly bodyLength?: number | undefined;
  /** Drop the client's `Connection: close`: the engine connection outlives this client's. */
  readonly keepAlive?: boolean | undefined;
}

const BODY_FRAMING: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding']);

/**
 * The head to send to the engine: the bytes as received when nothing changes (the common case,
 * no copy), else rebuilt without the dropped headers (hop-by-hop, the caller's credentials),
 * under the engine's base path, with the gate's changes.
 */
export function engineRequestHead(
  head: Buffer,
  request: RequestHead,
  basePath: string,
  change?: HeadChange,
): Buffer {
  const credentials = request.authorization.length > 0;
  if (
    basePath === '' &&
    change?.target === undefined &&
    change?.bodyLength === undefined &&
    change?.keepAlive !== true &&
    !credentials &&
    (request.drop.size === 0 || !hasAny(request.headers, request.drop))
  ) {
    return head;
  }
  // The same request rebuilt the same way: remembered with the (remembered) request itself, so a
  // health check's `Connection: close` or a token header costs one rebuild, not one per request.
  const plain = basePath === '' && change?.target === undefined && change?.bodyLength === undefined;
  const memo = change?.keepAlive === true ? rebuiltKeepAlive : rebuilt;
  if (plain) {
    const known = memo.get(request);
    if (known !== undefined) return known;
  }
  const out = rebuildRequestHead(request, basePath, change);
  if (plain) memo.set(request, out);
  return out;
}

/** Rebuilt heads by request, when only dropped headers (and `Connection: close`) change. */
const rebuilt = new WeakMap<RequestHead, Buffer>();
const rebuiltKeepAlive = new WeakMap<RequestHead, Buffer>();

function rebuildRequestHead(request: RequestHead, basePath: string, change: HeadChange | undefined): Buffer {
  const drop = new Set([...request.drop, ...CREDENTIAL_HEADERS]);
  if (change?.keepAlive === true) drop.add('connection');
  let headers = request.headers;
  if (change?.bodyLength !== undefined) {
    for (const name of BODY_FRAMING) drop.add(name);
    headers = [...headers, 'Content-Length', String(change.bodyLength)];
  }
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    // The replacement Content-Length is the last pair; everything named in drop before it goes.
    if (drop.has(name.toLowerCase()) && !(change?.bodyLength !== undefined && i === headers.length - 2))
      continue;
    kept.push(name, headers[i + 1] as string);
  }
  return rebuildHead(
    `${request.method} ${basePath}${change?.target ?? request.target} HTTP/${request.version}`,
    kept,
    NOTHING,
  );
}
