import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { EngineEndpoint } from '../../engine/endpoint.js';
import type { Logger } from '../../log/logger.js';
import type { AccessLog } from '../access-log.js';
import type { EnginePool } from '../engine-pool.js';
import type { ConnectionInfo, Gate } from '../gate.js';
import { errorResponse, localResponse, streamHead } from '../http/error-response.js';
import { EngineLink } from './engine-link.js';
import { asAnswer, type Exchange, type OwedAnswer } from './exchange.js';
import { Outbox } from './outbox.js';
import { DRAIN, FLUSH } from './pause.js';
import { Req, RequestSide } from './request-side.js';
import { ResponseSide } from './response-side.js';

/** What a bridge needs from its gateway. */
export interface BridgeContext {
  readonly endpoint: EngineEndpoint;
  /** Largest request head (request line + headers) accepted; beyond it, 431. */
  readonly maxHeadBytes: number;
  /** The listener's URL, for the access log. */
  readonly listener: string;
  readonly log: Logger;
  /** One line per request (see access-log.ts). */
  readonly access: AccessLog;
  readonly nextRequestId: () => string;
  /** Decides every request before it reaches the engine (policy/gatekeeper.ts). */
  readonly gate: Gate;
  readonly closed: (bridge: Bridge) => void;
  /** Idle engine connections shared by the gateway's bridges (engine-pool.ts). */
  readonly pool: EnginePool;
}

/**
 * Pairs one client connection with one engine connection and moves bytes between them without
 * re-serialising them. It reads just enough of each message — the head and the body's framing —
 * to know where the next one starts, to keep pipelined answers in order, to log each exchange,
 * and to switch both directions to a raw pipe when the engine hijacks the connection
 * (101 UPGRADED, or the legacy 200 raw stream). A half-close (FIN) on either side is forwarded
 * as a half-close, never turned into a full close: that is what keeps the output of
 * `docker exec` without -i (moby#11714 for socat's version of this bug).
 *
 * The bridge owns what both directions share — the sockets, the exchanges under way, the answer
 * owed, the pause reasons, closing — and each direction is a state machine of its own:
 * request-side.ts (client → engine, with the gate), response-side.ts (engine → client, with
 * the hijack), engine-link.ts (the engine socket and the pool), outbox.ts (one write per event).
 */
export class Bridge {
  readonly client: Socket;
  readonly ctx: BridgeContext;
  readonly clientLabel: string;
  readonly conn: ConnectionInfo;
  readonly engine: EngineLink;
  readonly request: RequestSide;
  readonly response: ResponseSide;
  /** Exchanges sent to the engine and not yet fully answered, oldest first. */
  readonly inflight: Exchange[] = [];
  /** An error answer the gateway owes the client once the answers before it are through. */
  #owed: OwedAnswer | undefined;
  draining = false;
  closed = false;
  readonly #toEngine = new Outbox();
  readonly #toClient = new Outbox();
  #clientPause = 0;
  #enginePause = 0;
  #endAfterFlush: { destroy: boolean } | undefined;
  /** The gateway's own answer being streamed, if any (the connection's last exchange). */
  #answering: Readable | undefined;

  constructor(client: Socket, clientLabel: string, conn: ConnectionInfo, ctx: BridgeContext) {
    this.client = client;
    this.clientLabel = clientLabel;
    this.conn = conn;
    this.ctx = ctx;
    this.request = new RequestSide(this);
    this.response = new ResponseSide(this);
    this.engine = new EngineLink(ctx.endpoint, ctx.pool, {
      data: (chunk) => {
        this.response.read(chunk);
        this.flushRuns(); // a hold released by this answer may have queued bytes for the engine too
      },
      end: (engine) => {
        this.response.onEnd(engine);
        this.flushRuns();
      },
      close: (engine, failure) => {
        this.response.onClose(engine, failure);
        this.flushRuns();
      },
      drain: () => this.resumeClient(DRAIN),
    });
    client.on('data', (chunk: Buffer) => {
      this.request.read(chunk);
      this.flushRuns();
    });
    client.on('end', () => {
      this.#endAnswer(); // the client is done: as the engine, stop a log it follows
      this.request.onEnd();
      this.flushRuns();
    });
    client.on('drain', () => this.resumeEngine(DRAIN));
    client.on('error', () => {}); // 'close' follows and does the cleanup
    client.on('close', () => this.#onClientClose());
  }

  /** Graceful shutdown: finish the exchanges under way, take no new ones, then close. */
  drain(): void {
    this.draining = true;
    // A streamed answer of the gateway's own (a followed log) ends here, as a follow through a
    // stopping engine would.
    this.#endAnswer();
    this.closeIfIdle();
  }

  /** Ends a streamed answer of the gateway's own early, cleanly (the last chunk is sent). */
  #endAnswer(): void {
    const answering = this.#answering;
    if (answering === undefined) return;
    this.#answering = undefined;
    answering.destroy();
    this.client.write('0\r\n\r\n');
    this.endClient(true);
  }

  /** Immediate shutdown (the grace period is over). */
  destroy(): void {
    this.client.destroy();
    this.engine.socket?.destroy();
  }

  // ── bytes out ──────────────────────────────────────────────────────────────────────────────

  /** Queues bytes for the engine, counted to the newest exchange. */
  sendToEngine(bytes: Buffer): void {
    const current = this.inflight.at(-1);
    if (current !== undefined) current.bytesIn += bytes.length;
    this.#toEngine.add(bytes);
  }

  /** Queues bytes for the client, counted to the oldest exchange (the one being answered). */
  sendToClient(bytes: Buffer): void {
    const exchange = this.inflight[0];
    if (exchange !== undefined) exchange.bytesOut += bytes.length;
    this.#toClient.add(bytes);
  }

  /** Writes what each side has queued. Every event handler ends here. */
  flushRuns(): void {
    this.flushClient();
    this.#flushEngine();
  }

  flushClient(): void {
    if (this.#toClient.flush(this.client)) this.pauseEngine(DRAIN);
  }

  #flushEngine(): void {
    // Gone mid-stream (a hijacked engine side closed): the outbox drops the bytes.
    if (this.#toEngine.flush(this.engine.socket)) this.pauseClient(DRAIN);
  }

  // ── the engine connection ──────────────────────────────────────────────────────────────────

  connectEngine(fresh = false): void {
    this.engine.open(fresh);
    this.response.reset();
  }

  /**
   * The engine connection is at a clean message boundary and may serve another client: connected,
   * every request on it fully sent and fully answered, nothing queued or paused, never hijacked
   * or half-closed.
   */
  reusable(): boolean {
    return (
      this.engine.clean &&
      this.inflight.length === 0 &&
      this.response.idle &&
      this.#toEngine.empty &&
      this.#enginePause === 0
    );
  }

  /** Half-closes the engine connection after what is queued for it. */
  endEngine(): void {
    this.#flushEngine();
    this.engine.end();
  }

  #onClientClose(): void {
    this.closed = true;
    this.#answering?.destroy();
    this.#answering = undefined;
    this.sendOwed(); // an answer still owed is dropped (and a stream of it destroyed)
    // An engine connection at a clean boundary goes to the next client; one with work under way
    // is closed, which cancels that work (a build, a logs -f, a pull).
    this.engine.release(this.reusable());
    this.request.state = Req.Closed;
    // A hijacked exchange ends when its connection does; anything else still open was cut short.
    for (const exchange of this.inflight.splice(0)) this.logExchange(exchange, !exchange.hijacked);
    this.ctx.closed(this);
  }

  // ── answering by itself, closing ───────────────────────────────────────────────────────────

  /**
   * Refuses the request being read: stop reading, answer in order once the exchanges before it
   * are answered, then close.
   */
  reject(error: unknown, id: string | undefined, request?: { method: string; target: string }): void {
    const requestId = id ?? this.ctx.nextRequestId();
    this.request.close();
    const { status, message } = asAnswer(error);
    this.ctx.log.info(
      {
        req: requestId,
        client: this.clientLabel,
        listener: this.ctx.listener,
        method: request?.method,
        path: request?.target,
        status,
        error: message,
      },
      'request refused',
    );
    this.owe({ status, message, id: requestId });
  }

  /** Owes the client this answer: sent now if no answer is before it, else after them. */
  owe(answer: OwedAnswer): void {
    this.#owed = answer;
    if (this.inflight.length === 0) this.sendOwed();
  }

  /** A chunked request body turned out malformed after part of it went to the engine. */
  abortMidRequest(error: unknown): void {
    this.engine.destroy();
    const exchange = this.inflight.shift();
    if (exchange !== undefined) this.logExchange(exchange, true);
    this.inflight.length = 0;
    this.reject(error, exchange?.id);
  }

  /** Answers the oldest exchange with an error of the gateway's own, then closes. */
  answerAndClose(error: unknown): void {
    const exchange = this.inflight.shift();
    const { status, message } = asAnswer(error);
    if (exchange !== undefined) {
      exchange.status = status;
      this.logExchange(exchange, false, message);
    }
    this.inflight.length = 0;
    this.request.state = Req.Closed;
    this.owe({ status, message, id: exchange?.id ?? this.ctx.nextRequestId() });
  }

  /** Sends the answer owed, if any, and closes: called once the answers before it are through. */
  sendOwed(): void {
    const owed = this.#owed;
    if (owed === undefined) return;
    if (this.closed) {
      // Never sent: a streamed answer of the gateway's own lets go of what it holds (a log file).
      this.#owed = undefined;
      const body = owed.answer?.body;
      if (body !== undefined && !Buffer.isBuffer(body)) body.destroy();
      return;
    }
    this.#owed = undefined;
    this.flushClient();
    const body = owed.answer?.body;
    if (body !== undefined && !Buffer.isBuffer(body)) {
      this.#sendStream(owed.status, owed.answer?.contentType ?? 'application/octet-stream', body, owed.id);
      return;
    }
    this.client.write(
      owed.answer === undefined || body === undefined
        ? errorResponse(owed.status, owed.message, owed.id)
        : localResponse(owed.status, owed.answer.contentType, body, owed.id),
    );
    this.engine.destroy();
    this.endClient(true);
  }

  /**
   * The gateway's own streamed answer (a followed log): chunked, paused while the client's
   * socket is full, ended with the last chunk; cut short (no last chunk: the client sees an
   * error) if it fails, destroyed if the client goes away or the gateway drains.
   */
  #sendStream(status: number, contentType: string, body: Readable, id: string): void {
    const client = this.client;
    this.engine.destroy();
    this.#answering = body;
    client.write(streamHead(status, contentType, id));
    body.on('data', (chunk: Buffer) => {
      if (chunk.length === 0) return;
      client.write(`${chunk.length.toString(16)}\r\n`);
      client.write(chunk);
      if (!client.write('\r\n')) body.pause();
    });
    client.on('drain', () => body.resume());
    body.once('end', () => {
      this.#answering = undefined;
      client.write('0\r\n\r\n');
      this.endClient(true);
    });
    body.once('error', (error) => {
      this.#answering = undefined;
      this.ctx.log.warn({ req: id, err: error.message }, 'streamed answer failed');
      client.destroy();
    });
  }

  closeIfIdle(): void {
    if (this.draining && this.inflight.length === 0 && this.request.idle && !this.closed) {
      this.request.state = Req.Closed;
      this.endClient(true);
      this.endEngine();
    }
  }

  /**
   * Sends FIN to the client. With `thenDestroy`, the socket is destroyed once everything
   * written has been flushed: nothing more will be read from it either.
   */
  endClient(thenDestroy = false): void {
    const client = this.client;
    if (client.destroyed) return;
    this.flushClient();
    if ((this.#enginePause & FLUSH) !== 0) {
      // An upgrade head is being delivered on its own; the FIN goes after what follows it.
      this.#endAfterFlush = { destroy: thenDestroy || this.#endAfterFlush?.destroy === true };
      return;
    }
    if (!client.writableEnded) client.end();
    if (thenDestroy) {
      if (client.writableFinished) client.destroy();
      else client.once('finish', () => client.destroy());
    }
  }

  /** The upgrade head (and any bytes that came with it) is out: the stream may flow. */
  headFlushed(): void {
    this.resumeEngine(FLUSH);
    const end = this.#endAfterFlush;
    this.#endAfterFlush = undefined;
    if (end !== undefined) this.endClient(end.destroy);
  }

  // ── pauses (pause.ts) ──────────────────────────────────────────────────────────────────────

  pauseClient(reason: number): void {
    if (this.#clientPause === 0) this.client.pause();
    this.#clientPause |= reason;
  }

  resumeClient(reason: number): void {
    if ((this.#clientPause & reason) === 0) return;
    this.#clientPause &= ~reason;
    if (this.#clientPause === 0 && !this.closed) this.client.resume();
  }

  pauseEngine(reason: number): void {
    if (this.#enginePause === 0) this.engine.socket?.pause();
    this.#enginePause |= reason;
  }

  resumeEngine(reason: number): void {
    if ((this.#enginePause & reason) === 0) return;
    this.#enginePause &= ~reason;
    if (this.#enginePause === 0) this.engine.socket?.resume();
  }

  logExchange(exchange: Exchange, aborted: boolean, error?: string): void {
    exchange.done?.(exchange.status);
    this.ctx.access({
      req: exchange.id,
      client: this.clientLabel,
      listener: this.ctx.listener,
      method: exchange.method,
      path: exchange.target,
      status: exchange.status,
      in: exchange.bytesIn,
      out: exchange.bytesOut,
      ms: Math.round((performance.now() - exchange.started) * 10) / 10,
      hijacked: exchange.hijacked,
      aborted,
      error,
      audit: exchange.audit,
    });
  }
}
