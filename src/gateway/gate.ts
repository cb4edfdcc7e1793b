import type { Readable } from 'node:stream';

/**
 * What the bridge asks before forwarding a request, and what it is told. The gateway moves
 * bytes; the gate (policy/gatekeeper.ts) decides. A ruling can be immediate (the common case,
 * no allocation beyond the value) or a promise (a body to read, an owner to look up).
 */
export interface ConnectionInfo {
  readonly listener: string;
  /** The peer's IP address; undefined on unix sockets. */
  readonly remoteAddress: string | undefined;
  /** Names (CN, SANs) of a verified client certificate; empty without one. */
  readonly certNames: readonly string[];
}

export interface GateRequest {
  readonly id: string;
  readonly method: string;
  readonly target: string;
  /** Values of the request's `Authorization` headers (usually none, or one). */
  readonly authorization: readonly string[];
  readonly hasBody: boolean;
  readonly conn: ConnectionInfo;
}

/** What the audit line records about a decision. */
export interface AuditFields {
  readonly identity: string;
  readonly profile: string;
  readonly route: string;
  readonly npath: string;
  readonly decision: 'allow' | 'deny' | 'would_deny';
  readonly mode: string;
  readonly rule: string;
  readonly reason: string | undefined;
  /** The catalogue code of a refusal (src/errors.ts). */
  readonly code?: string | undefined;
  /** The existing container the request reached into, and how ("exec create → web (3f2a…)"). */
  readonly target?: string | undefined;
  /** The host escape that container holds, when that refused the request. */
  readonly escape?: string | undefined;
}

export interface Forward {
  readonly kind: 'forward';
  readonly audit: AuditFields | undefined;
  /** Replaces the request target. */
  readonly target?: string | undefined;
  /** Replaces the body (sent with Content-Length). */
  readonly body?: Buffer | undefined;
  /** Rewrites a 200 answer's body (it is read whole first). */
  readonly transform?: ((body: Buffer) => Buffer) | undefined;
  /** Called once when the exchange is over, however it ended. */
  readonly done?: ((status: number) => void) | undefined;
}

export interface Refuse {
  readonly kind: 'refuse';
  readonly status: number;
  readonly message: string;
  readonly audit: AuditFields | undefined;
}

/**
 * The gateway answers by itself (its own endpoints, e.g. `GET /dockgate/v1/stats`): in order, like
 * a refusal, with this body; the connection closes after it. A stream body (a followed log) is
 * sent chunked, as fast as the client takes it, and is destroyed if the client goes away.
 */
export interface Answer {
  readonly kind: 'answer';
  readonly status: number;
  readonly contentType: string;
  readonly body: Buffer | Readable;
  readonly audit: AuditFields | undefined;
}

/** Read the body (up to `limit` bytes, else 413) and decide again with it. */
export interface NeedBody {
  readonly kind: 'body';
  readonly limit: number;
  readonly decide: (body: Buffer) => Ruling | Promise<Ruling>;
  readonly audit: AuditFields | undefined;
}

export type Ruling = Forward | Refuse | Answer | NeedBody;

export interface Gate {
  check(request: GateRequest): Ruling | Promise<Ruling>;
}

/** Header names the engine never sees: the caller's credentials are for the gateway. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization']);
