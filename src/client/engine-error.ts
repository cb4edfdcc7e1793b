/** An answer of the engine with status >= 400, with the engine's own message. */
export class EngineError extends Error {
  readonly status: number;
  readonly method: string;
  readonly path: string;

  constructor(status: number, message: string, method: string, path: string) {
    super(`${method} ${path}: ${status} ${message}`);
    this.name = 'EngineError';
    this.status = status;
    this.method = method;
    this.path = path;
  }
}
