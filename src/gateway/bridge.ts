import type { Socket } from 'node:net';
import { connectEngine } from '../engine/connect.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { DockgateError, ERRORS, isDockgateError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AccessLog } from './access-log.js';
import type { EnginePool } from './engine-pool.js';
import type { Answer, AuditFields, ConnectionInfo, Forward, Gate, NeedBody, Refuse, Ruling } from './gate.js';
import { mayHijack } from './hijack.js';
import { BodyCollector } from './http/body-collector.js';
import { ChunkedScanner } from './http/chunked-scanner.js';
import { errorResponse, localResponse } from './http/error-response.js';
import { findHeadEnd, rebuildHead } from './http/header-fields.js';
import { engineRequestHead, parseRequestHead, type RequestHead } from './http/request-head.js';
import { parseResponseHead, type ResponseHead } from './http/response-head.js';

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

/** One request/response exchange on the connection, from head to the end of its answer. */
interface Exchange {
  readonly id: string;
  readonly method: string;
  readonly target: string;
  readonly started: number;
  /** May take over the connection: later client bytes wait for the answer (see hijack.ts). */
  readonly holds: boolean;
  status: number;
  bytesIn: number;
  bytesOut: number;
  hijacked: boolean;
  readonly audit: AuditFields | undefined;
  /** Rewrites a 200 answer's body (read whole first), from the gate. */
  readonly transform: ((body: Buffer) => Buffer) | undefined;
  readonly done: ((status: number) => void) | undefined;
  /**
   * The client asked to close after this exchange (`Connection: close`): the engine was asked to
   * keep its connection (for the next client), so the gateway closes the client's itself.
   */
  closeAfter: boolean;
}

/** A request read up to its head whose ruling is not in yet (a body to read, a lookup). */
interface Pending {
  readonly head: Buffer;
  readonly request: RequestHead;
  readonly id: string;
  readonly started: number;
  /** The body as received (framing included), once read for the gate. */
  rawBody: Buffer | undefined;
}

/** A listener as Socket.on/off take it. */
type SocketListener = Parameters<Socket['off']>[1];

/** Where the client → engine byte stream is. */
enum Req {
  Head, // reading a request head
  Length, // forwarding a Content-Length body
  Chunked, // forwarding a chunked body
  Hold, // a hijack request was sent: hold later bytes until the answer decides
  Raw, // hijacked: raw bytes
  Closed, // rejected or gone: discard
  Body, // reading a body the gate asked to see, before anything of the request is forwarded
  Wait, // the gate's ruling is not in yet: hold later bytes
}

/** Where the engine → client byte stream is. */
enum Res {
  Head,
  Length,
  Chunked,
  Close, // body delimited by the engine closing
  Raw, // hijacked
  Collect, // reading an answer whole for the gate's transform (redaction)
}

// Reasons a socket is paused; it reads again only when none is left.
const DRAIN = 1; // the other side's write buffer is full (backpressure)
const HOLD = 2; // waiting for a hijack decision
const FLUSH = 4; // an upgrade head must reach the client alone, before stream bytes

const MAX_RESPONSE_HEAD = 1 << 20;
const HEAD_ALONE_DELAY_MS = 2;
const MAX_HELD_BYTES = 1 << 20;
const MAX_TRANSFORMED_ANSWER = 64 << 20;
const NO_NAMES: ReadonlySet<string> = new Set();

/**
 * Pairs one client connection with one engine connection and moves bytes between them without
 * re-serialising them. It reads just enough of each message — the head and the body's framing —
 * to know where the next one starts, to keep pipelined answers in order, to log each exchange,
 * and to switch both directions to a raw pipe when the engine hijacks the connection
 * (101 UPGRADED, or the legacy 200 raw stream). A half-close (FIN) on either side is forwarded
 * as a half-close, never turned into a full close: that is what keeps the output of
 * `docker exec` without -i (moby#11714 for socat's version of this bug).
 */
export class Bridge {
  readonly #client: Socket;
  readonly #ctx: BridgeContext;
  readonly #clientLabel: string;
  readonly #conn: ConnectionInfo;
  #engine: Socket | undefined;
  #engineConnected = false;
  /** This bridge's listeners on the engine socket, removed when the socket goes back to the pool. */
  #engineListeners: [string, SocketListener][] = [];
  /**
   * The engine connection may serve another client afterwards: no request is half sent on it,
   * it was never hijacked nor half-closed. Checked with the rest of the boundary in #reusable.
   */
  #engineMidRequest = false;
  #engineSpoiled = false;

  #req = Req.Head;
  #reqPending: Buffer | undefined;
  #reqRemaining = 0;
  #reqScanner: ChunkedScanner | undefined;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #clientEnded = false;
  /** The request whose ruling is awaited, and the body read for it. */
  #pending: Pending | undefined;
  #pendingBody: { ruling: NeedBody; body: BodyCollector } | undefined;

  #res = Res.Head;
  #resPending: Buffer | undefined;
  #resRemaining = 0;
  #resScanner: ChunkedScanner | undefined;
  #resCollect: { head: ResponseHead; body: BodyCollector } | undefined;

  /** Exchanges sent to the engine and not yet fully answered, oldest first. */
  readonly #inflight: Exchange[] = [];
  /** An error answer the gateway owes the client once the answers before it are through. */
  #owedError: { status: number; message: string; id: string; answer?: Answer | undefined } | undefined;

  #clientPause = 0;
  #enginePause = 0;
  #draining = false;
  #closed = false;
  #endAfterFlush: { destroy: boolean } | undefined;
  /** Bytes queued for each side, written once per event (see #toEngine). */
  #engineRun: Buffer | undefined;
  #clientRun: Buffer | undefined;
  /** Runs for the client before #clientRun, not contiguous with it: written with it (writev). */
  #clientEarlier: Buffer[] | undefined;

  constructor(client: Socket, clientLabel: string, conn: ConnectionInfo, ctx: BridgeContext) {
    this.#client = client;
    this.#clientLabel = clientLabel;
    this.#conn = conn;
    this.#ctx = ctx;
    client.on('data', (chunk: Buffer) => this.#onClientData(chunk));
    client.on('end', () => {
      this.#onClientEnd();
      this.#flushRuns();
    });
    client.on('drain', () => this.#resumeEngine(DRAIN));
    client.on('error', () => {}); // 'close' follows and does the cleanup
    client.on('close', () => this.#onClientClose());
  }

  /** Graceful shutdown: finish the exchanges under way, take no new ones, then close. */
  drain(): void {
    this.#draining = true;
    this.#closeIfIdle();
  }

  /** Immediate shutdown (the grace period is over). */
  destroy(): void {
    this.#client.destroy();
    this.#engine?.destroy();
  }

  // ── client → engine ────────────────────────────────────────────────────────────────────────

  #onClientData(chunk: Buffer): void {
    this.#readClient(chunk);
    this.#flushRuns();
  }

  #readClient(chunk: Buffer): void {
    let buf = chunk;
    let pos = 0;
    while (pos < buf.length) {
      switch (this.#req) {
        case Req.Head: {
          if (this.#reqPending !== undefined) {
            buf = Buffer.concat([this.#reqPending, buf.subarray(pos)]);
            pos = 0;
            this.#reqPending = undefined;
          }
          // Tolerate the stray CRLF some clients send after a body (RFC 9112 §2.2).
          while (pos + 1 < buf.length && buf[pos] === 0x0d && buf[pos + 1] === 0x0a) pos += 2;
          if (pos >= buf.length) return;
          const end = findHeadEnd(buf, pos);
          if (end < 0 || end - pos > this.#ctx.maxHeadBytes) {
            if (buf.length - pos > this.#ctx.maxHeadBytes) {
              this.#reject(new DockgateError('DG_HEADERS_TOO_LARGE', 'request headers too large'), undefined);
              return;
            }
            this.#reqPending = buf.subarray(pos);
            return;
          }
          if (!this.#startRequest(buf.subarray(pos, end))) return;
          pos = end;
          break;
        }
        case Req.Length: {
          const take = Math.min(this.#reqRemaining, buf.length - pos);
          this.#toEngine(buf.subarray(pos, pos + take));
          pos += take;
          this.#reqRemaining -= take;
          if (this.#reqRemaining === 0) this.#requestSent();
          break;
        }
        case Req.Chunked: {
          let end: number;
          try {
            end = (this.#reqScanner as ChunkedScanner).scan(buf, pos);
          } catch (error) {
            this.#abortMidRequest(error);
            return;
          }
          const stop = end < 0 ? buf.length : end;
          this.#toEngine(buf.subarray(pos, stop));
          pos = stop;
          if (end >= 0) this.#requestSent();
          break;
        }
        case Req.Body: {
          const take = this.#readPendingBody(buf, pos);
          if (take < 0) return;
          pos = take;
          break;
        }
        case Req.Hold:
        case Req.Wait:
          this.#hold(buf.subarray(pos));
          return;
        case Req.Raw:
          this.#toEngine(buf.subarray(pos));
          return;
        case Req.Closed:
          return;
      }
    }
  }

  /** Parses a request head and asks the gate; false when the request was refused. */
  #startRequest(head: Buffer): boolean {
    let request: RequestHead;
    try {
      request = parseRequestHead(head);
    } catch (error) {
      this.#reject(error, undefined);
      return false;
    }
    const id = this.#ctx.nextRequestId();
    if (this.#draining) {
      this.#reject(new DockgateError('DG_SHUTTING_DOWN', 'the gateway is shutting down'), id, request);
      return false;
    }
    const pending: Pending = { head, request, id, started: performance.now(), rawBody: undefined };
    const ruling = this.#ctx.gate.check({
      id,
      method: request.method,
      target: request.target,
      authorization: request.authorization,
      hasBody: request.body.kind !== 'none',
      conn: this.#conn,
    });
    return this.#apply(pending, ruling);
  }

  /** Acts on a ruling; false when the request was refused (nothing more is read). */
  #apply(pending: Pending, ruling: Ruling | Promise<Ruling>): boolean {
    if (ruling instanceof Promise) {
      this.#pending = pending;
      this.#req = Req.Wait;
      ruling.then(
        (r) => this.#ruled(pending, r),
        (error: unknown) => {
          this.#ctx.log.error({ err: errorText(error), req: pending.id }, 'policy decision failed');
          this.#ruled(pending, {
            kind: 'refuse',
            status: ERRORS.DG_POLICY_FAILED.status,
            message: 'policy decision failed',
            audit: undefined,
          });
        },
      );
      return true;
    }
    switch (ruling.kind) {
      case 'refuse':
      case 'answer':
        this.#refuse(pending, ruling);
        return false;
      case 'forward':
        this.#forward(pending, ruling);
        return true;
      case 'body': {
        const body = pending.request.body;
        if (body.kind === 'none' || pending.rawBody !== undefined) {
          return this.#apply(pending, ruling.decide(pending.rawBody ?? Buffer.alloc(0)));
        }
        if (body.kind === 'length' && body.length > ruling.limit) {
          this.#refuse(pending, tooLarge(ruling));
          return false;
        }
        this.#pending = pending;
        this.#pendingBody = { ruling, body: new BodyCollector(body, 'DG_BAD_REQUEST') };
        this.#req = Req.Body;
        // A client waiting for "100 Continue" before it sends the body (curl does for large
        // bodies) would wait for the engine, which has not seen the request yet: answer for it.
        // Only when no answer is owed before this one, so the 100 cannot overtake it.
        if (this.#inflight.length === 0 && expectsContinue(pending.request.headers)) {
          this.#client.write(CONTINUE);
        }
        return true;
      }
    }
  }

  /** A ruling that took time is in: act on it, then go on with what the client sent meanwhile. */
  #ruled(pending: Pending, ruling: Ruling): void {
    if (this.#closed || this.#pending !== pending) {
      if (ruling.kind === 'forward') ruling.done?.(0); // gave up before it was sent
      return;
    }
    this.#pending = undefined;
    this.#req = Req.Head;
    if (this.#apply(pending, ruling)) this.#replayHeld();
    this.#flushRuns();
  }

  /** Reads body bytes the gate asked to see; returns the new position, or -1 when refused. */
  #readPendingBody(buf: Buffer, pos: number): number {
    const { ruling, body } = this.#pendingBody as { ruling: NeedBody; body: BodyCollector };
    const pending = this.#pending as Pending;
    let step: { stop: number; complete: boolean };
    try {
      step = body.take(buf, pos);
    } catch (error) {
      this.#pendingBody = undefined;
      this.#pending = undefined;
      this.#reject(error, pending.id, pending.request);
      return -1;
    }
    // Chunk framing may add a little; the payload itself is checked against the limit below.
    if (body.size > ruling.limit + (body.chunked ? 64 * 1024 : 0)) {
      this.#refuse(pending, tooLarge(ruling));
      return -1;
    }
    if (!step.complete) return step.stop;
    this.#pendingBody = undefined;
    this.#pending = undefined;
    const raw = body.raw();
    pending.rawBody = raw;
    const payload = BodyCollector.payload(raw, body.chunked);
    if (payload.length > ruling.limit) {
      this.#refuse(pending, tooLarge(ruling));
      return -1;
    }
    this.#req = Req.Head;
    return this.#apply(pending, ruling.decide(payload)) ? step.stop : -1;
  }

  /** Sends an allowed request on to the engine, as changed by the gate. */
  #forward(pending: Pending, ruling: Forward): void {
    const { request } = pending;
    const holds = mayHijack(request.method, request.target, request.upgrade);
    const exchange: Exchange = {
      id: pending.id,
      method: request.method,
      target: request.target,
      started: pending.started,
      holds,
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      hijacked: false,
      audit: ruling.audit,
      transform: ruling.transform,
      done: ruling.done,
      // `Connection: close` alone (HTTP/1.1, no upgrade): the engine keeps its connection for
      // the next client and the gateway closes this one after the answer, as the engine would.
      closeAfter: request.closeOnly && !holds,
    };
    this.#inflight.push(exchange);
    const basePath = this.#ctx.endpoint.kind === 'tcp' ? this.#ctx.endpoint.basePath : '';
    if (this.#engine === undefined) this.#connect();
    const body = ruling.body ?? pending.rawBody;
    this.#engineMidRequest = true;
    this.#toEngine(
      engineRequestHead(pending.head, request, basePath, {
        target: ruling.target,
        bodyLength: ruling.body?.length,
        keepAlive: exchange.closeAfter,
      }),
    );
    if (body !== undefined) {
      this.#toEngine(body);
      this.#requestSent();
      return;
    }
    switch (request.body.kind) {
      case 'none':
        this.#requestSent();
        break;
      case 'length':
        this.#req = Req.Length;
        this.#reqRemaining = request.body.length;
        break;
      case 'chunked':
        this.#req = Req.Chunked;
        this.#reqScanner = new ChunkedScanner('DG_BAD_REQUEST');
        break;
    }
  }

  /**
   * The gate refused, or answers by itself: answer in order once the exchanges before it are
   * answered, then close.
   */
  #refuse(pending: Pending, ruling: Refuse | Answer): void {
    this.#pending = undefined;
    this.#pendingBody = undefined;
    const exchange: Exchange = {
      id: pending.id,
      method: pending.request.method,
      target: pending.request.target,
      started: pending.started,
      holds: false,
      status: ruling.status,
      bytesIn: pending.head.length + (pending.rawBody?.length ?? 0),
      bytesOut: 0,
      hijacked: false,
      audit: ruling.audit,
      transform: undefined,
      done: undefined,
      closeAfter: false,
    };
    const answer = ruling.kind === 'answer' ? ruling : undefined;
    this.#logExchange(exchange, false, answer === undefined ? (ruling as Refuse).message : undefined);
    this.#req = Req.Closed;
    this.#reqPending = undefined;
    this.#held = [];
    this.#owedError = {
      status: ruling.status,
      message: answer === undefined ? (ruling as Refuse).message : '',
      id: pending.id,
      answer,
    };
    if (this.#inflight.length === 0) this.#sendOwedError();
  }

  /** The current request's last byte went to the engine. */
  #requestSent(): void {
    this.#reqScanner = undefined;
    this.#engineMidRequest = false;
    const current = this.#inflight.at(-1);
    this.#req = current?.holds === true && current.status === 0 ? Req.Hold : Req.Head;
    // After `Connection: close` nothing more is read: the engine would not have either.
    if (current?.closeAfter === true) {
      this.#req = Req.Closed;
      return;
    }
    if (this.#req === Req.Head && this.#clientEnded) this.#onClientEnd();
  }

  #hold(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#held.push(bytes);
    this.#heldBytes += bytes.length;
    if (this.#heldBytes >= MAX_HELD_BYTES) this.#pauseClient(HOLD);
  }

  /** The engine answered the held request: replay what the client sent meanwhile. */
  #releaseHold(raw: boolean): void {
    this.#req = raw ? Req.Raw : Req.Head;
    this.#replayHeld();
  }

  /** Replays held client bytes through the reader, in the current state. */
  #replayHeld(): void {
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    this.#resumeClient(HOLD);
    // Replaying may start a pipelined request that holds again; #readClient then re-holds the rest.
    for (let i = 0; i < held.length; i++) {
      const req = this.#req as Req;
      if (req === Req.Hold || req === Req.Wait) {
        for (const bytes of held.slice(i)) this.#hold(bytes);
        return;
      }
      this.#readClient(held[i] as Buffer);
    }
    const req = this.#req as Req;
    if (this.#clientEnded && req !== Req.Hold && req !== Req.Wait) this.#onClientEnd();
  }

  /**
   * Queues bytes for the engine. Consecutive slices of one read (a request head and its body)
   * leave as one write: each write to a socket is a syscall, the largest cost on this path.
   */
  #toEngine(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const current = this.#inflight.at(-1);
    if (current !== undefined) current.bytesIn += bytes.length;
    const run = this.#engineRun;
    if (run !== undefined && follows(run, bytes)) {
      this.#engineRun = Buffer.from(run.buffer, run.byteOffset, run.length + bytes.length);
      return;
    }
    this.#flushEngineRun();
    this.#engineRun = bytes;
  }

  #flushEngineRun(): void {
    const run = this.#engineRun;
    if (run === undefined) return;
    this.#engineRun = undefined;
    const engine = this.#engine;
    // Gone mid-stream (a hijacked engine side closed): there is no one left to hear it.
    if (engine === undefined || engine.destroyed) return;
    if (!engine.write(run)) this.#pauseClient(DRAIN);
  }

  /** Half-closes the engine connection after what is queued for it. */
  #endEngine(): void {
    this.#flushEngineRun();
    this.#engineSpoiled = true;
    this.#engine?.end();
  }

  #onClientEnd(): void {
    this.#clientEnded = true;
    switch (this.#req) {
      case Req.Hold:
      case Req.Wait:
        return; // forwarded after the held bytes, in #replayHeld
      case Req.Body:
        // The body the gate wanted will not be completed: nothing of it went to the engine.
        this.#req = Req.Closed;
        this.#endClient(true);
        return;
      case Req.Closed:
        return;
      case Req.Head:
        if (this.#inflight.length === 0) {
          // Nothing under way: the client is done with this connection. An engine connection
          // that can serve another client is kept (at the client's close), not half-closed.
          this.#endClient();
          if (!this.#reusable()) this.#endEngine();
          return;
        }
        this.#endEngine();
        return;
      default:
        // Mid-body or hijacked: forward the half-close as a half-close.
        this.#endEngine();
    }
  }

  #onClientClose(): void {
    this.#closed = true;
    // An engine connection at a clean boundary goes to the next client; one with work under way
    // is closed, which cancels that work (a build, a logs -f, a pull).
    this.#releaseEngine();
    this.#req = Req.Closed;
    // A hijacked exchange ends when its connection does; anything else still open was cut short.
    for (const exchange of this.#inflight.splice(0)) this.#logExchange(exchange, !exchange.hijacked);
    this.#ctx.closed(this);
  }

  // ── engine → client ────────────────────────────────────────────────────────────────────────

  #connect(): Socket {
    const pooled = this.#ctx.pool.take();
    const engine = pooled ?? connectEngine(this.#ctx.endpoint);
    this.#engine = engine;
    this.#engineConnected = pooled !== undefined;
    this.#engineMidRequest = false;
    this.#engineSpoiled = false;
    this.#res = Res.Head;
    this.#resPending = undefined;
    let failure: Error | undefined;
    this.#engineListeners = [
      // Over TLS the engine counts as reached once the handshake is done, so a certificate
      // problem reads as "cannot reach", not as "closed the connection".
      [
        'encrypted' in engine ? 'secureConnect' : 'connect',
        () => {
          this.#engineConnected = true;
        },
      ],
      ['data', (chunk: Buffer) => this.#onEngineData(chunk)],
      [
        'end',
        () => {
          this.#onEngineEnd(engine);
          this.#flushRuns();
        },
      ],
      ['drain', () => this.#resumeClient(DRAIN)],
      [
        'error',
        (error: Error) => {
          failure = error;
        },
      ],
      [
        'close',
        () => {
          this.#onEngineClose(engine, failure);
          this.#flushRuns();
        },
      ],
    ];
    for (const [event, listener] of this.#engineListeners) engine.on(event, listener);
    return engine;
  }

  /**
   * The engine connection is at a clean message boundary and may serve another client: connected,
   * every request on it fully sent and fully answered, nothing queued or paused, never hijacked
   * or half-closed.
   */
  #reusable(): boolean {
    const engine = this.#engine;
    return (
      engine !== undefined &&
      this.#engineConnected &&
      !this.#engineMidRequest &&
      !this.#engineSpoiled &&
      this.#inflight.length === 0 &&
      this.#res === Res.Head &&
      this.#resPending === undefined &&
      this.#engineRun === undefined &&
      this.#enginePause === 0 &&
      !engine.destroyed &&
      !engine.readableEnded &&
      engine.writable
    );
  }

  /** Hands the engine connection to the pool, or closes it when it cannot be reused. */
  #releaseEngine(): void {
    const engine = this.#engine;
    if (engine === undefined) return;
    const reusable = this.#reusable();
    this.#engine = undefined;
    for (const [event, listener] of this.#engineListeners) engine.off(event, listener);
    this.#engineListeners = [];
    if (reusable) this.#ctx.pool.give(engine);
    else engine.destroy();
  }

  #onEngineData(chunk: Buffer): void {
    this.#readEngine(chunk);
    this.#flushRuns(); // a hold released by this answer may have queued bytes for the engine too
  }

  /** Writes what each side has queued. Every event handler ends here. */
  #flushRuns(): void {
    this.#flushClientRun();
    this.#flushEngineRun();
  }

  #readEngine(chunk: Buffer): void {
    let buf = chunk;
    let pos = 0;
    while (pos < buf.length) {
      switch (this.#res) {
        case Res.Head: {
          if (this.#resPending !== undefined) {
            buf = Buffer.concat([this.#resPending, buf.subarray(pos)]);
            pos = 0;
            this.#resPending = undefined;
          }
          const end = findHeadEnd(buf, pos);
          if (end < 0) {
            if (buf.length - pos > MAX_RESPONSE_HEAD) {
              this.#engineFailed(new DockgateError('DG_ENGINE_PROTOCOL', 'response head too large'));
              return;
            }
            this.#resPending = buf.subarray(pos);
            return;
          }
          if (!this.#startResponse(buf.subarray(pos, end), buf.subarray(end))) return;
          pos = end;
          break;
        }
        case Res.Length: {
          const take = Math.min(this.#resRemaining, buf.length - pos);
          this.#toClient(buf.subarray(pos, pos + take));
          pos += take;
          this.#resRemaining -= take;
          if (this.#resRemaining === 0) this.#responseDone();
          break;
        }
        case Res.Chunked: {
          let end: number;
          try {
            end = (this.#resScanner as ChunkedScanner).scan(buf, pos);
          } catch (error) {
            this.#engineFailed(error);
            return;
          }
          const stop = end < 0 ? buf.length : end;
          this.#toClient(buf.subarray(pos, stop));
          pos = stop;
          if (end >= 0) this.#responseDone();
          break;
        }
        case Res.Close:
        case Res.Raw:
          this.#toClient(buf.subarray(pos));
          return;
        case Res.Collect: {
          const next = this.#collectResponse(buf, pos);
          if (next < 0) return;
          pos = next;
          break;
        }
      }
    }
  }

  /**
   * Forwards a response head. Returns false when the rest of the chunk (`rest`) was taken
   * over (the connection turned raw) or the answer failed.
   */
  #startResponse(head: Buffer, rest: Buffer): boolean {
    const exchange = this.#inflight[0];
    if (exchange === undefined) {
      this.#engineFailed(
        new DockgateError('DG_ENGINE_PROTOCOL', 'the engine answered a request nobody sent'),
      );
      return false;
    }
    let response: ReturnType<typeof parseResponseHead>;
    try {
      response = parseResponseHead(head, exchange.method);
    } catch (error) {
      this.#engineFailed(error);
      return false;
    }
    exchange.status = response.status;
    if (response.status === 101 || (response.body.kind === 'close' && exchange.holds)) {
      this.#hijack(exchange, response.forward, rest);
      return false;
    }
    if (
      exchange.transform !== undefined &&
      response.status === 200 &&
      (response.body.kind === 'length' || response.body.kind === 'chunked')
    ) {
      this.#resCollect = { head: response, body: new BodyCollector(response.body, 'DG_ENGINE_PROTOCOL') };
      this.#res = Res.Collect;
      if (response.body.kind === 'length' && response.body.length === 0) this.#finishCollect();
      return true;
    }
    this.#toClient(
      exchange.closeAfter && response.status >= 200
        ? withConnectionClose(response.forward)
        : response.forward,
    );
    if (response.status < 200) return true; // 100 Continue and friends: the real answer follows
    switch (response.body.kind) {
      case 'none':
        this.#responseDone();
        break;
      case 'length':
        this.#res = Res.Length;
        this.#resRemaining = response.body.length;
        break;
      case 'chunked':
        this.#res = Res.Chunked;
        this.#resScanner = new ChunkedScanner('DG_ENGINE_PROTOCOL');
        break;
      case 'close':
        this.#res = Res.Close;
        break;
    }
    return true;
  }

  /**
   * The engine took over the connection: from now on both directions are a raw pipe. The
   * answer's head goes to the client on its own, before any stream byte, because clients that
   * read the head with a buffered reader and then switch to the raw socket lose bytes that
   * arrive in the same read (docker-py over TCP).
   */
  #hijack(exchange: Exchange, head: Buffer, rest: Buffer): void {
    exchange.hijacked = true;
    this.#engineSpoiled = true;
    this.#res = Res.Raw;
    this.#pauseEngine(FLUSH);
    this.#countOut(head.length);
    this.#flushClientRun();
    this.#client.write(head, () => {
      if (rest.length === 0) {
        this.#headFlushed();
        return;
      }
      // Stream bytes came in the same read as the head: give the client a moment to read the
      // head by itself, as it would from dockerd, which flushes the head before any output.
      setTimeout(() => {
        this.#toClient(rest);
        this.#flushClientRun();
        this.#headFlushed();
      }, HEAD_ALONE_DELAY_MS);
    });
    // HTTP framing is over on the engine side; no keep-alive after a hijack.
    if (this.#req === Req.Hold) this.#releaseHold(true);
    else if (this.#req !== Req.Closed) this.#req = Req.Raw;
  }

  /** Reads an answer whole for the gate's transform; returns the new position or -1. */
  #collectResponse(buf: Buffer, pos: number): number {
    const { body } = this.#resCollect as { body: BodyCollector };
    let step: { stop: number; complete: boolean };
    try {
      step = body.take(buf, pos);
    } catch (error) {
      this.#engineFailed(error);
      return -1;
    }
    if (body.size > MAX_TRANSFORMED_ANSWER) {
      this.#engineFailed(new DockgateError('DG_ENGINE_PROTOCOL', 'answer too large to redact'));
      return -1;
    }
    if (step.complete) this.#finishCollect();
    return step.stop;
  }

  #finishCollect(): void {
    const { head, body } = this.#resCollect as { head: ResponseHead; body: BodyCollector };
    this.#resCollect = undefined;
    const exchange = this.#inflight[0] as Exchange;
    const out = (exchange.transform as (b: Buffer) => Buffer)(
      BodyCollector.payload(body.raw(), body.chunked),
    );
    const kept: string[] = [];
    for (let i = 0; i < head.headers.length; i += 2) {
      const name = (head.headers[i] as string).toLowerCase();
      if (name !== 'content-length' && name !== 'transfer-encoding')
        kept.push(head.headers[i] as string, head.headers[i + 1] as string);
    }
    kept.push('Content-Length', String(out.length));
    const statusLine = head.forward.toString('latin1', 0, head.forward.indexOf('\r\n'));
    this.#toClient(rebuildHead(statusLine, kept, NO_NAMES));
    this.#toClient(out);
    this.#responseDone();
  }

  /** The upgrade head (and any bytes that came with it) is out: the stream may flow. */
  #headFlushed(): void {
    this.#resumeEngine(FLUSH);
    const end = this.#endAfterFlush;
    this.#endAfterFlush = undefined;
    if (end !== undefined) this.#endClient(end.destroy);
  }

  /** The current answer's last byte went to the client. */
  #responseDone(): void {
    this.#res = Res.Head;
    this.#resScanner = undefined;
    const exchange = this.#inflight.shift();
    if (exchange !== undefined) this.#logExchange(exchange, false);
    if (exchange?.closeAfter === true) {
      this.#req = Req.Closed;
      this.#endClient(true);
      return;
    }
    if (this.#req === Req.Hold && this.#inflight.length === 0) this.#releaseHold(false);
    if (this.#inflight.length === 0 && this.#owedError !== undefined) this.#sendOwedError();
    this.#closeIfIdle();
  }

  /**
   * Queues bytes for the client. Consecutive slices of one read grow one run; a piece that is
   * not (a rebuilt head before its body) starts a new run, and the runs leave together in one
   * writev (cork/uncork): one system call per event either way.
   */
  #toClient(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#countOut(bytes.length);
    const run = this.#clientRun;
    if (run !== undefined && follows(run, bytes)) {
      this.#clientRun = Buffer.from(run.buffer, run.byteOffset, run.length + bytes.length);
      return;
    }
    if (run !== undefined) {
      if (this.#clientEarlier === undefined) this.#clientEarlier = [run];
      else this.#clientEarlier.push(run);
    }
    this.#clientRun = bytes;
  }

  #flushClientRun(): void {
    const run = this.#clientRun;
    if (run === undefined) return;
    this.#clientRun = undefined;
    const earlier = this.#clientEarlier;
    if (earlier === undefined) {
      if (!this.#client.write(run)) this.#pauseEngine(DRAIN);
      return;
    }
    this.#clientEarlier = undefined;
    const client = this.#client;
    client.cork();
    let full = false;
    for (const piece of earlier) full = !client.write(piece) || full;
    full = !client.write(run) || full;
    client.uncork();
    if (full) this.#pauseEngine(DRAIN);
  }

  #countOut(bytes: number): void {
    const exchange = this.#inflight[0];
    if (exchange !== undefined) exchange.bytesOut += bytes;
  }

  #onEngineEnd(engine: Socket): void {
    if (engine !== this.#engine) return;
    switch (this.#res) {
      case Res.Raw:
        // Half-close from the engine: the client may still be sending (stdin).
        this.#endClient();
        return;
      case Res.Close:
        this.#res = Res.Head;
        this.#responseDone();
        this.#endClient();
        engine.end();
        return;
      default:
        this.#engineGone(engine, undefined);
    }
  }

  #onEngineClose(engine: Socket, failure: Error | undefined): void {
    if (engine !== this.#engine) return;
    if (this.#res === Res.Raw || this.#res === Res.Close) {
      // Fully closed (or reset): the stream is over. End the client cleanly once written.
      if (this.#res === Res.Close) this.#responseDone();
      this.#endClient(true);
      return;
    }
    this.#engineGone(engine, failure);
  }

  /** The engine connection ended outside a raw stream. */
  #engineGone(engine: Socket, failure: Error | undefined): void {
    this.#engine = undefined;
    engine.destroy();
    const exchange = this.#inflight[0];
    if (exchange === undefined && this.#resPending === undefined) {
      // The engine closed the connection between requests (after `Connection: close`, an
      // HTTP/1.0 answer, or its own idle limit): the paired client connection closes as it
      // would have, straight to the engine.
      this.#req = Req.Closed;
      this.#endClient(true);
      return;
    }
    if (!this.#engineConnected) {
      const why = failure === undefined ? 'connection closed' : describeSocketError(failure);
      this.#answerAndClose(
        new DockgateError(
          'DG_ENGINE_UNREACHABLE',
          `cannot reach the Docker engine at ${this.#ctx.endpoint.url}: ${why}`,
        ),
      );
      return;
    }
    this.#engineFailed(
      new DockgateError(
        'DG_ENGINE_DISCONNECTED',
        `the Docker engine closed the connection${failure === undefined ? '' : ` (${describeSocketError(failure)})`}`,
      ),
    );
  }

  /** The engine broke the protocol or went away mid-answer. */
  #engineFailed(error: unknown): void {
    const engine = this.#engine;
    this.#engine = undefined;
    engine?.destroy();
    const exchange = this.#inflight[0];
    if (exchange !== undefined && exchange.status === 0 && exchange.bytesOut === 0) {
      this.#answerAndClose(error);
      return;
    }
    // Part of an answer is out already: all we can do is end the stream where it stopped.
    this.#ctx.log.warn({ err: errorText(error), client: this.#clientLabel }, 'engine stream ended early');
    this.#req = Req.Closed;
    this.#endClient(true);
  }

  // ── answering by itself, closing ───────────────────────────────────────────────────────────

  /**
   * Refuses the request being read: stop reading, answer in order once the exchanges before it
   * are answered, then close.
   */
  #reject(error: unknown, id: string | undefined, request?: { method: string; target: string }): void {
    const requestId = id ?? this.#ctx.nextRequestId();
    this.#req = Req.Closed;
    this.#reqPending = undefined;
    const { status, message } = asAnswer(error);
    this.#ctx.log.info(
      {
        req: requestId,
        client: this.#clientLabel,
        listener: this.#ctx.listener,
        method: request?.method,
        path: request?.target,
        status,
        error: message,
      },
      'request refused',
    );
    this.#owedError = { status, message, id: requestId };
    if (this.#inflight.length === 0) this.#sendOwedError();
  }

  /** A chunked request body turned out malformed after part of it went to the engine. */
  #abortMidRequest(error: unknown): void {
    const engine = this.#engine;
    this.#engine = undefined;
    engine?.destroy();
    const exchange = this.#inflight.shift();
    if (exchange !== undefined) this.#logExchange(exchange, true);
    this.#inflight.length = 0;
    this.#reject(error, exchange?.id);
  }

  /** Answers the oldest exchange with an error of the gateway's own, then closes. */
  #answerAndClose(error: unknown): void {
    const exchange = this.#inflight.shift();
    const { status, message } = asAnswer(error);
    if (exchange !== undefined) {
      exchange.status = status;
      this.#logExchange(exchange, false, message);
    }
    this.#inflight.length = 0;
    this.#req = Req.Closed;
    this.#owedError = { status, message, id: exchange?.id ?? this.#ctx.nextRequestId() };
    this.#sendOwedError();
  }

  #sendOwedError(): void {
    const owed = this.#owedError;
    if (owed === undefined || this.#closed) return;
    this.#owedError = undefined;
    this.#flushClientRun();
    this.#client.write(
      owed.answer === undefined
        ? errorResponse(owed.status, owed.message, owed.id)
        : localResponse(owed.status, owed.answer.contentType, owed.answer.body, owed.id),
    );
    this.#engine?.destroy();
    this.#engine = undefined;
    this.#endClient(true);
  }

  #closeIfIdle(): void {
    if (
      this.#draining &&
      this.#inflight.length === 0 &&
      this.#req === Req.Head &&
      this.#reqPending === undefined &&
      !this.#closed
    ) {
      this.#req = Req.Closed;
      this.#endClient(true);
      this.#endEngine();
    }
  }

  /**
   * Sends FIN to the client. With `thenDestroy`, the socket is destroyed once everything
   * written has been flushed: nothing more will be read from it either.
   */
  #endClient(thenDestroy = false): void {
    const client = this.#client;
    if (client.destroyed) return;
    this.#flushClientRun();
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

  #pauseClient(reason: number): void {
    if (this.#clientPause === 0) this.#client.pause();
    this.#clientPause |= reason;
  }

  #resumeClient(reason: number): void {
    if ((this.#clientPause & reason) === 0) return;
    this.#clientPause &= ~reason;
    if (this.#clientPause === 0 && !this.#closed) this.#client.resume();
  }

  #pauseEngine(reason: number): void {
    if (this.#enginePause === 0) this.#engine?.pause();
    this.#enginePause |= reason;
  }

  #resumeEngine(reason: number): void {
    if ((this.#enginePause & reason) === 0) return;
    this.#enginePause &= ~reason;
    if (this.#enginePause === 0) this.#engine?.resume();
  }

  #logExchange(exchange: Exchange, aborted: boolean, error?: string): void {
    exchange.done?.(exchange.status);
    this.#ctx.access({
      req: exchange.id,
      client: this.#clientLabel,
      listener: this.#ctx.listener,
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

/** True when `next` starts in memory right where `run` ends: one view can cover both. */
function follows(run: Buffer, next: Buffer): boolean {
  return run.buffer === next.buffer && run.byteOffset + run.length === next.byteOffset;
}

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

function expectsContinue(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (
      (headers[i] as string).toLowerCase() === 'expect' &&
      (headers[i + 1] as string).toLowerCase() === '100-continue'
    ) {
      return true;
    }
  }
  return false;
}

function tooLarge(ruling: NeedBody): Refuse {
  return {
    kind: 'refuse',
    status: ERRORS.DG_BODY_TOO_LARGE.status,
    message: `request body larger than ${ruling.limit} bytes (the limit for inspected bodies)`,
    audit: ruling.audit,
  };
}

function asAnswer(error: unknown): { status: number; message: string } {
  if (isDockgateError(error) && error.status !== undefined)
    return { status: error.status, message: error.message };
  return { status: 502, message: 'internal gateway error' };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** "connect ENOENT /var/run/docker.sock", "read ECONNRESET": Node's message names the code. */
function describeSocketError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const text =
    code === undefined || error.message.includes(code) ? error.message : `${code}: ${error.message}`;
  // Each proxied connection holds two descriptors; say what to change.
  return code === 'EMFILE' || code === 'ENFILE' ? `${text} (out of file descriptors: raise ulimit -n)` : text;
}

/**
 * The engine's answer as it would have been to `Connection: close`. Go's server writes the
 * handler's headers sorted, then its own: Date, Content-Length, Connection, Transfer-Encoding —
 * so `Connection: close` goes before a closing Transfer-Encoding, else last. Already there:
 * unchanged.
 */
function withConnectionClose(head: Buffer): Buffer {
  const lines = head.toString('latin1', 0, head.length - 4).split('\r\n');
  if (lines.some((line, i) => i > 0 && /^connection:/i.test(line))) return head;
  const last = lines.length - 1;
  const at = last > 0 && /^transfer-encoding:/i.test(lines[last] as string) ? last : lines.length;
  lines.splice(at, 0, 'Connection: close');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
