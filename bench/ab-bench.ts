/**
 * `npm run bench:ab -- --baseline REF`: the same workloads through two dockgate builds side by
 * side — this working tree's `dist/` and REF built in a git worktree — both with `--profile deploy`,
 * targets interleaved in every round, on one private engine. For "before/after" of one change on a
 * noisy machine: compare the ratio within the run, never two runs.
 *
 *   node --import tsx bench/ab-bench.ts --baseline 18444ea [--rounds 5] [--seconds 4] [--ping | --bulk | --idle] [--label NAME]
 */
import { execFileSync, type spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DockerClient } from '../src/client/index.js';
import { startPrivateEngine } from '../test/helpers/private-engine.js';
import { ensureTestImage } from '../test/helpers/test-image.js';
import { openIdleStreams, wrk } from './lib/load.js';
import { CLOCK_TICKS, startDetached, stop, treeCpuTicks, treeRss, waitForPort } from './lib/processes.js';
import { curlRate, writeTar } from './lib/transfer.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : (process.argv[i + 1] ?? fallback);
};
const baseline = arg('--baseline', 'HEAD');
/** `--ping`: the small-request rows instead (keep-alive and a new connection per request). */
const pingRows = process.argv.includes('--ping');
/** `--bulk`: only the 256 MiB archive PUT and GET, with the gateway's CPU per MiB (many rounds are cheap). */
const bulkRows = process.argv.includes('--bulk');
/** `--idle`: only resident memory with 5,000 idle `/events` streams, each round on fresh processes. */
const idleRows = process.argv.includes('--idle');
const IDLE_STREAMS = 5000;
/** `--label NAME`: results go to ab-DATE[-ping]-NAME.md (several A/Bs on one day). */
const label = arg('--label', '').replace(/[^\w.-]/g, '_');
const ROUNDS = Number(arg('--rounds', '5'));
const SECONDS = Number(arg('--seconds', '4'));
const BULK = 256 * 1024 * 1024;
const PORTS = { baseline: 24201, current: 24202 } as const;
type Side = keyof typeof PORTS;
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
/** CPU seconds a gateway process has used so far. */
const cpuSeconds = (pid: number): number => treeCpuTicks(pid) / CLOCK_TICKS;
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/** Builds REF into bench/tmp/ab-REF (a git worktree) once; returns its CLI entry point. */
function buildBaseline(ref: string): string {
  const dir = join(root, 'bench', 'tmp', `ab-${ref.replace(/[^\w.-]/g, '_')}`);
  const main = join(dir, 'dist', 'cli', 'main.js');
  if (existsSync(main)) return main;
  mkdirSync(join(root, 'bench', 'tmp'), { recursive: true });
  if (!existsSync(dir))
    execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: root, stdio: 'inherit' });
  // The baseline uses this tree's node_modules (same lock file, or close enough for a benchmark).
  if (!existsSync(join(dir, 'node_modules')))
    execFileSync('ln', ['-s', join(root, 'node_modules'), join(dir, 'node_modules')]);
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: dir,
    stdio: 'inherit',
  });
  return main;
}

async function main(): Promise<void> {
  const mains: Record<Side, string> = {
    baseline: buildBaseline(baseline),
    current: join(root, 'dist', 'cli', 'main.js'),
  };
  const engine = await startPrivateEngine();
  const work = mkdtempSync(join(tmpdir(), 'dockgate-ab-bench-'));
  const processes: ReturnType<typeof spawn>[] = [];
  try {
    const client = new DockerClient({ engine: engine.host });
    const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
    const { Id: plain } = await client.json<{ Id: string }>('POST', '/containers/create', {
      body: { Image: image, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } },
    });
    await client.json('POST', `/containers/${plain}/start`);
    await client.close();
    const tar = join(work, 'upload.tar');
    await writeTar(tar, BULK);
    /** One side's gateway: `serve --profile deploy` on 127.0.0.1:PORT, no tokens. */
    const serveArgs = (side: Side, port: number): string[] => [
      mains[side],
      'serve',
      '--profile',
      'deploy',
      '--tokens',
      join(work, 'no-tokens.json'),
      '--listen',
      `tcp://127.0.0.1:${port}`,
      '--upstream',
      engine.host,
    ];
    const pids: Partial<Record<Side, number>> = {};
    for (const side of Object.keys(PORTS) as Side[]) {
      processes.push(startDetached(process.execPath, serveArgs(side, PORTS[side])));
      pids[side] = processes.at(-1)?.pid ?? 0;
      await waitForPort(PORTS[side]);
    }
    /** Requests per second, and the gateway's CPU µs per request over the same run. */
    const measured = async (
      side: Side,
      path: string,
      connections: number,
      close = false,
      /** null: a plain GET (undefined would take the default, the exec-create script). */
      lua: string | null = script,
    ): Promise<[number, number]> => {
      const pid = pids[side] as number;
      const before = cpuSeconds(pid);
      const rate = await wrk(url(side, path), connections, SECONDS, close, lua ?? undefined);
      return [rate, ((cpuSeconds(pid) - before) / (rate * SECONDS)) * 1e6];
    };
    const script = join(work, 'exec-create.lua');
    writeFileSync(
      script,
      `wrk.method = "POST"\nwrk.body = '{"Cmd":["true"],"User":"nobody"}'\nwrk.headers["Content-Type"] = "application/json"\n`,
    );
    const url = (side: Side, path: string): string => `http://127.0.0.1:${PORTS[side]}${path}`;
    const rows: Record<string, Record<Side, number[]>> = pingRows || bulkRows || idleRows
      ? {}
      : {
          'exec create on a plain container, 10 conn [req/s]': { baseline: [], current: [] },
          'exec create, 10 conn: gateway CPU per request [µs]': { baseline: [], current: [] },
          'exec create on a plain container, 1 conn [req/s]': { baseline: [], current: [] },
          'exec create, 1 conn: gateway CPU per request [µs]': { baseline: [], current: [] },
          'archive PUT 256 MiB on a plain container [MiB/s]': { baseline: [], current: [] },
        };
    const add = (name: string, side: Side, value: number): void => {
      rows[name] ??= { baseline: [], current: [] };
      rows[name][side].push(value);
    };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which side goes first: the engine accumulates exec instances as the run goes.
      const order: Side[] = round % 2 === 0 ? ['baseline', 'current'] : ['current', 'baseline'];
      for (const side of order) {
        if (pingRows) {
          for (const connections of [1, 10, 64]) {
            const [rate, cpu] = await measured(side, '/_ping', connections, false, null);
            add(`/_ping keep-alive, ${connections} conn [req/s]`, side, rate);
            add(`/_ping keep-alive, ${connections} conn: gateway CPU per request [µs]`, side, cpu);
          }
          const [rate, cpu] = await measured(side, '/_ping', 10, true, null);
          add('/_ping, new connection per request (10 conn) [req/s]', side, rate);
          add('/_ping, new connection per request: gateway CPU per request [µs]', side, cpu);
          continue;
        }
        if (idleRows) {
          // A fresh process per measurement: resident memory depends on what ran before.
          const port = PORTS[side] + 100;
          const fresh = startDetached(process.execPath, serveArgs(side, port));
          const sockets: Socket[] = [];
          try {
            await waitForPort(port);
            await openIdleStreams(port, IDLE_STREAMS, sockets);
            await sleep(1000);
            add(
              `${IDLE_STREAMS} idle /events streams, RSS [MiB]`,
              side,
              treeRss(fresh.pid as number) / 1048576,
            );
          } finally {
            for (const socket of sockets) socket.destroy();
            await stop(fresh);
            await sleep(2000);
          }
          continue;
        }
        if (bulkRows) {
          const pid = pids[side] as number;
          const archive = url(side, `/v1.41/containers/${plain}/archive`);
          let before = cpuSeconds(pid);
          const put = await curlRate(
            ['-X', 'PUT', '-T', tar, '-H', 'Content-Type: application/x-tar', `${archive}?path=/tmp`],
            'upload',
          );
          add('archive PUT 256 MiB [MiB/s]', side, put);
          add('archive PUT: gateway CPU per MiB [µs]', side, ((cpuSeconds(pid) - before) * 1e6) / 256);
          before = cpuSeconds(pid);
          const get = await curlRate(['-o', '/dev/null', `${archive}?path=/tmp/upload.bin`], 'download');
          add('archive GET 256 MiB [MiB/s]', side, get);
          add('archive GET: gateway CPU per MiB [µs]', side, ((cpuSeconds(pid) - before) * 1e6) / 256);
          continue;
        }
        const path = `/v1.41/containers/${plain}/exec`;
        const [rate10, cpu10] = await measured(side, path, 10);
        rows['exec create on a plain container, 10 conn [req/s]']?.[side].push(rate10);
        rows['exec create, 10 conn: gateway CPU per request [µs]']?.[side].push(cpu10);
        const [rate1, cpu1] = await measured(side, path, 1);
        rows['exec create on a plain container, 1 conn [req/s]']?.[side].push(rate1);
        rows['exec create, 1 conn: gateway CPU per request [µs]']?.[side].push(cpu1);
        rows['archive PUT 256 MiB on a plain container [MiB/s]']?.[side].push(
          await curlRate(
            [
              '-X',
              'PUT',
              '-T',
              tar,
              '-H',
              'Content-Type: application/x-tar',
              url(side, `/v1.41/containers/${plain}/archive?path=/tmp`),
            ],
            'upload',
          ),
        );
      }
      log(`round ${round + 1}/${ROUNDS} done`);
    }
    const date = new Date().toISOString().slice(0, 10);
    const lines = [
      `# A/B benchmark, ${date}: ${baseline} (baseline) vs this tree (current), both --profile deploy`,
      '',
      `Machine: ${execFileSync('nproc').toString().trim()} cores; node ${process.version}. Medians of ${ROUNDS} rounds, sides interleaved (order alternating); wrk ${SECONDS} s per run.`,
      '',
      '| workload | baseline | current | current / baseline |',
      '|---|---|---|---|',
    ];
    for (const [name, sides] of Object.entries(rows)) {
      const b = median(sides.baseline);
      const c = median(sides.current);
      lines.push(`| ${name} | ${Math.round(b)} | ${Math.round(c)} | ${(c / b).toFixed(3)} |`);
    }
    const suffix = `${pingRows ? '-ping' : ''}${bulkRows ? '-bulk' : ''}${idleRows ? '-idle' : ''}${label === '' ? '' : `-${label}`}`;
    const out = join(root, 'bench', 'results', `ab-${date}${suffix}.md`);
    writeFileSync(out, `${lines.join('\n')}\n`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    for (const child of processes) await stop(child);
    const leftovers = await engine.stop();
    if (leftovers.length > 0) log(`engine leftovers: ${leftovers.join('; ')}`);
  }
}

await main();
