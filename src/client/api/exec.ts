import { openSession, type Session } from '../session.js';
import type { Transport } from '../transport.js';
import type { ExecCreateBody, ExecInspect } from '../types.js';
import { type Call, call, id } from './containers.js';

/** `docker exec`: create, start (a hijacked Session, or detached), inspect, resize. */
export class Exec {
  readonly #t: Transport;
  constructor(transport: Transport) {
    this.#t = transport;
  }

  create(container: string, body: ExecCreateBody, options?: Call): Promise<{ Id: string }> {
    return this.#t.json('POST', `/containers/${id(container)}/exec`, call(options, { body }));
  }

  /**
   * Starts an exec and returns its Session: write stdin, `end()` to close stdin only (the
   * output keeps coming), read stdout and `session.stderr`; `session.exitCode` resolves from the
   * exec's inspect once the output has ended.
   */
  async start(exec: string, options: { tty?: boolean; signal?: AbortSignal } = {}): Promise<Session> {
    const tty =
      options.tty ?? (await this.inspect(exec, { signal: options.signal })).ProcessConfig?.tty ?? false;
    const { apiVersion } = await this.#t.info(options.signal);
    return openSession(
      {
        endpoint: this.#t.endpoint,
        path: `/v${apiVersion}/exec/${id(exec)}/start`,
        headers: this.#t.headers,
        body: { Detach: false, Tty: tty },
        tty,
        signal: options.signal,
      },
      () => this.#exitCode(exec),
    );
  }

  /** Starts an exec in the background. */
  startDetached(exec: string, options?: Call): Promise<void> {
    return this.#t.send('POST', `/exec/${id(exec)}/start`, call(options, { body: { Detach: true } }));
  }

  inspect(exec: string, options?: Call): Promise<ExecInspect> {
    return this.#t.json('GET', `/exec/${id(exec)}/json`, call(options));
  }

  resize(exec: string, size: { h: number; w: number }, options?: Call): Promise<void> {
    return this.#t.send('POST', `/exec/${id(exec)}/resize`, call(options, { query: size }));
  }

  /** The exit code once the process is gone: the engine may record it a moment after the stream ends. */
  async #exitCode(exec: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const state = await this.inspect(exec);
      if (state.Running !== true && state.ExitCode !== undefined && state.ExitCode !== null)
        return state.ExitCode;
      if (attempt > 100) throw new Error(`exec ${exec} still running after its output ended`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
