import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { DockerClient } from '../../client/docker-client.js';
import { EngineError } from '../../client/errors.js';
import type { Session } from '../../client/session.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import type { TerminalConfig } from '../config/monitor-config.js';
import type { TimelineEntry } from '../store/history.js';
import { Asciicast } from './asciicast.js';
import { SHELLS } from './shell-words.js';
import type { TerminalStore } from './terminal-store.js';

/** Above this many bytes queued for the browser, stop reading from the engine; resume below the low mark. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** A ping keeps idle sessions through proxies that cut silent connections. */
const PING_MS = 20_000;
/** How often the caller's right to the session and the container's state are checked again. */
const RECHECK_MS = 2_000;

/** What a session is asked to run, as the endpoint's query gives it. */
export interface TerminalRequest {
  readonly engine: string;
  readonly container: { readonly id: string; readonly name: string };
  /** Words to run, or undefined: the first shell of SHELLS the image has. */
  readonly cmd: readonly string[] | undefined;
  readonly user: string | undefined;
  readonly workdir: string | undefined;
  readonly cols: number;
  readonly rows: number;
  readonly debug: boolean;
}

export interface TerminalCaller {
  readonly name: string;
  readonly via: 'token' | 'session' | 'anonymous';
  readonly address: string;
  /** Asked every 2 s: undefined while the caller may go on, else why not (signed out, role lost). */
  readonly stillAllowed: () => Promise<string | undefined>;
}

export interface TerminalDeps {
  readonly client: DockerClient;
  readonly store: TerminalStore;
  readonly config: TerminalConfig;
  readonly log: Logger;
  readonly now: Clock;
  /** The container's state from the live state (events): `running`, `exited`, … */
  readonly state: () => string;
  readonly timeline: (entry: TimelineEntry) => void;
}

/** Server → browser control messages (text frames). */
type Control =
  | { type: 'ready'; execId: string; cmd: readonly string[]; session: string }
  | { type: 'exit'; code: number }
  | { type: 'error'; message: string };

/** A refusal to tell the browser (then close 1011), never a stack trace. */
class Refusal extends Error {}

/**
 * One terminal: a WebSocket on one side, a TTY exec in a container on the other (issue 24).
 * Binary frames are the terminal's bytes both ways, unchanged; text frames are JSON control
 * messages. Output is read from the engine only while the browser keeps up (high/low water);
 * the session is recorded (asciicast) and audited (history, timeline, log) from start to end.
 */
export class TerminalSession {
  readonly id = randomBytes(9).toString('base64url');
  readonly #ws: WebSocket;
  readonly #request: TerminalRequest;
  readonly #caller: TerminalCaller;
  readonly #deps: TerminalDeps;
  #exec: Session | undefined;
  #execId: string | undefined;
  #debugContainer: string | undefined;
  #cast: Asciicast | undefined;
  #bytesIn = 0;
  #bytesOut = 0;
  #ended = false;
  /** The session's row written (started): its end is written after it. */
  #recorded: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];

  /** Resolves once the session has ended (recorded and audited). */
  readonly ended: Promise<void>;
  #resolveEnded: () => void = () => {};

  /** Who opened it (a token's or user's name). */
  get by(): string {
    return this.#caller.name;
  }

  constructor(ws: WebSocket, request: TerminalRequest, caller: TerminalCaller, deps: TerminalDeps) {
    this.#ws = ws;
    this.#request = request;
    this.#caller = caller;
    this.#deps = deps;
    this.ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
  }

  /** Runs the session to its end; never throws (every failure is told to the browser). */
  async run(): Promise<void> {
    const { store, config, now } = this.#deps;
    const r = this.#request;
    // Written before anything runs; a session the store cannot record is not opened (below).
    this.#recorded = store.started({
      id: this.id,
      by: this.#caller.name,
      via: this.#caller.via,
      from: this.#caller.address,
      engine: r.engine,
      container: r.container.id,
      containerName: r.container.name,
      cmd: r.cmd ?? [],
      record: config.record,
    });
    this.#deps.log.info(
      {
        audit: 'terminal',
        event: 'start',
        session: this.id,
        by: this.#caller.name,
        via: this.#caller.via,
        from: this.#caller.address,
        engine: r.engine,
        container: r.container.name,
        cmd: r.cmd,
      },
      'terminal session started',
    );
    this.#ws.on('close', () => void this.end('closed', null));
    this.#ws.on('error', () => void this.end('closed', null));
    try {
      await this.#recorded.catch((error: Error) => {
        throw new Refusal(`the session could not be recorded (${error.message}): not opened`);
      });
      const state = this.#deps.state();
      if (state !== 'running') throw new Refusal(`container is not running (${state})`);
      const target = r.debug ? await this.#debugTarget() : r.container.id;
      const cmd = r.cmd ?? (await this.#shell(target));
      const created = await this.#deps.client.exec.create(target, {
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: true,
        Cmd: [...cmd],
        Env: ['TERM=xterm-256color'],
        ...(r.user === undefined ? {} : { User: r.user }),
        ...(r.workdir === undefined ? {} : { WorkingDir: r.workdir }),
      });
      this.#execId = created.Id;
      const exec = await this.#deps.client.exec.start(created.Id, { tty: true });
      this.#exec = exec;
      // A command that is already done cannot be resized: its output still goes out.
      await this.#resize(r.cols, r.rows).catch(() => {});
      this.#cast = new Asciicast(
        config.record === 'none' ? undefined : store.castFile(this.id),
        { cols: r.cols, rows: r.rows, timestamp: now(), title: `${r.container.name}: ${cmd.join(' ')}` },
        { limit: config.castLimitBytes, input: config.record === 'all' },
      );
      await store.running(this.id, created.Id, cmd);
      this.#deps.timeline({
        time: '',
        kind: 'action',
        action: 'exec_start',
        by: this.#caller.name,
        detail: { cmd: cmd.join(' '), session: this.id },
      });
      if (this.#ended) {
        exec.destroy();
        return;
      }
      this.#pipe(exec);
      this.#send({ type: 'ready', execId: created.Id, cmd, session: this.id });
      this.#watch();
      exec.on('end', () => {
        void exec.exitCode.then(
          (code) => this.end('exit', code),
          () => this.end('exit', null),
        );
      });
    } catch (error) {
      const message =
        error instanceof Refusal
          ? error.message
          : error instanceof EngineError
            ? error.engineMessage || `the engine answered ${error.status}`
            : `the terminal could not start: ${(error as Error).message}`;
      this.#send({ type: 'error', message });
      await this.end(`error: ${message}`, null, 1011);
    }
  }

  /** Ends the session once: the exec's connection closed (a hang-up), the socket closed, recorded. */
  async end(reason: string, exitCode: number | null, closeCode = 1000): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    for (const timer of this.#timers) clearInterval(timer);
    if (exitCode !== null) this.#send({ type: 'exit', code: exitCode });
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(closeCode, reason.slice(0, 120));
    if (this.#exec !== undefined) await this.#hangUp(this.#exec, exitCode !== null);
    const debug = this.#debugContainer;
    if (debug !== undefined)
      await this.#deps.client.containers.remove(debug, { force: true }).catch(() => {});
    await this.#cast?.close();
    await this.#recorded.catch(() => {});
    await this.#deps.store
      .ended(this.id, {
        exitCode,
        reason,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        castBytes: this.#cast?.bytes ?? 0,
        truncated: this.#cast?.truncated ?? false,
      })
      .catch((error: Error) =>
        this.#deps.log.warn({ session: this.id, err: error.message }, 'terminal session end not recorded'),
      );
    if (this.#execId !== undefined)
      this.#deps.timeline({
        time: '',
        kind: 'action',
        action: 'exec_die',
        by: this.#caller.name,
        ...(exitCode === null ? {} : { exitCode }),
        detail: { session: this.id, reason },
      });
    this.#deps.log.info(
      {
        audit: 'terminal',
        event: 'end',
        session: this.id,
        by: this.#caller.name,
        engine: this.#request.engine,
        container: this.#request.container.name,
        exitCode,
        reason,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
      },
      'terminal session ended',
    );
    this.#resolveEnded();
  }

  /**
   * The closed terminal. The engine has no hang-up for an exec: a dropped connection leaves its
   * process running (moby#9098; Portainer's sessions outlive their tab for that reason). So the
   * terminal types what ends a shell at its prompt and most programs in front of it — Ctrl-C,
   * then Ctrl-D twice (EOF for a program reading, then for the shell) — and closes its stdin and
   * connection. A program that ignores all of it (an editor) runs on; the log says so.
   */
  async #hangUp(exec: Session, exited: boolean): Promise<void> {
    if (!exited && !exec.destroyed) {
      for (const key of ['\x03', '\x04', '\x04']) {
        exec.write(key);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      exec.end();
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    exec.destroy();
    const id = this.#execId;
    if (exited || id === undefined) return;
    const state = await this.#deps.client.exec.inspect(id).catch(() => undefined);
    if (state?.Running === true)
      this.#deps.log.warn(
        { audit: 'terminal', session: this.id, execId: id, container: this.#request.container.name },
        'terminal closed: its process ignored Ctrl-C and Ctrl-D and still runs in the container',
      );
  }

  /** The first shell the image has: asked with a stat of each path, so nothing runs to find it. */
  async #shell(target: string): Promise<string[]> {
    for (const shell of SHELLS) {
      try {
        await this.#deps.client.containers.statPath(target, shell);
        return [shell];
      } catch (error) {
        // Not there: the next. Anything else (a gateway's refusal, whose HEAD answer has no
        // body) is left to the exec create, which says it in words.
        if (error instanceof EngineError && error.status === 404) continue;
        return [SHELLS[0]];
      }
    }
    const debug = this.#deps.config.debugImage;
    throw new Refusal(
      `no shell in ${this.#request.container.name}: tried ${SHELLS.join(', ')}${
        debug === undefined ? '' : `; open it with debug=1 for a shell of ${debug} beside it`
      }`,
    );
  }

  /**
   * `?debug=1`: a throwaway container of the configured debug image that shares the target's pid
   * and network namespaces, removed when the session ends — a shell beside a distroless container.
   */
  async #debugTarget(): Promise<string> {
    const image = this.#deps.config.debugImage;
    if (image === undefined) throw new Refusal('debug=1 needs terminal.debugImage in monitor.yaml');
    const target = this.#request.container.id;
    const created = await this.#deps.client.json<{ Id: string }>('POST', '/containers/create', {
      body: {
        Image: image,
        Cmd: ['sleep', '86400'],
        Tty: false,
        Labels: { 'dockgate.terminal.debug-for': target, 'dockgate.terminal.session': this.id },
        HostConfig: { PidMode: `container:${target}`, NetworkMode: `container:${target}`, AutoRemove: true },
      },
    });
    this.#debugContainer = created.Id;
    await this.#deps.client.json('POST', `/containers/${created.Id}/start`);
    return created.Id;
  }

  #pipe(exec: Session): void {
    const ws = this.#ws;
    const at = this.#deps.now;
    exec.on('data', (chunk: Buffer) => {
      this.#bytesOut += chunk.length;
      this.#cast?.output(chunk, at());
      ws.send(chunk, { binary: true }, () => {
        // The browser took it: read on once the queue is low again.
        if (exec.isPaused() && ws.bufferedAmount < LOW_WATER) exec.resume();
      });
      if (ws.bufferedAmount > HIGH_WATER) exec.pause();
    });
    exec.on('error', () => void this.end('closed', null));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.#bytesIn += data.length;
        this.#cast?.input(data, at());
        // The engine reads stdin at its pace: a browser pasting faster waits for it.
        if (!exec.write(data)) {
          ws.pause();
          exec.once('drain', () => ws.resume());
        }
        return;
      }
      let message: { type?: unknown; cols?: unknown; rows?: unknown };
      try {
        message = JSON.parse(data.toString('utf8')) as typeof message;
      } catch {
        return; // not a control message: ignored, as a terminal ignores a stray escape
      }
      if (message.type === 'resize' && isSize(message.cols) && isSize(message.rows)) {
        this.#cast?.resize(message.cols, message.rows, at());
        void this.#resize(message.cols, message.rows).catch(() => {});
      }
    });
  }

  #resize(cols: number, rows: number): Promise<void> {
    const id = this.#execId;
    return id === undefined ? Promise.resolve() : this.#deps.client.exec.resize(id, { h: rows, w: cols });
  }

  /** Pings, and ends the session when its caller may no longer hold it or the container stops. */
  #watch(): void {
    this.#timers.push(
      setInterval(() => {
        if (this.#ws.readyState === this.#ws.OPEN) this.#ws.ping();
      }, PING_MS).unref(),
      setInterval(() => {
        void this.#caller.stillAllowed().then(
          (denied) => {
            if (denied !== undefined) void this.end(denied, null, 1008);
            else if (this.#deps.state() !== 'running') void this.end('container stopped', null, 1000);
          },
          // The store did not answer: asked again at the next check.
          () => {},
        );
      }, RECHECK_MS).unref(),
    );
  }

  #send(message: Control): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify(message));
  }
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1000;
}
