import { basename, dirname, join } from 'node:path';
import { FILE_LOG_DRIVERS, type FileLogFormat } from './file-entry.js';

/** The inspect fields that say where a container's log file is. */
export interface LogInspect {
  readonly Id: string;
  readonly LogPath?: string;
  readonly HostnamePath?: string;
  readonly ResolvConfPath?: string;
  readonly Config?: { readonly Tty?: boolean };
  readonly State?: { readonly Running?: boolean };
  readonly HostConfig?: { readonly LogConfig?: { readonly Type?: string } };
}

export type LogLocation =
  | { readonly kind: 'file'; readonly path: string; readonly format: FileLogFormat }
  | { readonly kind: 'not-a-file'; readonly driver: string }
  /** Never started: dockerd names the log's path at the first start, and there is no line yet. */
  | { readonly kind: 'not-started' };

/**
 * Where dockerd writes a container's log: `LogPath` for json-file; for local,
 * `<container dir>/local-logs/container.log` (LogPath is empty then). Both must sit in the
 * container's own directory, named by its full id: a path elsewhere is never read (undefined).
 * A container created but never started has neither path (dockerd sets them at its first start):
 * its log is empty, as the engine answers it.
 */
export function logLocation(inspect: LogInspect): LogLocation | undefined {
  const driver = inspect.HostConfig?.LogConfig?.Type ?? '';
  if (!FILE_LOG_DRIVERS.has(driver)) return { kind: 'not-a-file', driver: driver || 'unknown' };
  if (inspect.State?.Running !== true && !inspect.LogPath && !inspect.HostnamePath && !inspect.ResolvConfPath)
    return { kind: 'not-started' };
  if (driver === 'json-file') {
    const path = inspect.LogPath ?? '';
    const fits = basename(dirname(path)) === inspect.Id && basename(path) === `${inspect.Id}-json.log`;
    return path !== '' && fits ? { kind: 'file', path, format: 'json-file' } : undefined;
  }
  const known = inspect.HostnamePath || inspect.ResolvConfPath || '';
  const dir = dirname(known);
  return known !== '' && basename(dir) === inspect.Id
    ? { kind: 'file', path: join(dir, 'local-logs', 'container.log'), format: 'local' }
    : undefined;
}

/** The directory that must be readable to read the log (the container's own). */
export function containerDir(location: Extract<LogLocation, { kind: 'file' }>): string {
  return location.format === 'local' ? dirname(dirname(location.path)) : dirname(location.path);
}
