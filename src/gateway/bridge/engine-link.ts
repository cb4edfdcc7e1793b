import type { Socket } from 'node:net';
import { connectEngine } from '../../engine/connect.js';
import type { EngineEndpoint } from '../../engine/endpoint.js';
import type { EnginePool } from '../engine-pool.js';

/** What the bridge does with the engine socket's events. */
export interface EngineEvents {
  data(chunk: Buffer): void;
  end(engine: Socket): void;
  close(engine: Socket, failure: Error | undefined): void;
  drain(): void;
}

/** A listener as Socket.on/off take it. */
type SocketListener = Parameters<Socket['off']>[1];

/**
 * The bridge's engine connection: taken from the pool or opened on the first request, and at
 * the client's close handed back to the pool when it is at a clean message boundary, else
 * closed. The bridge's listeners are removed before a socket goes back, so an idle pooled
 * socket never reaches into a finished bridge.
 */
export class EngineLink {
  /** The connection, while there is one. */
  socket: Socket | undefined;
  /** Reached: connected (TLS: handshake done), or taken from the pool. */
  connected = false;
  /** A request is partly sent on it. */
  midRequest = false;
  /** Hijacked or half-closed: never reused. */
  spoiled = false;
  /**
   * The first request sent on a connection taken from the pool, while no answer byte has come:
   * a GET or HEAD without a body, sent again once on a new connection if the pooled one turns out
   * closed by the engine (its FIN or RST raced our request), as HTTP clients do.
   */
  replay: Buffer | undefined;
  /** Taken from the pool (not opened for this client). */
  reused = false;
  #listeners: [string, SocketListener][] = [];
  readonly #endpoint: EngineEndpoint;
  readonly #pool: EnginePool;
  readonly #events: EngineEvents;

  constructor(endpoint: EngineEndpoint, pool: EnginePool, events: EngineEvents) {
    this.#endpoint = endpoint;
    this.#pool = pool;
    this.#events = events;
  }

  /** Takes an idle connection from the pool (unless `fresh`), or opens one. */
  open(fresh = false): Socket {
    const pooled = fresh ? undefined : this.#pool.take();
    this.reused = pooled !== undefined;
    this.replay = undefined;
    const engine = pooled ?? connectEngine(this.#endpoint);
    this.socket = engine;
    this.connected = pooled !== undefined;
    this.midRequest = false;
    this.spoiled = false;
    let failure: Error | undefined;
    const events = this.#events;
    this.#listeners = [
      // Over TLS the engine counts as reached once the handshake is done, so a certificate
      // problem reads as "cannot reach", not as "closed the connection".
      [
        'encrypted' in engine ? 'secureConnect' : 'connect',
        () => {
          this.connected = true;
        },
      ],
      ['data', (chunk: Buffer) => events.data(chunk)],
      ['end', () => events.end(engine)],
      ['drain', () => events.drain()],
      [
        'error',
        (error: Error) => {
          failure = error;
        },
      ],
      ['close', () => events.close(engine, failure)],
    ];
    for (const [event, listener] of this.#listeners) engine.on(event, listener);
    return engine;
  }

  /** Connected, nothing half sent, never hijacked or half-closed, and the socket still whole. */
  get clean(): boolean {
    const engine = this.socket;
    return (
      engine !== undefined &&
      this.connected &&
      !this.midRequest &&
      !this.spoiled &&
      !engine.destroyed &&
      !engine.readableEnded &&
      engine.writable
    );
  }

  /** Hands the connection to the pool when `reusable`, else closes it. */
  release(reusable: boolean): void {
    const engine = this.socket;
    if (engine === undefined) return;
    this.socket = undefined;
    for (const [event, listener] of this.#listeners) engine.off(event, listener);
    this.#listeners = [];
    if (reusable) this.#pool.give(engine);
    else engine.destroy();
  }

  /** Closes the connection now (its listeners stay: 'close' still reports to a bridge that ignores it). */
  destroy(): void {
    const engine = this.socket;
    this.socket = undefined;
    engine?.destroy();
  }

  /** Half-closes it after what was written; it cannot be reused afterwards. */
  end(): void {
    this.spoiled = true;
    this.socket?.end();
  }
}
