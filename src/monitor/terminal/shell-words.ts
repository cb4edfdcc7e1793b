import { parse } from 'shell-quote';
import { DockgateError } from '../../errors.js';

/** The shells tried, in order, when no command is given (`/busybox/sh`: distroless debug images). */
export const SHELLS = ['/bin/bash', '/bin/ash', '/bin/sh', '/busybox/sh'] as const;

/**
 * `?cmd=` split as a shell splits a word list (quotes, escapes) with shell-quote — but never run
 * by a shell: operators (`;`, `|`, `&&`, redirections), globs and comments are refused, not
 * silently dropped, so what runs is exactly the words shown.
 */
export function shellWords(text: string): string[] {
  if (text.length > 4096) throw bad('cmd: at most 4096 characters');
  const words: string[] = [];
  for (const part of parse(text, (name) => `$${name}`)) {
    if (typeof part !== 'string')
      throw bad(
        'cmd: a word list only — operators, globs and comments are not run (give the shell: cmd=sh -c "…")',
      );
    words.push(part);
  }
  if (words.length === 0) throw bad('cmd: empty');
  return words;
}

function bad(message: string): DockgateError {
  return new DockgateError('DG_BAD_QUERY', message);
}
