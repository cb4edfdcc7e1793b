import pino, { type Logger } from 'pino';
import { DockgateError } from '../errors.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * One JSON line per event on stdout. Writes are asynchronous (sonic-boom batches them) so the
 * proxy path never waits on the terminal; `flushLogs()` runs before the process exits.
 */
export function createLogger(level: string): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`,
    );
  }
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: false }),
  );
}

export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
