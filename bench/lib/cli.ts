/** What every benchmark script shares: its numeric flags, its progress lines, where dockgate is. */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDetached, waitForPort } from './processes.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI (`npm run build`): benchmarks measure what ships. */
export const MAIN = join(root, 'dist', 'cli', 'main.js');

/** `--name N` on the command line, else `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

/** A progress line on stderr, with the time. */
export function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** `dockgate serve` (read-only for callers without a token) on 127.0.0.1:PORT, started and listening. */
export async function startServe(port: number, upstream: string, tokens: string): Promise<ChildProcess> {
  const child = startDetached(process.execPath, [
    MAIN,
    'serve',
    '--profile',
    'read-only',
    '--tokens',
    tokens,
    '--listen',
    `tcp://127.0.0.1:${port}`,
    '--upstream',
    upstream,
    '--log-level',
    'warn',
  ]);
  await waitForPort(port);
  return child;
}
