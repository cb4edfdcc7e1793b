import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/**
 * A raw TCP or unix socket conversation, for what HTTP libraries hide: exact bytes, pipelining,
 * half-close, when each byte arrives.
 */
export class RawConnection {
  readonly socket: Socket;
  #chunks: Buffer[] = [];
  #joined: Buffer | undefined = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  ended = false;
  /** Each 'data' event's bytes, in order: shows whether a head arrived on its own. */
  readonly reads: Buffer[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.reads.push(chunk);
      this.#chunks.push(chunk);
      this.#joined = undefined;
      this.#wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.#wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static async open(target: { port: number; host?: string } | { path: string }): Promise<RawConnection> {
    const socket =
      'path' in target
        ? connect({ path: target.path, allowHalfOpen: true })
        : connect({ port: target.port, host: target.host ?? '127.0.0.1', allowHalfOpen: true });
    await once(socket, 'connect');
    return new RawConnection(socket);
  }

  get text(): string {
    return this.bytes.toString('latin1');
  }

  /** Everything received so far (joined lazily: appending stays linear for big streams). */
  get bytes(): Buffer {
    if (this.#joined === undefined) {
      this.#joined = Buffer.concat(this.#chunks);
      this.#chunks = [this.#joined];
    }
    return this.#joined;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Half-close: send FIN, keep reading. */
  shutdownWrite(): void {
    this.socket.end();
  }

  /** Resolves when `predicate` holds on what was received, or rejects after `ms`. */
  async until(predicate: (text: string) => boolean, ms = 10_000): Promise<string> {
    await this.#waitFor(() => predicate(this.text), ms, true);
    return this.text;
  }

  /** Resolves when the peer has closed (FIN or full close). */
  async untilEnded(ms = 10_000): Promise<string> {
    await this.#waitFor(() => this.ended, ms, false);
    return this.text;
  }

  async #waitFor(check: () => boolean, ms: number, failOnEnd: boolean): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (failOnEnd && this.ended) {
        throw new Error(`connection ended before the expected bytes; got:\n${this.text.slice(0, 2000)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms; got:\n${this.text.slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Splits "HEAD\r\n\r\nBODY" of the first message. */
export function splitMessage(text: string): { head: string; body: string; status: number } {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  return {
    head,
    body: end < 0 ? '' : text.slice(end + 4),
    status: Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0),
  };
}

/** One answer of `ask`: status, head, and the body (de-chunked). */
export interface Answer {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/**
 * One request on its own connection (`Connection: close`), read to the end. A string body is
 * sent as JSON unless `headers` say otherwise; a Buffer body as given.
 */
export async function ask(
  target: { port: number; host?: string } | number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<Answer> {
  const connection = await RawConnection.open(typeof target === 'number' ? { port: target } : target);
  const framing =
    body === undefined
      ? {}
      : {
          'Content-Type': typeof body === 'string' ? 'application/json' : 'application/x-tar',
          'Content-Length': String(Buffer.byteLength(body)),
        };
  const lines = Object.entries({ Host: 'd', Connection: 'close', ...framing, ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  connection.write(`${method} ${path} HTTP/1.1\r\n${lines}\r\n`);
  if (body !== undefined) connection.write(body);
  const answer = splitMessage(await connection.untilEnded());
  const text = /Transfer-Encoding: chunked/i.test(answer.head) ? dechunk(answer.body) : answer.body;
  return { status: answer.status, head: answer.head, body: text };
}

/** The payload of a chunked body (test answers are text). */
export function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
