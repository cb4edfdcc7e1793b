import pino, { type Logger } from 'pino';
import { DockgateError } from '../errors.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Log lines are written in batches of at least this many bytes… */
const BATCH_BYTES = 4096;
/** …and at least this often, so a quiet gateway's lines still show up promptly. */
const FLUSH_EVERY_MS = 250;

/**
 * One JSON line per event on stdout. Writes are asynchronous and batched (sonic-boom with a
 * minimum write size, flushed on a short timer): a write syscall per request would cost the
 * proxy path a large part of its throughput. `flushLogs()` runs before the process exits.
 */
export function createLogger(level: string): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`,
    );
  }
  const destination = pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES });
  const timer = setInterval(() => destination.flush(), FLUSH_EVERY_MS);
  timer.unref();
  destination.on('close', () => clearInterval(timer));
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
