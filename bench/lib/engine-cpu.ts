/** CPU figures of processes from /proc, for the benchmarks that weigh dockerd's work against ours. */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processTable, processTree } from './processes.js';

/** Clock ticks (user + system) of one process. */
export function ticks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** dockerd, containerd and the shims: every process of dockerd's tree except the containers' own. */
export function engineProcesses(dockerdPid: number): number[] {
  const table = processTable();
  const out = processTree(
    dockerdPid,
    table,
    (entry) => entry.pid === dockerdPid || entry.name.startsWith('containerd'),
  ).map((entry) => entry.pid);
  // Shims are reparented to init on some setups: find them by name.
  for (const { pid, name } of table.byPid.values())
    if (name.startsWith('containerd-shim') && !out.includes(pid)) out.push(pid);
  return out;
}

/** Several process groups over one window, each in percent of one core. */
export async function cpuGroups(groups: (() => number[])[], seconds: number): Promise<number[]> {
  const total = (): number[] => groups.map((pids) => pids().reduce((sum, pid) => sum + ticks(pid), 0));
  const before = total();
  const started = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - started) / 1000;
  return total().map((after, i) => (after - (before[i] as number)) / elapsed);
}

/** CPU of `pids` (sum) over `seconds`, in percent of one core. */
export async function cpuOver(pids: () => number[], seconds: number): Promise<number> {
  const [cpu = 0] = await cpuGroups([pids], seconds);
  return cpu;
}
