import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Duplex, PassThrough, type Readable } from 'node:stream';
import { connectEngine } from '../engine/connect.js';
import type { EngineEndpoint } from '../engine/endpoint.js';
import { ConnectionError, UpgradeError } from './errors.js';
import { FrameSplitter, type OutputFrame } from './streams.js';
import { engineMessage } from './transport.js';

export interface SessionRequest {
  readonly endpoint: EngineEndpoint;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  /** The stream is raw (TTY): no multiplexing headers. */
  readonly tty: boolean;
  readonly signal?: AbortSignal | undefined;
}

/**
 * A hijacked exec or attach session. Writing sends stdin; `end()` **half-closes** — the engine
 * sees EOF on stdin while output keeps coming until the process is done (where docker-modem's
 * `end()` destroys the socket and loses it). Reading yields stdout; `stderr` is its own
 * Readable (with a TTY there is only stdout). Both must be consumed, as with Go's stdcopy: a
 * full one pauses the socket. `exitCode` resolves once the output has ended.
 */
export class Session extends Duplex {
  readonly stderr: Readable;
  readonly exitCode: Promise<number>;
  readonly #socket: Socket;
  readonly #stderr: PassThrough;
  readonly #frames = new FrameSplitter();
  readonly #tty: boolean;

  constructor(socket: Socket, first: Buffer, tty: boolean, exitCode: () => Promise<number>) {
    super({ allowHalfOpen: true });
    this.#socket = socket;
    this.#tty = tty;
    this.#stderr = new PassThrough();
    this.stderr = this.#stderr;
    this.#stderr.on('drain', () => this.#socket.resume());
    let resolveEnd: () => void = () => {};
    const ended = new Promise<void>((resolve) => {
      resolveEnd = resolve;
    });
    this.exitCode = ended.then(exitCode);
    this.exitCode.catch(() => {}); // awaited by whoever asks; never an unhandled rejection
    socket.on('data', (chunk: Buffer) => this.#output(chunk));
    socket.on('end', () => {
      this.push(null);
      this.#stderr.end();
      resolveEnd();
    });
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => {
      if (!this.readableEnded) {
        this.push(null);
        this.#stderr.end();
        resolveEnd();
      }
    });
    if (first.length > 0) this.#output(first);
  }

  #output(chunk: Buffer): void {
    if (this.#tty) {
      if (!this.push(chunk)) this.#socket.pause();
      return;
    }
    let frames: OutputFrame[];
    try {
      frames = this.#frames.push(chunk);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    let full = false;
    for (const frame of frames) {
      if (frame.stream === 'stderr') full = !this.#stderr.write(frame.data) || full;
      else full = !this.push(frame.data) || full;
    }
    if (full) this.#socket.pause();
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#socket.write(chunk, callback);
  }

  /** end(): FIN to the engine, nothing more — the output side stays open. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#socket.destroy();
    this.#stderr.destroy();
    callback(error);
  }
}

/**
 * Opens a hijacked session: the request always asks for `Upgrade: tcp`, and anything but
 * `101 UPGRADED` is an UpgradeError carrying the engine's message. Nothing is written to the
 * connection before the 101 (dockerode#777 wrote options into stdin).
 */
export async function openSession(
  request: SessionRequest,
  exitCode: () => Promise<number>,
): Promise<Session> {
  const socket = connectEngine(request.endpoint);
  const abort = (): void => {
    socket.destroy(new DOMException('The operation was aborted', 'AbortError'));
  };
  request.signal?.addEventListener('abort', abort, { once: true });
  try {
    await once(socket, 'encrypted' in socket ? 'secureConnect' : 'connect');
  } catch (error) {
    if (request.signal?.aborted === true) throw request.signal.reason;
    throw new ConnectionError(request.endpoint.url, error);
  }
  // No body means none at all: attach reads no body, so any byte sent here would be stdin.
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(request.body));
  const headers = Object.entries({
    Host: 'docker',
    ...request.headers,
    ...(body.length > 0 ? { 'Content-Type': 'application/json', 'Content-Length': String(body.length) } : {}),
    Connection: 'Upgrade',
    Upgrade: 'tcp',
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const base = request.endpoint.kind === 'tcp' ? request.endpoint.basePath : '';
  socket.write(`POST ${base}${request.path} HTTP/1.1\r\n${headers}\r\n`);
  if (body.length > 0) socket.write(body);
  const { status, head, rest } = await readHead(socket);
  request.signal?.removeEventListener('abort', abort);
  if (status !== 101) {
    socket.destroy();
    throw new UpgradeError(status, engineMessage(rest.toString('utf8')) || head.split('\r\n')[0] || '');
  }
  const session = new Session(socket, rest, request.tty, exitCode);
  if (request.signal !== undefined) {
    request.signal.addEventListener('abort', () => session.destroy(request.signal?.reason as Error), {
      once: true,
    });
  }
  return session;
}

/** Reads the answer head; returns its status, text and the bytes after it. */
async function readHead(socket: Socket): Promise<{ status: number; head: string; rest: Buffer }> {
  let buffered = Buffer.alloc(0);
  for (;;) {
    const chunk = await new Promise<Buffer | null>((resolve, reject) => {
      const onData = (data: Buffer): void => {
        cleanup();
        resolve(data);
      };
      const onEnd = (): void => {
        cleanup();
        resolve(null);
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(error);
      };
      const cleanup = (): void => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', onError);
      };
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('error', onError);
    });
    if (chunk === null) throw new UpgradeError(0, 'the engine closed the connection before answering');
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) continue;
    socket.pause();
    const head = buffered.toString('latin1', 0, end);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    let rest = buffered.subarray(end + 4);
    if (status !== 101) {
      // An error answer: read its body (bounded by Content-Length, else until close).
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
      socket.resume();
      while (Number.isFinite(length) ? rest.length < length : true) {
        const more = await new Promise<Buffer | null>((resolve) => {
          socket.once('data', resolve);
          socket.once('end', () => resolve(null));
        });
        if (more === null) break;
        rest = Buffer.concat([rest, more]);
      }
    }
    return { status, head, rest };
  }
}
