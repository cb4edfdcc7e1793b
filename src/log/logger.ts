import pino, { type Logger } from 'pino';
import { DockgateError } from '../errors.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Lines are handed to the destination in batches of this many characters… */
const BATCH_CHARS = 16 * 1024;
/** …and at least this often, so a quiet gateway's lines still show up promptly. */
const FLUSH_EVERY_MS = 250;

/**
 * One JSON line per event on stdout, written asynchronously in batches: a write per request
 * would cost the proxy path a large part of its throughput. Lines are joined here first and
 * reach sonic-boom (pino's destination) a batch at a time — sonic-boom measures the byte length
 * of its pending buffer on every write, which on the proxy path cost about as much as formatting
 * the access line. Every line, pino's and the access log's, goes through the same batch, so
 * their order is kept. `flushLogs()` runs before the process exits.
 */
export function createLogger(level: string): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`,
    );
  }
  const destination = pino.destination({ dest: 1, sync: false });
  const batch = new LineBatch(destination);
  const timer = setInterval(() => batch.flush(), FLUSH_EVERY_MS);
  timer.unref();
  destination.on('close', () => {
    clearInterval(timer);
    open.delete(batch);
  });
  if (!exitHooked) process.once('exit', writeAtExit);
  exitHooked = true;
  open.add(batch);
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, batch);
}

/** Batches of loggers still open, written out at exit. */
const open = new Set<LineBatch>();
let exitHooked = false;

function writeAtExit(): void {
  for (const batch of open) batch.writeNow();
}

/** Joins lines into batches for a sonic-boom destination (see createLogger). */
class LineBatch {
  readonly #destination: ReturnType<typeof pino.destination>;
  #pending = '';

  constructor(destination: ReturnType<typeof pino.destination>) {
    this.#destination = destination;
  }

  write(line: string): boolean {
    this.#pending += line;
    if (this.#pending.length >= BATCH_CHARS) this.#hand();
    return true;
  }

  /** Hands the batch over and asks the destination to write everything it holds. */
  flush(callback?: (error?: Error) => void): void {
    this.#hand();
    if (callback === undefined) this.#destination.flush();
    else this.#destination.flush(callback);
  }

  /** At exit: what is pending is written synchronously (pino's destination does this too). */
  writeNow(): void {
    this.#hand();
    try {
      this.#destination.flushSync();
    } catch {
      // A write already under way or a closed stdout: nothing more can be done at exit.
    }
  }

  #hand(): void {
    if (this.#pending === '') return;
    const pending = this.#pending;
    this.#pending = '';
    this.#destination.write(pending);
  }
}

export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
