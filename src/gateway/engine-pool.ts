import type { Socket } from 'node:net';

/** Idle engine connections kept at most: enough for bursts of short clients (CLI, health checks). */
export const POOL_MAX_IDLE = 32;
/** An idle engine connection is closed after this long unused. */
export const POOL_IDLE_MS = 30_000;

/**
 * Idle keep-alive engine connections, reused across client connections: a client that connects
 * for one request (the docker CLI, curl, a health check) no longer costs a new engine connection
 * and its setup. A connection comes back here only from a bridge at a clean message boundary —
 * every request it carried fully sent and fully answered, never hijacked, never half-closed, no
 * error (Bridge decides). While idle, any byte, end or error from the engine discards it: an
 * engine that speaks unasked is not trusted with the next request. Most recently used first
 * (warm), and dropped after POOL_IDLE_MS.
 */
export class EnginePool {
  readonly #idle: Socket[] = [];
  readonly #max: number;
  readonly #idleMs: number;
  readonly #watchers = new WeakMap<Socket, () => void>();
  #closed = false;

  constructor(max = POOL_MAX_IDLE, idleMs = POOL_IDLE_MS) {
    this.#max = max;
    this.#idleMs = idleMs;
  }

  /** Idle connections kept now. */
  get size(): number {
    return this.#idle.length;
  }

  /** An idle connection, now the caller's; undefined when none is left. */
  take(): Socket | undefined {
    for (;;) {
      const socket = this.#idle.pop();
      if (socket === undefined) return undefined;
      this.#unwatch(socket);
      if (!socket.destroyed && socket.writable && !socket.readableEnded) return socket;
      socket.destroy();
    }
  }

  /**
   * Keeps `socket` for the next client. The caller has removed its own listeners and vouches
   * for the boundary; anything else about the socket is checked here.
   */
  give(socket: Socket): void {
    if (
      this.#closed ||
      this.#idle.length >= this.#max ||
      socket.destroyed ||
      !socket.writable ||
      socket.readableEnded
    ) {
      socket.destroy();
      return;
    }
    const discard = (): void => {
      const at = this.#idle.indexOf(socket);
      if (at >= 0) this.#idle.splice(at, 1);
      this.#unwatch(socket);
      socket.destroy();
    };
    socket.on('data', discard);
    socket.on('end', discard);
    socket.on('error', discard);
    socket.on('close', discard);
    socket.on('timeout', discard);
    socket.setTimeout(this.#idleMs);
    this.#watchers.set(socket, discard);
    socket.resume();
    this.#idle.push(socket);
  }

  /** Closes every idle connection; later gives are closed at once (shutdown). */
  close(): void {
    this.#closed = true;
    for (const socket of this.#idle.splice(0)) {
      this.#unwatch(socket);
      socket.destroy();
    }
  }

  #unwatch(socket: Socket): void {
    const discard = this.#watchers.get(socket);
    if (discard === undefined) return;
    this.#watchers.delete(socket);
    socket.setTimeout(0);
    for (const event of ['data', 'end', 'error', 'close', 'timeout'] as const) socket.off(event, discard);
  }
}
