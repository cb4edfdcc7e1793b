import cluster, { type Worker } from 'node:cluster';
import type { Readable, Writable } from 'node:stream';
import type { ServeConfig } from '../config/serve-config.js';
import { DockgateError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { removeStaleSocket } from './listeners.js';

/** What a worker tells the primary once its listeners are open. */
export interface ReadyMessage {
  readonly type: 'dockgate:ready';
  readonly urls: string[];
}

export function isReadyMessage(message: unknown): message is ReadyMessage {
  return (
    typeof message === 'object' && message !== null && (message as ReadyMessage).type === 'dockgate:ready'
  );
}

/**
 * `--workers N`: N gateway processes share the listening sockets (node:cluster, the kernel
 * spreading new connections: SCHED_NONE, so no hand-off through the primary). One Node process
 * uses one core for JavaScript; on a busy gateway the proxy path is CPU-bound, and N workers
 * let it use N cores.
 *
 * The primary forwards each worker's output line by line (each worker writes to its own pipe,
 * so JSON lines from different workers never interleave mid-line), replaces a worker that dies,
 * and on SIGTERM/SIGINT lets every worker drain as a single gateway would.
 */
export class WorkerPool {
  readonly #config: ServeConfig;
  readonly #log: Logger;
  readonly #workers = new Set<Worker>();
  #stopping = false;

  constructor(config: ServeConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  /** Passes a signal on to every worker (SIGHUP: each reloads its policy). */
  signal(signal: NodeJS.Signals): void {
    for (const worker of this.#workers) worker.process.kill(signal);
  }

  /** Forks the workers; resolves with the bound URLs once all of them listen. */
  async start(count: number): Promise<string[]> {
    for (const address of this.#config.listen) {
      if (address.kind === 'unix') await removeStaleSocket(address.path);
    }
    // The primary creates the listening handles, hence the unix socket files: create them
    // private; each worker widens them to --socket-mode once listening.
    process.umask(0o177);
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ silent: true });
    const ready = Array.from({ length: count }, () => this.#fork());
    try {
      const all = await Promise.all(ready);
      return all[0] ?? [];
    } catch (error) {
      this.#stopping = true;
      for (const worker of this.#workers) worker.process.kill('SIGKILL');
      throw error;
    }
  }

  #fork(): Promise<string[]> {
    const worker = cluster.fork();
    this.#workers.add(worker);
    relayLines(worker.process.stdout, process.stdout);
    relayLines(worker.process.stderr, process.stderr);
    return new Promise((resolve, reject) => {
      let listening = false;
      worker.on('message', (message: unknown) => {
        if (isReadyMessage(message)) {
          listening = true;
          resolve(message.urls);
        }
      });
      worker.on('exit', (code, signal) => {
        this.#workers.delete(worker);
        if (!listening) {
          reject(
            new DockgateError(
              'DG_LISTEN_FAILED',
              `a worker exited before listening (${signal ?? `status ${code}`})`,
            ),
          );
          return;
        }
        if (!this.#stopping) {
          this.#log.error({ worker: worker.process.pid, code, signal }, 'worker died; starting another');
          this.#fork().catch((error: unknown) =>
            this.#log.error({ error: String(error) }, 'could not replace the worker'),
          );
        }
      });
    });
  }

  /** Asks every worker to stop gracefully; resolves when all have exited. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#workers].map(
      (worker) =>
        new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))),
    );
    for (const worker of this.#workers) worker.process.kill('SIGTERM');
    // A worker that ignores its grace period is killed a little after it.
    const deadline = setTimeout(() => {
      for (const worker of this.#workers) worker.process.kill('SIGKILL');
    }, this.#config.shutdownGraceMs + 5_000);
    await Promise.all(exits);
    clearTimeout(deadline);
  }
}

/** Copies whole lines only, so lines of different sources written to one stream never mix. */
function relayLines(from: Readable | null, to: Writable): void {
  if (from === null) return;
  let partial = '';
  from.setEncoding('utf8');
  from.on('data', (text: string) => {
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      partial += text;
      return;
    }
    to.write(partial + text.slice(0, end + 1));
    partial = text.slice(end + 1);
  });
  from.on('end', () => {
    if (partial !== '') to.write(`${partial}\n`);
  });
}
