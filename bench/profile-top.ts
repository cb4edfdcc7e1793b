/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time and
 * the most inclusive time, idle excluded from the percentages.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/cli/main.js serve …   # then load it, stop it
 *   node --import tsx bench/profile-top.ts /tmp/prof/CPU.*.cpuprofile [rows] [--skip SECONDS] [--callers NAME]
 *
 * `--skip`: leave out the first SECONDS of samples (start-up: module loading is not per request).
 * `--callers NAME`: also print the stacks (leaf first) that end in functions named NAME.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const [file, rowsArg] = process.argv
  .slice(2)
  .filter((arg, i, all) => !arg.startsWith('--') && !all[i - 1]?.startsWith('--'));
if (file === undefined)
  throw new Error('usage: profile-top.ts FILE.cpuprofile [rows] [--skip S] [--callers NAME]');
const rows = Number(rowsArg ?? 25);
const skip = Number(option('--skip') ?? 0) * 1e6;
const callersOf = option('--callers');
const stacks = new Map<string, number>();
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const label = (node: ProfileNode): string =>
  `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`;
const selfTime = new Map<string, number>();
const inclusive = new Map<string, number>();
let busy = 0;
let idle = 0;
let elapsed = 0;
profile.samples.forEach((id, index) => {
  const node = byId.get(id);
  const delta = profile.timeDeltas[index] ?? 0;
  elapsed += delta;
  if (node === undefined || elapsed < skip) return;
  if (node.callFrame.functionName === '(idle)') {
    idle += delta;
    return;
  }
  busy += delta;
  selfTime.set(label(node), (selfTime.get(label(node)) ?? 0) + delta);
  if (callersOf !== undefined && node.callFrame.functionName === callersOf) {
    const frames: string[] = [];
    for (
      let current: number | undefined = id;
      current !== undefined && frames.length < 8;
      current = parent.get(current)
    )
      frames.push(label(byId.get(current) as ProfileNode));
    const key = frames.join(' < ');
    stacks.set(key, (stacks.get(key) ?? 0) + delta);
  }
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
    const key = label(byId.get(current) as ProfileNode);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + delta);
  }
});

const print = (title: string, table: Map<string, number>): void => {
  console.log(`\n${title} (% of busy time)`);
  for (const [key, time] of [...table.entries()].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`${((time / busy) * 100).toFixed(1).padStart(6)}%  ${key}`);
  }
};
console.log(`busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s`);
print('self', selfTime);
print('inclusive', inclusive);
if (callersOf !== undefined) print(`stacks ending in ${callersOf}`, stacks);
