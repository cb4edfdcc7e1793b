/**
 * Errors of the client, by what went wrong: the engine answered with an error status (one class
 * per status a caller handles differently), or the engine could not be reached at all.
 */
export class EngineError extends Error {
  readonly status: number;
  /** The engine's own message (`{"message": …}`), or the answer's text. */
  readonly engineMessage: string;
  readonly method: string;
  readonly path: string;

  constructor(status: number, message: string, method: string, path: string) {
    super(`${method} ${path}: ${status} ${message}`);
    this.name = 'EngineError';
    this.status = status;
    this.engineMessage = message;
    this.method = method;
    this.path = path;
  }
}

export class BadRequestError extends EngineError {
  override readonly name = 'BadRequestError';
}
export class UnauthorizedError extends EngineError {
  override readonly name = 'UnauthorizedError';
}
export class ForbiddenError extends EngineError {
  override readonly name = 'ForbiddenError';
}
export class NotFoundError extends EngineError {
  override readonly name = 'NotFoundError';
}
export class NotModifiedError extends EngineError {
  override readonly name = 'NotModifiedError';
}
export class ConflictError extends EngineError {
  override readonly name = 'ConflictError';
}
export class ServerError extends EngineError {
  override readonly name = 'ServerError';
}

const BY_STATUS: Readonly<Record<number, typeof EngineError>> = {
  304: NotModifiedError,
  400: BadRequestError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
};

/** The error class for an answer's status. */
export function engineError(status: number, message: string, method: string, path: string): EngineError {
  const Class = BY_STATUS[status] ?? (status >= 500 ? ServerError : EngineError);
  return new Class(status, message, method, path);
}

/** The engine could not be reached, or the connection broke; `cause` says how (ENOENT, ECONNREFUSED, TLS). */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  readonly engine: string;
  readonly code: string | undefined;

  constructor(engine: string, cause: unknown) {
    const error = cause as NodeJS.ErrnoException;
    super(`cannot reach the Docker engine at ${engine}: ${error?.message ?? String(cause)}`, { cause });
    this.engine = engine;
    this.code = error?.code;
  }
}

/** A pull, build or load reported an error in its progress stream (`errorDetail`). */
export class ProgressError extends Error {
  override readonly name = 'ProgressError';
  readonly code: number | undefined;

  constructor(message: string, code: number | undefined) {
    super(message);
    this.code = code;
  }
}

/** A hijacked session (exec, attach) was not upgraded: the engine answered `status`. */
export class UpgradeError extends Error {
  override readonly name = 'UpgradeError';
  readonly status: number;

  constructor(status: number, message: string) {
    super(`the engine did not upgrade the connection: ${status} ${message}`);
    this.status = status;
  }
}

/**
 * True for what a call throws when its `signal` was aborted: a `DOMException` named `AbortError`
 * (the standard's own error, as `fetch` throws it; a reason given to `abort(reason)` is thrown as
 * is instead). The client has no class of its own for it, so it is told by name.
 *
 * @example
 * try { await docker.containers.wait(id, { signal }); } catch (e) { if (!isAbortError(e)) throw e; }
 */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/**
 * True for what a call throws when its `timeout` passed: a `DOMException` named `TimeoutError`
 * (what `AbortSignal.timeout()` aborts with).
 *
 * @example
 * try { await docker.system.ping({ timeout: 1000 }); } catch (e) { if (isTimeoutError(e)) console.log('engine slow'); }
 */
export function isTimeoutError(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}
