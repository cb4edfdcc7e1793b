/**
 * `npm run bench:monitor`: what watching 200 running containers costs (issue 12). One private
 * engine, 200 busybox containers (network none), the monitor at a 10 s stats interval, for each
 * of its three stats paths — through a dockgate gateway's bulk endpoint, cgroup files read
 * directly, the engine's one-shot stats — and the same workload done the Dozzle way (one
 * streaming stats connection per container). For each: the monitor's CPU (% of one core) and
 * RSS, dockerd's + containerd's (and its shims') CPU above idle, and `GET /api/v1/containers`
 * latency. Then the kill-to-event latency over 20 kills. Results: bench/results/monitor-<date>.md.
 *
 *   node --import tsx bench/monitor-bench.ts [--containers 200] [--window 60]
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerClient } from '../src/client/index.js';
import type { ContainerItem } from '../src/monitor/model/container.js';
import { startPrivateEngine } from '../test/helpers/private-engine.js';
import { ensureTestImage } from '../test/helpers/test-image.js';
import { log, MAIN, numberArg, root, startServe } from './lib/cli.js';
import { cpuGroups, cpuOver, engineProcesses } from './lib/engine-cpu.js';
import { killLatency, median, p95 } from './lib/kill-latency.js';
import { startDetached, stop, treeRss, waitForPort } from './lib/processes.js';

const COUNT = numberArg('--containers', 200);
const WINDOW_S = numberArg('--window', 60);
const KILLS = 20;

function get(url: string): Promise<{ ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    httpRequest(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ ms: performance.now() - started, body }));
    })
      .on('error', reject)
      .end();
  });
}

async function startMonitor(args: string[], data: string, port: number): Promise<ChildProcess> {
  const child = startDetached(process.execPath, [
    MAIN,
    'monitor',
    '--listen',
    `http://127.0.0.1:${port}`,
    '--data',
    data,
    '--interval',
    '10s',
    '--log-level',
    'warn',
    ...args,
  ]);
  await waitForPort(port, 30_000);
  return child;
}

/** Waits until the monitor shows resources for every running container (its first stats round). */
async function untilSampled(url: string, count: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const items = JSON.parse((await get(`${url}/api/v1/containers?state=running`)).body) as ContainerItem[];
    if (items.length >= count && items.every((c) => c.memoryBytes !== null)) return;
    await sleep(500);
  }
  throw new Error('the monitor did not sample every container within 5 minutes');
}

interface Row {
  readonly path: string;
  readonly monitorCpu: number;
  readonly agentCpu: number | undefined;
  readonly rssMb: number;
  readonly engineCpu: number;
  readonly addedEngineCpu: number;
  readonly listMs: number;
  /** Samples of one container per minute during the window (6 at a 10 s interval). */
  readonly samplesPerMinute: number;
}

async function main(): Promise<void> {
  const engine = await startPrivateEngine();
  const dockerdPid = Number(readFileSync(join(engine.dir, 'dockerd.pid'), 'utf8'));
  const engineCpuPids = (): number[] => engineProcesses(dockerdPid);
  const work = mkdtempSync(join(tmpdir(), 'dockgate-monitor-bench-'));
  const client = new DockerClient({ engine: engine.host });
  const processes: ChildProcess[] = [];
  const rows: Row[] = [];
  let kills = { fromRequest: [] as number[], fromDie: [] as number[] };
  try {
    const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
    log(`creating ${COUNT} containers in batches of 10`);
    for (let i = 0; i < COUNT; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, COUNT - i) }, async () => {
          const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
            body: { Image: image, Cmd: ['sleep', '86400'], HostConfig: { NetworkMode: 'none' } },
          });
          await client.json('POST', `/containers/${Id}/start`);
        }),
      );
    }
    await sleep(5000);
    const idle = await cpuOver(engineCpuPids, WINDOW_S);
    log(`engine idle: ${idle.toFixed(2)} % of a core`);

    const paths: { path: string; args: (gatewayPort: number) => string[]; gateway: boolean }[] = [
      {
        path: 'gateway (GET /dockgate/v1/stats)',
        args: (p) => ['--engine', `e=tcp://127.0.0.1:${p}`],
        gateway: true,
      },
      { path: 'cgroup files, read directly', args: () => ['--engine', `e=${engine.host}`], gateway: false },
      {
        path: 'engine one-shot stats',
        args: () => ['--config', engineConfig(work, engine.host)],
        gateway: false,
      },
    ];
    let port = 24300;
    for (const variant of paths) {
      const gatewayPort = port++;
      const monitorPort = port++;
      let gateway: ChildProcess | undefined;
      if (variant.gateway) {
        gateway = await startServe(gatewayPort, engine.host, join(work, 'no-tokens.json'));
        processes.push(gateway);
      }
      const data = mkdtempSync(join(work, 'data-'));
      const monitor = await startMonitor(variant.args(gatewayPort), data, monitorPort);
      processes.push(monitor);
      const url = `http://127.0.0.1:${monitorPort}`;
      await untilSampled(url, COUNT);
      const engines = JSON.parse((await get(`${url}/api/v1/engines`)).body) as { statsPath?: string }[];
      log(`${variant.path}: sampling through ${engines[0]?.statsPath}`);
      const monitorPid = monitor.pid as number;
      const gatewayPid = gateway?.pid;
      const [monitorCpu = 0, engineCpu = 0, gatewayCpu = 0] = await cpuGroups(
        [() => [monitorPid], engineCpuPids, () => (gatewayPid === undefined ? [] : [gatewayPid])],
        WINDOW_S,
      );
      const agentCpu = gatewayPid === undefined ? undefined : gatewayCpu;
      const list: number[] = [];
      for (let i = 0; i < 20; i++) list.push((await get(`${url}/api/v1/containers`)).ms);
      // How often each container was really sampled in the window (the engine path stretches its
      // interval when rounds are slow): points of one container over the window, 1 s steps.
      const one = (
        JSON.parse((await get(`${url}/api/v1/containers?state=running`)).body) as ContainerItem[]
      )[0];
      const points =
        one === undefined
          ? []
          : (
              JSON.parse(
                (await get(`${url}/api/v1/containers/e/${one.id}/stats?since=${WINDOW_S}s&step=1s`)).body,
              ) as { points: unknown[] }
            ).points;
      const row: Row = {
        path: variant.path,
        monitorCpu,
        agentCpu,
        rssMb: treeRss(monitorPid) / 1048576,
        engineCpu,
        addedEngineCpu: engineCpu - idle,
        listMs: median(list),
        samplesPerMinute: (points.length * 60) / WINDOW_S,
      };
      rows.push(row);
      log(JSON.stringify(row));
      if (variant.path.startsWith('cgroup')) kills = await killLatency(client, image, url, KILLS);
      await stop(monitor);
      if (gateway !== undefined) await stop(gateway);
    }

    // The Dozzle way: a streaming stats connection per running container, each sample parsed.
    const dozzle = startDetached(process.execPath, [
      '--import',
      'tsx',
      join(root, 'bench', 'lib', 'stats-streams.ts'),
      engine.host,
    ]);
    processes.push(dozzle);
    await sleep(15_000);
    const [dozzleCpu = 0, dozzleEngine = 0] = await cpuGroups(
      [() => [dozzle.pid as number], engineCpuPids],
      WINDOW_S,
    );
    rows.push({
      path: 'the Dozzle way: a streaming /stats connection per container',
      monitorCpu: dozzleCpu,
      agentCpu: undefined,
      rssMb: treeRss(dozzle.pid as number) / 1048576,
      engineCpu: dozzleEngine,
      addedEngineCpu: dozzleEngine - idle,
      listMs: Number.NaN,
      samplesPerMinute: Number.NaN,
    });
    log(JSON.stringify(rows.at(-1)));
    await stop(dozzle);
    // Idle again at the end: the engine's own background work drifts; "added" is against the
    // mean of the two idle windows, and both are reported.
    await sleep(5000);
    const idleAfter = await cpuOver(engineCpuPids, WINDOW_S);
    log(`engine idle after: ${idleAfter.toFixed(2)} % of a core`);
    const baseline = (idle + idleAfter) / 2;
    writeReport(
      idle,
      idleAfter,
      rows.map((r) => ({ ...r, addedEngineCpu: r.engineCpu - baseline })),
      kills,
    );
  } finally {
    for (const child of processes) await stop(child);
    log('removing containers in batches of 10');
    const all = await client
      .json<{ Id: string }[]>('GET', '/containers/json', { query: { all: 1 } })
      .catch(() => []);
    for (let i = 0; i < all.length; i += 10) {
      await Promise.all(
        all
          .slice(i, i + 10)
          .map((c) => client.json('DELETE', `/containers/${c.Id}`, { query: { force: 1 } }).catch(() => {})),
      );
    }
    await client.close();
    rmSync(work, { recursive: true, force: true });
    const leftovers = await engine.stop();
    if (leftovers.length > 0) log(`engine leftovers: ${leftovers.join('; ')}`);
  }
}

function engineConfig(work: string, host: string): string {
  const file = join(work, 'engine-stats.yaml');
  writeFileSync(file, `version: 1\nengines:\n  - name: e\n    url: ${host}\n    stats: engine\n`);
  return file;
}

function writeReport(
  idle: number,
  idleAfter: number,
  rows: Row[],
  kills: { fromRequest: number[]; fromDie: number[] },
): void {
  const date = new Date().toISOString().slice(0, 10);
  const f = (n: number | undefined, digits = 2): string =>
    n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits);
  const lines = [
    `# Monitor benchmark, ${date}`,
    '',
    `Machine: ${execFileSync('nproc').toString().trim()} cores; ${execFileSync('dockerd', ['--version']).toString().trim()}; node ${process.version}; cgroup ${readdirSync('/sys/fs/cgroup').includes('cgroup.controllers') ? 'v2' : 'v1'}.`,
    `${COUNT} running busybox containers (network none) on one private engine; stats interval 10 s; CPU over a ${WINDOW_S} s window after the first round; RSS at its end.`,
    `Engine CPU = dockerd + containerd + its shims; idle (no monitor) before: ${f(idle)}, after: ${f(idleAfter)} % of a core. "Added" = above the mean of the two. API = median of 20 GET /api/v1/containers (all ${COUNT}).`,
    '',
    '| stats path | monitor CPU [% of a core] | gateway (agent) CPU | monitor RSS [MB] | engine CPU | added engine CPU | GET all containers [ms] | samples / container / min |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.path} | ${f(r.monitorCpu)} | ${f(r.agentCpu)} | ${f(r.rssMb, 0)} | ${f(r.engineCpu)} | ${f(r.addedEngineCpu)} | ${f(r.listMs, 1)} | ${f(r.samplesPerMinute, 1)} |`,
    ),
    '',
    `Kill to the stream's \`container\` event (state exited), ${kills.fromRequest.length} kills: from the kill request median ${f(median(kills.fromRequest), 1)} ms, p95 ${f(p95(kills.fromRequest), 1)} ms; from the engine's die time median ${f(median(kills.fromDie), 1)} ms, p95 ${f(p95(kills.fromDie), 1)} ms.`,
  ];
  const out = join(root, 'bench', 'results', `monitor-${date}.md`);
  writeFileSync(out, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
