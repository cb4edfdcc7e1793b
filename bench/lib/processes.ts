import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** One line of /proc/<pid>/stat: the process, its parent, its name and the fields after the name. */
export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly name: string;
  /** After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14). */
  readonly fields: readonly string[];
}

/** Every process now, by pid, with who its children are. */
export function processTable(): { byPid: Map<number, ProcessEntry>; children: Map<number, number[]> } {
  const byPid = new Map<number, ProcessEntry>();
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      const ppid = Number(fields[1]);
      byPid.set(pid, { pid, ppid, name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields });
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // gone
    }
  }
  return { byPid, children };
}

/** `pid` and the processes below it; `within` leaves a process (and what is below it) out. */
export function processTree(
  pid: number,
  table = processTable(),
  within: (entry: ProcessEntry) => boolean = () => true,
): ProcessEntry[] {
  const out: ProcessEntry[] = [];
  const visit = (p: number): void => {
    const entry = table.byPid.get(p);
    if (entry === undefined || !within(entry)) return;
    out.push(entry);
    for (const child of table.children.get(p) ?? []) visit(child);
  };
  visit(pid);
  return out;
}

/** Resident memory of a process and all its descendants, in bytes (socat forks one per connection). */
export function treeRss(pid: number): number {
  let total = 0;
  for (const { pid: p } of processTree(pid)) {
    try {
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
      total += Number(rss ?? 0) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** Clock ticks per second of /proc/<pid>/stat's CPU fields (getconf CLK_TCK). */
export const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/**
 * CPU time used by a process and all its descendants so far, in clock ticks: user + system of
 * the living ones, plus what their reaped children used (cutime + cstime) — socat forks one
 * process per connection and reaps it, so its connections' CPU lands in its cutime/cstime.
 */
export function treeCpuTicks(pid: number): number {
  let total = 0;
  for (const { fields } of processTree(pid)) {
    for (const i of [11, 12, 13, 14]) total += Number(fields[i]);
  }
  return total;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const attempt = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect({ port, host: '127.0.0.1' });
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(50);
    }
    throw new Error(`nothing listens on 127.0.0.1:${port}`);
  };
  return attempt();
}

export function startDetached(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', () => {});
  return child;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
