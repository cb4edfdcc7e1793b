import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import type { LineSink } from '../gateway/access-log.js';

/**
 * The audit log as a file, rotated by size (rotating-file-stream: rotation, renaming and
 * pruning done by a maintained library rather than by hand). Rotated files are
 * FILE.1 … FILE.N, newest first; `keep` of them are kept.
 */
export function openAuditFile(
  file: string,
  maxSize: string,
  keep: number,
): LineSink & { close(): Promise<void> } {
  const slash = file.lastIndexOf('/');
  const dir = slash < 0 ? '.' : file.slice(0, slash) || '/';
  const name = file.slice(slash + 1);
  const stream: RotatingFileStream = createStream(
    // Classical logrotate behaviour: the rotated name is a function of the index only.
    (index: number | Date | null) => (typeof index === 'number' && index > 0 ? `${name}.${index}` : name),
    { path: dir, size: maxSize.replace(/^(\d+)$/, '$1B'), rotate: keep },
  );
  stream.on('error', () => {}); // reported by the next write's failure; never crash the gateway
  return {
    write: (line: string) => stream.write(line),
    close: () => new Promise((resolve) => stream.end(() => resolve())),
  };
}
