import { mkdtempSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEngineUrl } from '../../src/engine/endpoint.js';
import { testEngine } from './engine.js';

/**
 * A byte relay on a unix socket in front of the real test engine. It is not an engine: every
 * byte goes to dockerd and back unchanged. It lets a test see what the gateway sent upstream,
 * whether the gateway closed its engine connection, and lets it take the engine away (stop) or
 * cut a stream mid-way (cut) and bring it back.
 */
export class EngineRelay {
  readonly path: string;
  readonly url: string;
  /** Bytes the gateway sent to the engine, per relayed connection. */
  readonly sent: Buffer[][] = [];
  readonly open = new Set<Socket>();
  #server: Server | undefined;

  constructor() {
    this.path = join(mkdtempSync(join(tmpdir(), 'dockgate-relay-')), 'engine.sock');
    this.url = `unix://${this.path}`;
  }

  async start(): Promise<void> {
    const engine = parseEngineUrl(testEngine().host);
    if (engine.kind !== 'unix') throw new Error('the relay needs a unix socket engine');
    const server = createServer({ allowHalfOpen: true }, (downstream) => {
      const log: Buffer[] = [];
      this.sent.push(log);
      this.#logs.set(downstream, log);
      const upstream = connect({ path: engine.path, allowHalfOpen: true });
      this.open.add(downstream);
      let held = false;
      let paused: Buffer[] | undefined;
      downstream.on('data', (chunk: Buffer) => {
        log.push(chunk);
        // The engine closes the connection as this request arrives (its idle close racing it).
        if (this.#reset?.test(chunk.toString('latin1'))) {
          this.#reset = undefined;
          downstream.destroy();
          upstream.destroy();
          return;
        }
        // A request the engine "hangs" on: it never reaches dockerd, so no answer ever comes.
        if (this.#hang?.test(chunk.toString('latin1'))) held = true;
        const hold = this.#hold;
        if (paused === undefined && hold !== undefined && hold.pattern.test(chunk.toString('latin1'))) {
          // Held until the test releases it: the test acts on the engine in between (a race, made exact).
          paused = [];
          this.#hold = undefined;
          hold.seen();
          hold.released.then(() => {
            for (const piece of paused ?? []) upstream.write(piece);
            paused = undefined;
          });
        }
        if (paused !== undefined) {
          paused.push(chunk);
          return;
        }
        if (!held && !upstream.write(chunk)) {
          downstream.pause();
          upstream.once('drain', () => downstream.resume());
        }
      });
      downstream.on('end', () => upstream.end());
      upstream.pipe(downstream);
      const done = (): void => {
        this.open.delete(downstream);
        downstream.destroy();
        upstream.destroy();
      };
      downstream.on('close', done);
      upstream.on('close', done);
      downstream.on('error', done);
      upstream.on('error', done);
    });
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.#server = server;
  }

  #hang: RegExp | undefined;
  #reset: RegExp | undefined;
  readonly #logs = new Map<Socket, Buffer[]>();

  /** Relayed connections still open on which the gateway sent something matching `pattern`. */
  openMatching(pattern: RegExp): number {
    let n = 0;
    for (const socket of this.open) {
      const log = this.#logs.get(socket);
      if (log !== undefined && pattern.test(Buffer.concat(log).toString('latin1'))) n++;
    }
    return n;
  }

  /** The next request matching `pattern` is not forwarded: its connection is reset instead. */
  resetOnNext(pattern: RegExp): void {
    this.#reset = pattern;
  }
  #hold: { pattern: RegExp; seen: () => void; released: Promise<void> } | undefined;

  /**
   * The next request matching `pattern` is held back (with what follows it on its connection):
   * `seen` resolves once it arrived, and it goes on to dockerd when `release` is called.
   */
  holdNext(pattern: RegExp): { seen: Promise<void>; release: () => void } {
    let seen!: () => void;
    let release!: () => void;
    const seenPromise = new Promise<void>((resolve) => {
      seen = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#hold = { pattern, seen, released };
    return { seen: seenPromise, release };
  }

  /**
   * From now on, a connection whose request matches `pattern` hangs: that request and everything
   * after it on the connection are held back (dockerd 20.10's libnetwork deadlock looks like this:
   * ping and lists answer, inspect of an exiting container never does).
   */
  hangOn(pattern: RegExp | undefined): void {
    this.#hang = pattern;
  }

  /** Text the gateway sent upstream on every connection so far. */
  sentText(): string {
    return this.sent.map((log) => Buffer.concat(log).toString('latin1')).join('');
  }

  /** Resets every relayed connection (the engine went away mid-stream). */
  cut(): void {
    for (const socket of this.open) socket.destroy();
  }

  /** Stops listening and cuts everything: the engine is unreachable. */
  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    this.#server = undefined;
  }
}
