import { DockgateError, ERRORS } from '../../errors.js';
import type { Answer, Forward, NeedBody, Refuse, Ruling } from '../gate.js';
import { mayHijack } from '../hijack.js';
import { BodyCollector } from '../http/body-collector.js';
import { BodyCursor } from '../http/body-cursor.js';
import { findHeadEnd } from '../http/header-fields.js';
import { engineRequestHead, parseRequestHead, type RequestHead } from '../http/request-head.js';
import type { Bridge } from './bridge.js';
import { type Exchange, errorText, type Pending, tooLarge } from './exchange.js';
import { HOLD } from './pause.js';

/** Where the client → engine byte stream is. */
export enum Req {
  Head, // reading a request head
  Forward, // forwarding a body as it arrives (Content-Length or chunked: #body)
  Hold, // a hijack request was sent: hold later bytes until the answer decides
  Raw, // hijacked: raw bytes
  Closed, // rejected or gone: discard
  Body, // reading a body the gate asked to see, before anything of the request is forwarded
  Wait, // the gate's ruling is not in yet: hold later bytes
}

const MAX_HELD_BYTES = 1 << 20;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/**
 * The client → engine direction of a bridge: reads request heads and body framing, asks the gate
 * about each request, forwards what it allows (as changed by it) and holds the client's later
 * bytes while a ruling or a hijack answer is awaited.
 */
export class RequestSide {
  state = Req.Head;
  /** The client sent FIN. */
  #clientEnded = false;
  readonly #bridge: Bridge;
  /** The start of a head not complete yet. */
  #partial: Buffer | undefined;
  readonly #body = new BodyCursor('DG_BAD_REQUEST');
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** The request whose ruling is awaited, and the body read for it. */
  #pending: Pending | undefined;
  #pendingBody: { ruling: NeedBody; body: BodyCollector } | undefined;

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  /** Between requests, with nothing of the next one read. */
  get idle(): boolean {
    return this.state === Req.Head && this.#partial === undefined;
  }

  /** Stops reading: whatever the client sends from now on is discarded. */
  close(): void {
    this.state = Req.Closed;
    this.#partial = undefined;
  }

  read(chunk: Buffer): void {
    let buf = chunk;
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case Req.Head: {
          if (this.#partial !== undefined) {
            buf = Buffer.concat([this.#partial, buf.subarray(pos)]);
            pos = 0;
            this.#partial = undefined;
          }
          // Tolerate the stray CRLF some clients send after a body (RFC 9112 §2.2).
          while (pos + 1 < buf.length && buf[pos] === 0x0d && buf[pos + 1] === 0x0a) pos += 2;
          if (pos >= buf.length) return;
          const end = findHeadEnd(buf, pos);
          const max = this.#bridge.ctx.maxHeadBytes;
          if (end < 0 || end - pos > max) {
            if (buf.length - pos > max) {
              this.#bridge.reject(
                new DockgateError('DG_HEADERS_TOO_LARGE', 'request headers too large'),
                undefined,
              );
              return;
            }
            this.#partial = buf.subarray(pos);
            return;
          }
          if (!this.#start(buf.subarray(pos, end))) return;
          pos = end;
          break;
        }
        case Req.Forward: {
          let stop: number;
          try {
            stop = this.#body.advance(buf, pos);
          } catch (error) {
            this.#bridge.abortMidRequest(error);
            return;
          }
          this.#bridge.sendToEngine(buf.subarray(pos, stop));
          pos = stop;
          if (this.#body.complete) this.#sent();
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
          this.#bridge.sendToEngine(buf.subarray(pos));
          return;
        case Req.Closed:
          return;
      }
    }
  }

  /** Parses a request head and asks the gate; false when the request was refused. */
  #start(head: Buffer): boolean {
    const bridge = this.#bridge;
    let request: RequestHead;
    try {
      request = parseRequestHead(head);
    } catch (error) {
      bridge.reject(error, undefined);
      return false;
    }
    const id = bridge.ctx.nextRequestId();
    if (bridge.draining) {
      bridge.reject(new DockgateError('DG_SHUTTING_DOWN', 'the gateway is shutting down'), id, request);
      return false;
    }
    const pending: Pending = { head, request, id, started: performance.now(), rawBody: undefined };
    const ruling = bridge.ctx.gate.check({
      id,
      method: request.method,
      target: request.target,
      authorization: request.authorization,
      hasBody: request.body.kind !== 'none',
      conn: bridge.conn,
    });
    return this.#apply(pending, ruling);
  }

  /** Acts on a ruling; false when the request was refused (nothing more is read). */
  #apply(pending: Pending, ruling: Ruling | Promise<Ruling>): boolean {
    if (ruling instanceof Promise) {
      this.#pending = pending;
      this.state = Req.Wait;
      ruling.then(
        (r) => this.#ruled(pending, r),
        (error: unknown) => {
          this.#bridge.ctx.log.error({ err: errorText(error), req: pending.id }, 'policy decision failed');
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
        this.state = Req.Body;
        // A client waiting for "100 Continue" before it sends the body (curl does for large
        // bodies) would wait for the engine, which has not seen the request yet: answer for it.
        // Only when no answer is owed before this one, so the 100 cannot overtake it.
        if (this.#bridge.inflight.length === 0 && expectsContinue(pending.request.headers)) {
          this.#bridge.client.write(CONTINUE);
        }
        return true;
      }
    }
  }

  /** A ruling that took time is in: act on it, then go on with what the client sent meanwhile. */
  #ruled(pending: Pending, ruling: Ruling): void {
    if (this.#bridge.closed || this.#pending !== pending) {
      if (ruling.kind === 'forward') ruling.done?.(0); // gave up before it was sent
      return;
    }
    this.#pending = undefined;
    this.state = Req.Head;
    if (this.#apply(pending, ruling)) this.#replayHeld();
    this.#bridge.flushRuns();
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
      this.#bridge.reject(error, pending.id, pending.request);
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
    this.state = Req.Head;
    return this.#apply(pending, ruling.decide(payload)) ? step.stop : -1;
  }

  /** Sends an allowed request on to the engine, as changed by the gate. */
  #forward(pending: Pending, ruling: Forward): void {
    const bridge = this.#bridge;
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
    bridge.inflight.push(exchange);
    const endpoint = bridge.ctx.endpoint;
    const basePath = endpoint.kind === 'tcp' ? endpoint.basePath : '';
    if (bridge.engine.socket === undefined) bridge.connectEngine();
    const body = ruling.body ?? pending.rawBody;
    bridge.engine.midRequest = true;
    const engineHead = engineRequestHead(pending.head, request, basePath, {
      target: ruling.target,
      bodyLength: ruling.body?.length,
      keepAlive: exchange.closeAfter,
    });
    // A body-less GET or HEAD alone in flight on a pooled connection (the engine may close an idle
    // one as we send): kept until its answer starts, so it can be sent once more on a new one.
    bridge.engine.replay =
      bridge.engine.reused &&
      bridge.inflight.length === 1 &&
      body === undefined &&
      request.body.kind === 'none' &&
      (request.method === 'GET' || request.method === 'HEAD')
        ? engineHead
        : undefined;
    bridge.sendToEngine(engineHead);
    if (body !== undefined) {
      bridge.sendToEngine(body);
      this.#sent();
      return;
    }
    if (request.body.kind === 'none') {
      this.#sent();
      return;
    }
    this.state = Req.Forward;
    this.#body.start(request.body);
  }

  /**
   * The gate refused, or answers by itself: answer in order once the exchanges before it are
   * answered, then close.
   */
  #refuse(pending: Pending, ruling: Refuse | Answer): void {
    const bridge = this.#bridge;
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
    bridge.logExchange(exchange, false, answer === undefined ? (ruling as Refuse).message : undefined);
    this.close();
    this.#held = [];
    bridge.owe({
      status: ruling.status,
      message: answer === undefined ? (ruling as Refuse).message : '',
      id: pending.id,
      answer,
    });
  }

  /** The current request's last byte went to the engine. */
  #sent(): void {
    this.#bridge.engine.midRequest = false;
    const current = this.#bridge.inflight.at(-1);
    this.state = current?.holds === true && current.status === 0 ? Req.Hold : Req.Head;
    // After `Connection: close` nothing more is read: the engine would not have either.
    if (current?.closeAfter === true) {
      this.state = Req.Closed;
      return;
    }
    if (this.state === Req.Head && this.#clientEnded) this.onEnd();
  }

  #hold(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#held.push(bytes);
    this.#heldBytes += bytes.length;
    if (this.#heldBytes >= MAX_HELD_BYTES) this.#bridge.pauseClient(HOLD);
  }

  /** The engine answered the held request: replay what the client sent meanwhile. */
  releaseHold(raw: boolean): void {
    this.state = raw ? Req.Raw : Req.Head;
    this.#replayHeld();
  }

  /** Replays held client bytes through the reader, in the current state. */
  #replayHeld(): void {
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    this.#bridge.resumeClient(HOLD);
    // Replaying may start a pipelined request that holds again; read() then re-holds the rest.
    for (let i = 0; i < held.length; i++) {
      const state = this.state as Req;
      if (state === Req.Hold || state === Req.Wait) {
        for (const bytes of held.slice(i)) this.#hold(bytes);
        return;
      }
      this.read(held[i] as Buffer);
    }
    const state = this.state as Req;
    if (this.#clientEnded && state !== Req.Hold && state !== Req.Wait) this.onEnd();
  }

  /** The client sent FIN. */
  onEnd(): void {
    const bridge = this.#bridge;
    this.#clientEnded = true;
    switch (this.state) {
      case Req.Hold:
      case Req.Wait:
        return; // forwarded after the held bytes, in #replayHeld
      case Req.Body:
        // The body the gate wanted will not be completed: nothing of it went to the engine.
        this.state = Req.Closed;
        bridge.endClient(true);
        return;
      case Req.Closed:
        return;
      case Req.Head:
        if (bridge.inflight.length === 0) {
          // Nothing under way: the client is done with this connection. An engine connection
          // that can serve another client is kept (at the client's close), not half-closed.
          bridge.endClient();
          if (!bridge.reusable()) bridge.endEngine();
          return;
        }
        bridge.endEngine();
        return;
      default:
        // Mid-body or hijacked: forward the half-close as a half-close.
        bridge.endEngine();
    }
  }
}

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
