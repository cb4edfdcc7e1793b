/**
 * The one error catalogue. Every fault dockgate raises or answers carries a stable `code` from
 * here; code is matched by `code`, never by message text. `docs/errors.md` lists the same codes
 * (a unit test keeps the two in step).
 *
 * `status` is the HTTP status a client sees when the fault is answered on the wire; faults that
 * only ever stop the process (bad config, a listener that cannot bind) have none.
 */
export const ERRORS = {
  DG_CONFIG_INVALID: {
    status: undefined,
    summary: 'A command-line option, environment value or config is invalid.',
  },
  DG_LISTEN_FAILED: { status: undefined, summary: 'A listener could not be opened.' },
  DG_TLS_MATERIAL: {
    status: undefined,
    summary: 'A TLS certificate, key or CA file could not be read or used.',
  },
  DG_BAD_REQUEST: { status: 400, summary: 'The request is not valid HTTP/1.x; the connection is closed.' },
  DG_REQUEST_SMUGGLING: {
    status: 400,
    summary:
      'The request has conflicting or duplicated framing headers (Content-Length / Transfer-Encoding).',
  },
  DG_HEADERS_TOO_LARGE: { status: 431, summary: 'The request line and headers exceed the size limit.' },
  DG_NOT_IMPLEMENTED: {
    status: 501,
    summary: 'The request uses a transfer coding the gateway does not forward.',
  },
  DG_HTTP_VERSION: { status: 505, summary: 'Only HTTP/1.0 and HTTP/1.1 are accepted.' },
  DG_ENGINE_UNREACHABLE: { status: 502, summary: 'The Docker engine could not be reached.' },
  DG_ENGINE_PROTOCOL: {
    status: 502,
    summary: 'The Docker engine answered with something that is not valid HTTP.',
  },
  DG_ENGINE_DISCONNECTED: {
    status: 502,
    summary: 'The Docker engine closed the connection before answering.',
  },
  DG_REQUEST_AMBIGUOUS: {
    status: 400,
    summary:
      'The request path could be read two ways (dot segments, encoded version prefix, controls), or an inspected body is not one JSON object.',
  },
  DG_UNAUTHENTICATED: {
    status: 401,
    summary: 'The bearer token is unknown, revoked or malformed.',
  },
  DG_FORBIDDEN: {
    status: 403,
    summary:
      "The caller's profile does not allow the request, its body asks for a host escape, or its address is not on the allow-list.",
  },
  DG_NOT_OWNED: {
    status: 404,
    summary: 'The object belongs to another identity (ownership); answered as if it did not exist.',
  },
  DG_METHOD_NOT_ALLOWED: {
    status: 405,
    summary: "The caller's profile allows this path, but not with this method.",
  },
  DG_BODY_TOO_LARGE: {
    status: 413,
    summary:
      "A body the gateway must inspect is larger than the profile's bodyLimit; nothing reached the engine.",
  },
  DG_RATE_LIMITED: {
    status: 429,
    summary:
      "The identity's rate limit or concurrency cap is reached, or too many failed sign-ins to the monitor.",
  },
  DG_TARGET_UNCHECKED: {
    status: 503,
    summary:
      'A container the request reaches into (exec, attach, archive, VolumesFrom, container: namespaces) could not be checked for host escapes; refused (fail closed).',
  },
  DG_POLICY_FAILED: {
    status: 500,
    summary: 'The policy could not decide (an internal fault); the request was refused.',
  },
  DG_SHUTTING_DOWN: { status: 503, summary: 'The gateway is shutting down and takes no new requests.' },
  DG_ENGINE_BUSY: {
    status: 503,
    summary:
      'The monitor holds back calls to an engine that is not answering them (calls in flight and waiting at their cap).',
  },
  DG_ENGINE_TIMEOUT: {
    status: 504,
    summary: 'An engine call of the monitor timed out; the engine is shown as degraded.',
  },
  DG_NOT_FOUND: { status: 404, summary: 'The monitor knows no such engine, container or alert.' },
  DG_ENGINE_ELSEWHERE: {
    status: 409,
    summary:
      'The engine is watched by another monitor sharing the store; the request could not be sent there (an anonymous caller, or ownership moving).',
  },
  DG_STORE_UNAVAILABLE: {
    status: undefined,
    summary:
      'The monitor could not open its store (PostgreSQL unreachable, refused the credentials, or a schema newer than this dockgate).',
  },
  DG_UPDATE_REFUSED: {
    status: 409,
    summary:
      'The container cannot be updated as asked (removed when stopped, no image reference, an update of it under way); nothing was changed.',
  },
  DG_BAD_QUERY: {
    status: 400,
    summary: 'A query parameter or request body of the monitor API is not valid; the message names it.',
  },
  DG_ROLE_FORBIDDEN: {
    status: 403,
    summary:
      "The caller's monitor role does not allow this (viewer: read; operator: + actions and logs; admin: everything).",
  },
  DG_CSRF: {
    status: 403,
    summary:
      "A signed-in browser's change (POST, DELETE) lacks the session's X-CSRF-Token; nothing was done.",
  },
  DG_SIGN_IN_FAILED: {
    status: 401,
    summary: 'The user name or password is wrong (which one is not said).',
  },
  DG_TEST_ENGINE: { status: undefined, summary: 'The private test engine could not be started or reached.' },
} as const satisfies Record<string, { status: number | undefined; summary: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** A fault with a stable catalogue code. `message` is safe to show to the caller. */
export class DockgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DockgateError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

export function isDockgateError(value: unknown, code?: ErrorCode): value is DockgateError {
  return value instanceof DockgateError && (code === undefined || value.code === code);
}

/**
 * The body a client sees for an error: Docker's own shape, so the docker CLI prints it as
 * "Error response from daemon: <message>". The request id ties it to the access and audit log.
 */
export function dockerErrorBody(message: string, requestId?: string): string {
  const text =
    requestId === undefined ? `dockgate: ${message}` : `dockgate: ${message} (request ${requestId})`;
  return JSON.stringify({ message: text });
}
