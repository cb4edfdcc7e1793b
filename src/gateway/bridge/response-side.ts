import type { Socket } from 'node:net';
import { DockgateError } from '../../errors.js';
import { BodyCollector } from '../http/body-collector.js';
import { BodyCursor } from '../http/body-cursor.js';
import { findHeadEnd, rebuildHead } from '../http/header-fields.js';
import { parseResponseHead, type ResponseHead } from '../http/response-head.js';
import type { Bridge } from './bridge.js';
import { describeSocketError, type Exchange, errorText } from './exchange.js';
import { FLUSH } from './pause.js';
import { Req } from './request-side.js';

/** Where the engine → client byte stream is. */
export enum Res {
  Head,
  Forward, // forwarding a body as it arrives (Content-Length or chunked: #body)
  Close, // body delimited by the engine closing
  Raw, // hijacked
  Collect, // reading an answer whole for the gate's transform (redaction)
}

const MAX_RESPONSE_HEAD = 1 << 20;
const HEAD_ALONE_DELAY_MS = 2;
const MAX_TRANSFORMED_ANSWER = 64 << 20;
const NO_NAMES: ReadonlySet<string> = new Set();

/**
 * The engine → client direction of a bridge: reads response heads and body framing to know
 * where each answer ends (keeping pipelined answers in order and each exchange logged), reads an
 * answer whole when the gate transforms it, and turns the connection into a raw pipe both ways
 * when the engine hijacks it.
 */
export class ResponseSide {
  state = Res.Head;
  readonly #bridge: Bridge;
  /** The start of a head not complete yet. */
  #partial: Buffer | undefined;
  readonly #body = new BodyCursor('DG_ENGINE_PROTOCOL');
  #collect: { head: ResponseHead; body: BodyCollector } | undefined;

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  /** Between answers, with nothing of the next one read. */
  get idle(): boolean {
    return this.state === Res.Head && this.#partial === undefined;
  }

  /** A new engine connection: nothing of an answer read on it yet. */
  reset(): void {
    this.state = Res.Head;
    this.#partial = undefined;
  }

  read(chunk: Buffer): void {
    let buf = chunk;
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case Res.Head: {
          if (this.#partial !== undefined) {
            buf = Buffer.concat([this.#partial, buf.subarray(pos)]);
            pos = 0;
            this.#partial = undefined;
          }
          const end = findHeadEnd(buf, pos);
          if (end < 0) {
            if (buf.length - pos > MAX_RESPONSE_HEAD) {
              this.#failed(new DockgateError('DG_ENGINE_PROTOCOL', 'response head too large'));
              return;
            }
            this.#partial = buf.subarray(pos);
            return;
          }
          if (!this.#start(buf.subarray(pos, end), buf.subarray(end))) return;
          pos = end;
          break;
        }
        case Res.Forward: {
          let stop: number;
          try {
            stop = this.#body.advance(buf, pos);
          } catch (error) {
            this.#failed(error);
            return;
          }
          this.#bridge.sendToClient(buf.subarray(pos, stop));
          pos = stop;
          if (this.#body.complete) this.#done();
          break;
        }
        case Res.Close:
        case Res.Raw:
          this.#bridge.sendToClient(buf.subarray(pos));
          return;
        case Res.Collect: {
          const next = this.#collectBody(buf, pos);
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
  #start(head: Buffer, rest: Buffer): boolean {
    const bridge = this.#bridge;
    const exchange = bridge.inflight[0];
    if (exchange === undefined) {
      this.#failed(new DockgateError('DG_ENGINE_PROTOCOL', 'the engine answered a request nobody sent'));
      return false;
    }
    let response: ResponseHead;
    try {
      response = parseResponseHead(head, exchange.method, exchange.closeAfter);
    } catch (error) {
      this.#failed(error);
      return false;
    }
    exchange.status = response.status;
    bridge.engine.replay = undefined; // the connection answered: it was alive
    if (response.status === 101 || (response.body.kind === 'close' && exchange.holds)) {
      this.#hijack(exchange, response.forward, rest);
      return false;
    }
    if (
      exchange.transform !== undefined &&
      response.status === 200 &&
      (response.body.kind === 'length' || response.body.kind === 'chunked')
    ) {
      this.#collect = { head: response, body: new BodyCollector(response.body, 'DG_ENGINE_PROTOCOL') };
      this.state = Res.Collect;
      if (response.body.kind === 'length' && response.body.length === 0) this.#finishCollect();
      return true;
    }
    bridge.sendToClient(response.forward);
    if (response.status < 200) return true; // 100 Continue and friends: the real answer follows
    switch (response.body.kind) {
      case 'none':
        this.#done();
        break;
      case 'length':
      case 'chunked':
        this.state = Res.Forward;
        this.#body.start(response.body);
        break;
      case 'close':
        this.state = Res.Close;
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
    const bridge = this.#bridge;
    exchange.hijacked = true;
    bridge.engine.spoiled = true;
    this.state = Res.Raw;
    bridge.pauseEngine(FLUSH);
    exchange.bytesOut += head.length;
    bridge.flushClient();
    bridge.client.write(head, () => {
      if (rest.length === 0) {
        bridge.headFlushed();
        return;
      }
      // Stream bytes came in the same read as the head: give the client a moment to read the
      // head by itself, as it would from dockerd, which flushes the head before any output.
      setTimeout(() => {
        bridge.sendToClient(rest);
        bridge.flushClient();
        bridge.headFlushed();
      }, HEAD_ALONE_DELAY_MS);
    });
    // HTTP framing is over on the engine side; no keep-alive after a hijack.
    const request = bridge.request;
    if (request.state === Req.Hold) request.releaseHold(true);
    else if (request.state !== Req.Closed) request.state = Req.Raw;
  }

  /** Reads an answer whole for the gate's transform; returns the new position or -1. */
  #collectBody(buf: Buffer, pos: number): number {
    const { body } = this.#collect as { body: BodyCollector };
    let step: { stop: number; complete: boolean };
    try {
      step = body.take(buf, pos);
    } catch (error) {
      this.#failed(error);
      return -1;
    }
    if (body.size > MAX_TRANSFORMED_ANSWER) {
      this.#failed(new DockgateError('DG_ENGINE_PROTOCOL', 'answer too large to redact'));
      return -1;
    }
    if (step.complete) this.#finishCollect();
    return step.stop;
  }

  #finishCollect(): void {
    const { head, body } = this.#collect as { head: ResponseHead; body: BodyCollector };
    this.#collect = undefined;
    const exchange = this.#bridge.inflight[0] as Exchange;
    const out = (exchange.transform as (b: Buffer) => Buffer)(
      BodyCollector.payload(body.raw(), body.chunked),
    );
    const kept: string[] = [];
    let saysConnection = false;
    for (let i = 0; i < head.headers.length; i += 2) {
      const name = (head.headers[i] as string).toLowerCase();
      saysConnection ||= name === 'connection';
      if (name !== 'content-length' && name !== 'transfer-encoding')
        kept.push(head.headers[i] as string, head.headers[i + 1] as string);
    }
    kept.push('Content-Length', String(out.length));
    // The client asked for `Connection: close` (the engine did not see it): as Go's server
    // orders its own headers, Content-Length then Connection.
    if (exchange.closeAfter && !saysConnection) kept.push('Connection', 'close');
    const statusLine = head.forward.toString('latin1', 0, head.forward.indexOf('\r\n'));
    this.#bridge.sendToClient(rebuildHead(statusLine, kept, NO_NAMES));
    this.#bridge.sendToClient(out);
    this.#done();
  }

  /** The current answer's last byte went to the client. */
  #done(): void {
    const bridge = this.#bridge;
    this.state = Res.Head;
    const exchange = bridge.inflight.shift();
    if (exchange !== undefined) bridge.logExchange(exchange, false);
    if (exchange?.closeAfter === true) {
      bridge.request.state = Req.Closed;
      bridge.endClient(true);
      return;
    }
    if (bridge.request.state === Req.Hold && bridge.inflight.length === 0) bridge.request.releaseHold(false);
    if (bridge.inflight.length === 0) bridge.sendOwed();
    bridge.closeIfIdle();
  }

  /** The engine sent FIN. */
  onEnd(engine: Socket): void {
    const bridge = this.#bridge;
    if (engine !== bridge.engine.socket) return;
    switch (this.state) {
      case Res.Raw:
        // Half-close from the engine: the client may still be sending (stdin).
        bridge.endClient();
        return;
      case Res.Close:
        this.state = Res.Head;
        this.#done();
        bridge.endClient();
        engine.end();
        return;
      default:
        this.#gone(engine, undefined);
    }
  }

  /** The engine connection closed. */
  onClose(engine: Socket, failure: Error | undefined): void {
    const bridge = this.#bridge;
    if (engine !== bridge.engine.socket) return;
    if (this.state === Res.Raw || this.state === Res.Close) {
      // Fully closed (or reset): the stream is over. End the client cleanly once written.
      if (this.state === Res.Close) this.#done();
      bridge.endClient(true);
      return;
    }
    this.#gone(engine, failure);
  }

  /** The engine connection ended outside a raw stream. */
  #gone(engine: Socket, failure: Error | undefined): void {
    const bridge = this.#bridge;
    const connected = bridge.engine.connected;
    bridge.engine.socket = undefined;
    engine.destroy();
    const exchange = bridge.inflight[0];
    const replay = bridge.engine.replay;
    if (
      connected &&
      replay !== undefined &&
      exchange !== undefined &&
      bridge.inflight.length === 1 &&
      exchange.status === 0 &&
      this.#partial === undefined
    ) {
      // A pooled connection the engine had closed as we sent on it: once more, on a new one
      // (pool_race_retry_regression). Only a GET or HEAD without a body, before any answer byte.
      bridge.ctx.log.debug(
        { client: bridge.clientLabel, err: failure?.message },
        'pooled engine connection closed: retried',
      );
      bridge.connectEngine(true);
      bridge.engine.midRequest = true;
      bridge.sendToEngine(replay);
      bridge.engine.midRequest = false;
      return;
    }
    if (exchange === undefined && this.#partial === undefined) {
      // The engine closed the connection between requests (after `Connection: close`, an
      // HTTP/1.0 answer, or its own idle limit): the paired client connection closes as it
      // would have, straight to the engine.
      bridge.request.state = Req.Closed;
      bridge.endClient(true);
      return;
    }
    if (!connected) {
      const why = failure === undefined ? 'connection closed' : describeSocketError(failure);
      bridge.answerAndClose(
        new DockgateError(
          'DG_ENGINE_UNREACHABLE',
          `cannot reach the Docker engine at ${bridge.ctx.endpoint.url}: ${why}`,
        ),
      );
      return;
    }
    this.#failed(
      new DockgateError(
        'DG_ENGINE_DISCONNECTED',
        `the Docker engine closed the connection${failure === undefined ? '' : ` (${describeSocketError(failure)})`}`,
      ),
    );
  }

  /** The engine broke the protocol or went away mid-answer. */
  #failed(error: unknown): void {
    const bridge = this.#bridge;
    bridge.engine.destroy();
    const exchange = bridge.inflight[0];
    if (exchange !== undefined && exchange.status === 0 && exchange.bytesOut === 0) {
      bridge.answerAndClose(error);
      return;
    }
    // Part of an answer is out already: all we can do is end the stream where it stopped.
    bridge.ctx.log.warn({ err: errorText(error), client: bridge.clientLabel }, 'engine stream ended early');
    bridge.request.state = Req.Closed;
    bridge.endClient(true);
  }
}
