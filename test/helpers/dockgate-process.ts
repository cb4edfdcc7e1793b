import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { testEngine } from './engine.js';

const root = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);

/** A real `dockgate serve` process (from the sources, through tsx), for signals and limits. */
export interface DockgateProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Port of the first tcp:// listener, read from the "listening on" line. */
  readonly port: number;
  stdout(): string;
  stderr(): string;
}

/**
 * Starts `dockgate serve ARGS --upstream <test engine>` and waits until it says where it
 * listens. `maxFiles` then lowers its descriptor limit to that (soft and hard) once it listens.
 */
export async function startDockgate(
  args: string[],
  options: { maxFiles?: number; tokens?: string; env?: Record<string, string> } = {},
): Promise<DockgateProcess> {
  // Transport tests want everything through; access tests say which profile they want.
  const profile = args.some((a) => a === '--profile' || a === '--config' || a === '--tecnativa-env')
    ? []
    : ['--profile', 'full'];
  const command = [
    process.execPath,
    '--import',
    'tsx',
    'src/cli/main.ts',
    'serve',
    ...profile,
    ...args,
    ...(args.includes('--upstream') ? [] : ['--upstream', testEngine().host]),
  ];
  // Never the developer's own token store.
  const env = {
    ...process.env,
    DOCKGATE_TOKENS: options.tokens ?? '/nonexistent/dockgate-test-tokens.json',
    ...options.env,
  };
  const child = spawn(command[0] as string, command.slice(1), { cwd: root, env });
  const output = collectOutput(child);
  // A wildcard listener (0.0.0.0) is reached on 127.0.0.1 all the same.
  const listening = /listening on tcp:\/\/(?:127\.0\.0\.1|0\.0\.0\.0):(\d+)/;
  while (!listening.test(output.stderr())) {
    if (child.exitCode !== null) throw new Error(`dockgate exited: ${output.stderr()}`);
    await sleep(20);
  }
  if (options.maxFiles !== undefined) {
    // The limit applies to the running gateway, not to module loading: how many files the loader
    // holds open at once varies from run to run, and a limit from the first instruction made the
    // process die before it listened now and then (issue 9). prlimit sets soft and hard at once.
    await run('prlimit', [`--pid=${child.pid}`, `--nofile=${options.maxFiles}:${options.maxFiles}`]);
  }
  return { child, port: Number(listening.exec(output.stderr())?.[1]), ...output };
}

/** Everything a child process writes, kept as text. */
export function collectOutput(child: ChildProcessWithoutNullStreams): { stdout(): string; stderr(): string } {
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return { stdout: () => out, stderr: () => err };
}
