import { createWriteStream, type WriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/**
 * A terminal session's transcript in asciicast v2 (asciinema's format: a JSON header line, then
 * `[seconds, "o"|"i"|"r", data]` lines), written as it happens. UTF-8 split across chunks is
 * decoded whole (a decoder per direction). Past `limit` bytes nothing more is written and the
 * file ends with a marker line; `truncated` says so.
 */
export class Asciicast {
  readonly #out: WriteStream | undefined;
  readonly #start: number;
  readonly #limit: number;
  readonly #input: boolean;
  readonly #decoders = { o: new StringDecoder('utf8'), i: new StringDecoder('utf8') };
  #bytes = 0;
  #truncated = false;

  constructor(
    file: string | undefined,
    header: { cols: number; rows: number; timestamp: number; title: string },
    options: { limit: number; input: boolean },
  ) {
    this.#start = header.timestamp;
    this.#limit = options.limit;
    this.#input = options.input;
    this.#out = file === undefined ? undefined : createWriteStream(file, { mode: 0o600 });
    this.#out?.on('error', () => {}); // a full disk loses the recording, never the session
    this.#write(
      `${JSON.stringify({
        version: 2,
        width: header.cols,
        height: header.rows,
        timestamp: Math.floor(header.timestamp / 1000),
        title: header.title,
        env: { TERM: 'xterm-256color' },
      })}\n`,
    );
  }

  get bytes(): number {
    return this.#bytes;
  }

  get truncated(): boolean {
    return this.#truncated;
  }

  output(chunk: Buffer, at: number): void {
    this.#event(at, 'o', this.#decoders.o.write(chunk));
  }

  input(chunk: Buffer, at: number): void {
    if (this.#input) this.#event(at, 'i', this.#decoders.i.write(chunk));
  }

  resize(cols: number, rows: number, at: number): void {
    this.#event(at, 'r', `${cols}x${rows}`);
  }

  /** Ends the file; resolves once it is on disk. */
  close(): Promise<void> {
    const out = this.#out;
    if (out === undefined) return Promise.resolve();
    return new Promise((resolve) => out.end(resolve));
  }

  #event(at: number, kind: 'o' | 'i' | 'r', data: string): void {
    if (data === '' || this.#truncated) return;
    this.#write(`${JSON.stringify([Math.max(0, (at - this.#start) / 1000), kind, data])}\n`);
  }

  #write(line: string): void {
    if (this.#out === undefined) return;
    const size = Buffer.byteLength(line);
    if (this.#bytes + size > this.#limit) {
      this.#truncated = true;
      const note = `${JSON.stringify([0, 'm', `truncated: the recording reached ${this.#limit} bytes`])}\n`;
      this.#out.write(note);
      this.#bytes += Buffer.byteLength(note);
      return;
    }
    this.#bytes += size;
    this.#out.write(line);
  }
}
