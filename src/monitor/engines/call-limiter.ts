import { DockgateError } from '../../errors.js';

/**
 * Finite engine calls for one engine: at most `maxInFlight` at once, each with a timeout. A
 * dockerd that hangs (seen here: 20.10 deadlocked in libnetwork after a burst of exits — ping and
 * lists answered, stats, inspect and remove hung forever) costs a bounded number of waiting
 * calls, never a pile-up: past `maxQueued` waiting calls, new ones fail at once.
 */
export class CallLimiter {
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  readonly #timeoutMs: number;
  readonly #onTimeout: (what: string) => void;
  #inFlight = 0;
  readonly #queue: (() => void)[] = [];

  constructor(options: {
    maxInFlight: number;
    timeoutMs: number;
    maxQueued?: number;
    /** Told of every call that timed out (the engine is then shown as degraded). */
    onTimeout: (what: string) => void;
  }) {
    this.#maxInFlight = options.maxInFlight;
    this.#maxQueued = options.maxQueued ?? options.maxInFlight * 8;
    this.#timeoutMs = options.timeoutMs;
    this.#onTimeout = options.onTimeout;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Runs `call` with a signal that aborts after the timeout; `what` names it in errors. */
  async run<T>(
    what: string,
    call: (signal: AbortSignal) => Promise<T>,
    timeoutMs = this.#timeoutMs,
  ): Promise<T> {
    if (this.#inFlight >= this.#maxInFlight) {
      if (this.#queue.length >= this.#maxQueued) {
        throw new DockgateError(
          'DG_ENGINE_BUSY',
          `${what}: ${this.#inFlight} calls in flight and ${this.#queue.length} waiting`,
        );
      }
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
    this.#inFlight++;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await call(signal);
    } catch (error) {
      if (signal.aborted) {
        this.#onTimeout(`${what} timed out after ${Math.round(timeoutMs / 1000)} s`);
        throw new DockgateError(
          'DG_ENGINE_TIMEOUT',
          `${what} timed out after ${Math.round(timeoutMs / 1000)} s`,
        );
      }
      throw error;
    } finally {
      this.#inFlight--;
      this.#queue.shift()?.();
    }
  }
}
