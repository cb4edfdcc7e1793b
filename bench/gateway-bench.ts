/**
 * `npm run bench`: dockgate against the engine's own TCP listener (direct, the limit), socat
 * (the seed's recipe) and HAProxy with Tecnativa docker-socket-proxy's configuration (every
 * section allowed), on one private engine with ten running containers.
 *
 * Timings on a shared 2-core machine are noisy: every figure is the median of several rounds,
 * targets interleaved within a round, and the report gives ratios to direct and to socat.
 *
 *   node --import tsx bench/gateway-bench.ts [--quick]
 */
import { execFileSync, type spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DockerClient } from '../src/client/index.js';
import { startPrivateEngine } from '../test/helpers/private-engine.js';
import { ensureTestImage } from '../test/helpers/test-image.js';
import { openIdleStreams, wrk } from './lib/load.js';
import { CLOCK_TICKS, startDetached, stop, treeCpuTicks, treeRss, waitForPort } from './lib/processes.js';
import { curlRate, execCatRate, execIn, writeTar } from './lib/transfer.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const quick = process.argv.includes('--quick');
/** `--only REGEX`: only the request-rate workloads whose name matches (no bulk, exec or memory rows). */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? new RegExp(process.argv[onlyAt + 1] ?? '') : undefined;
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 2 : 4;
const BULK_BYTES = 256 * 1024 * 1024;
const IDLE_STREAMS = quick ? 500 : 5000;
const SLOW_READ_BYTES = 1024 * 1024 * 1024;
const PORTS = { direct: 24000, dockgate: 24001, dockgate2: 24004, socat: 24002, haproxy: 24003 } as const;
type Target = keyof typeof PORTS;
const TARGETS: Target[] = ['direct', 'dockgate', 'dockgate2', 'socat', 'haproxy'];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(): Promise<void> {
  const haproxyConfig = join(root, '..', 'shared', 'peers', 'tecnativa-haproxy.cfg');
  if (!existsSync(haproxyConfig)) throw new Error(`Tecnativa's HAProxy config not found at ${haproxyConfig}`);
  const engine = await startPrivateEngine({ tcpPort: PORTS.direct });
  const work = mkdtempSync(join(tmpdir(), 'dockgate-bench-'));
  const processes: ReturnType<typeof spawn>[] = [];
  try {
    const client = new DockerClient({ engine: engine.host });
    const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
    const containers: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
        body: { Image: image, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } },
      });
      await client.json('POST', `/containers/${Id}/start`);
      containers.push(Id);
    }
    const bulk = containers[0] as string;
    await execIn(client, bulk, ['sh', '-c', `head -c ${BULK_BYTES} /dev/urandom > /tmp/bulk`]);
    await execIn(client, bulk, ['sh', '-c', `head -c ${SLOW_READ_BYTES} /dev/zero > /tmp/huge`]);
    const uploadTar = join(work, 'upload.tar');
    await writeTar(uploadTar, BULK_BYTES);
    const stdinFile = join(work, 'stdin.bin');
    execFileSync('sh', ['-c', `head -c ${BULK_BYTES} /dev/urandom > ${stdinFile}`]);
    await client.close();

    // The proxies.
    const dockgate = startDetached(process.execPath, [
      join(root, 'dist', 'cli', 'main.js'),
      'serve',
      '--profile',
      'full',
      '--listen',
      `tcp://127.0.0.1:${PORTS.dockgate}`,
      '--upstream',
      engine.host,
    ]);
    const dockgate2 = startDetached(process.execPath, [
      join(root, 'dist', 'cli', 'main.js'),
      'serve',
      '--profile',
      'full',
      '--workers',
      '2',
      '--listen',
      `tcp://127.0.0.1:${PORTS.dockgate2}`,
      '--upstream',
      engine.host,
    ]);
    const socat = startDetached('socat', [
      `TCP-LISTEN:${PORTS.socat},bind=127.0.0.1,reuseaddr,fork`,
      `UNIX-CONNECT:${engine.socketPath}`,
    ]);
    const haproxyEnv: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'err',
      SOCKET_PATH: engine.socketPath,
      BIND_CONFIG: `127.0.0.1:${PORTS.haproxy}`,
    };
    for (const section of 'POST ALLOW_RESTARTS ALLOW_START ALLOW_STOP AUTH BUILD COMMIT CONFIGS CONTAINERS DISTRIBUTION EVENTS EXEC GRPC IMAGES INFO NETWORKS NODES PING PLUGINS SECRETS SERVICES SESSION SWARM SYSTEM TASKS VERSION VOLUMES'.split(
      ' ',
    )) {
      haproxyEnv[section] = '1';
    }
    const haproxy = startDetached('haproxy', ['-f', haproxyConfig], haproxyEnv);
    processes.push(dockgate, dockgate2, socat, haproxy);
    const pids: Record<Target, number> = {
      direct: Number(execFileSync('cat', [join(engine.dir, 'dockerd.pid')]).toString()),
      dockgate: dockgate.pid ?? 0,
      dockgate2: dockgate2.pid ?? 0,
      socat: socat.pid ?? 0,
      haproxy: haproxy.pid ?? 0,
    };
    for (const target of TARGETS) await waitForPort(PORTS[target]);
    const url = (target: Target, path: string): string => `http://127.0.0.1:${PORTS[target]}${path}`;
    const results: Record<string, Partial<Record<Target, number | string>>> = {};
    const record = (name: string, target: Target, value: number | string): void => {
      results[name] = { ...results[name], [target]: value };
    };

    // Requests per second, keep-alive and a new connection per request.
    const inspect = `/v1.41/containers/${containers[1]}/json`;
    const rateWorkloads: { name: string; path: string; connections: number; close?: boolean }[] = [];
    for (const [label, path] of [
      ['/_ping', '/_ping'],
      ['/containers/json (10 running)', '/v1.41/containers/json'],
      ['inspect', inspect],
    ] as const) {
      for (const connections of [1, 10, 64])
        rateWorkloads.push({ name: `${label}, ${connections} conn`, path, connections });
    }
    rateWorkloads.push({
      name: '/_ping, new connection per request (10 conn)',
      path: '/_ping',
      connections: 10,
      close: true,
    });
    for (const workload of rateWorkloads) {
      if (only !== undefined && !only.test(workload.name)) continue;
      const rounds: Record<Target, number[]> = {
        direct: [],
        dockgate: [],
        dockgate2: [],
        socat: [],
        haproxy: [],
      };
      // CPU per request of the proxy itself (all its processes): independent of how many cores
      // the load generator leaves it, so the figure to optimise against. For direct: dockerd's.
      const cpu: Record<Target, number[]> = {
        direct: [],
        dockgate: [],
        dockgate2: [],
        socat: [],
        haproxy: [],
      };
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of TARGETS) {
          try {
            const before = treeCpuTicks(pids[target]);
            const started = process.hrtime.bigint();
            const rate = await wrk(url(target, workload.path), workload.connections, SECONDS, workload.close);
            const ticks = treeCpuTicks(pids[target]) - before;
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            rounds[target].push(rate);
            // wrk's rate is over its own run (SECONDS); the ticks over the whole call (start-up
            // included, a few ms): requests ≈ rate × SECONDS.
            cpu[target].push(((ticks / CLOCK_TICKS) * 1e6) / (rate * Math.min(SECONDS, seconds)));
          } catch (error) {
            log(`${workload.name} via ${target}: ${(error as Error).message}`);
          }
        }
      }
      for (const target of TARGETS) {
        record(`${workload.name} [req/s]`, target, Math.round(median(rounds[target])));
        record(`${workload.name} [CPU µs/req]`, target, Math.round(median(cpu[target])));
      }
      log(
        `${workload.name}: ${TARGETS.map((t) => `${t} ${results[`${workload.name} [req/s]`]?.[t]} (${results[`${workload.name} [CPU µs/req]`]?.[t]} µs)`).join(', ')}`,
      );
    }
    if (only !== undefined) {
      writeReport(results);
      return;
    }

    // Bulk transfers with curl (MiB/s): archive GET and PUT of 256 MiB.
    for (const target of TARGETS) {
      const down: number[] = [];
      const up: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        down.push(
          await curlRate(
            ['-o', '/dev/null', url(target, `/v1.41/containers/${bulk}/archive?path=/tmp/bulk`)],
            'download',
          ),
        );
        up.push(
          await curlRate(
            [
              '-X',
              'PUT',
              '-T',
              uploadTar,
              '-H',
              'Content-Type: application/x-tar',
              url(target, `/v1.41/containers/${bulk}/archive?path=/tmp`),
            ],
            'upload',
          ),
        );
      }
      record('archive GET 256 MiB [MiB/s]', target, Math.round(median(down)));
      record('archive PUT 256 MiB [MiB/s]', target, Math.round(median(up)));
    }
    log(
      `bulk: ${JSON.stringify(results['archive GET 256 MiB [MiB/s]'])} ${JSON.stringify(results['archive PUT 256 MiB [MiB/s]'])}`,
    );

    // stdin → stdout through `docker exec -i cat` (the docker CLI as the client).
    for (const target of TARGETS) {
      const rates: number[] = [];
      let failure: string | undefined;
      for (let round = 0; round < ROUNDS && failure === undefined; round++) {
        try {
          rates.push(await execCatRate(`tcp://127.0.0.1:${PORTS[target]}`, bulk, stdinFile, BULK_BYTES));
        } catch (error) {
          failure = `fails: ${(error as Error).message.split('\n')[0]}`;
        }
      }
      record('exec -i cat, 256 MiB stdin→stdout [MiB/s]', target, failure ?? Math.round(median(rates)));
    }
    log(`exec cat: ${JSON.stringify(results['exec -i cat, 256 MiB stdin→stdout [MiB/s]'])}`);

    // Idle /events streams: resident memory of the proxy (socat: all its forked processes).
    // socat goes last: its thousands of processes take a while to go away.
    const idleName = `${IDLE_STREAMS} idle /events streams, RSS [MiB]`;
    for (const target of ['direct', 'dockgate', 'dockgate2', 'haproxy', 'socat'] as const) {
      const sockets: Socket[] = [];
      try {
        await openIdleStreams(PORTS[target], IDLE_STREAMS, sockets);
        await sleep(1000);
        record(idleName, target, Math.round(treeRss(pids[target]) / 1048576));
      } catch (error) {
        const rss = Math.round(treeRss(pids[target]) / 1048576);
        record(idleName, target, `${rss} with ${sockets.length} open, then: ${(error as Error).message}`);
      } finally {
        for (const socket of sockets) socket.destroy();
        await sleep(target === 'socat' ? 10_000 : 2_000);
      }
    }
    log(`idle streams: ${JSON.stringify(results[idleName])}`);

    // A slow reader of a 1 GiB download through dockgate: its memory must stay flat.
    const slow = await slowReader(
      PORTS.dockgate,
      `/v1.41/containers/${bulk}/archive?path=/tmp/huge`,
      pids.dockgate,
    );
    results['slow reader, 1 GiB archive GET through dockgate'] = { dockgate: slow };
    log(`slow reader: ${slow}`);

    writeReport(results);
  } finally {
    rmSync(work, { recursive: true, force: true });
    for (const child of processes) await stop(child);
    const leftovers = await engine.stop();
    if (leftovers.length > 0) log(`engine leftovers: ${leftovers.join('; ')}`);
  }
}

/**
 * Reads `path` at about 64 MiB/s, sampling the proxy's RSS as it goes; reports the RSS at each
 * quarter of the download. Flat means the proxy holds no more than a socket buffer's worth.
 */
async function slowReader(port: number, path: string, pid: number): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: docker\r\n\r\n`);
  const quarters: number[] = [treeRss(pid)];
  let peak = quarters[0] ?? 0;
  let received = 0;
  const budgetPerTick = (64 * 1024 * 1024) / 10;
  let allowance = budgetPerTick;
  const ticker = setInterval(() => {
    allowance = budgetPerTick;
    const rss = treeRss(pid);
    peak = Math.max(peak, rss);
    if (received >= (quarters.length * SLOW_READ_BYTES) / 4 && quarters.length < 4) quarters.push(rss);
    if (socket.isPaused()) socket.resume();
  }, 100);
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (received >= SLOW_READ_BYTES) {
        clearInterval(check);
        socket.destroy();
        resolve();
      }
    }, 100);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      allowance -= chunk.length;
      if (allowance <= 0) socket.pause();
    });
    socket.on('end', () => {
      clearInterval(check);
      resolve();
    });
    socket.on('error', reject);
  });
  clearInterval(ticker);
  quarters.push(treeRss(pid));
  const mib = (bytes: number): number => Math.round(bytes / 1048576);
  return `${mib(received)} MiB read; RSS at 0/25/50/75/100 %: ${quarters.map(mib).join(' / ')} MiB, peak ${mib(peak)} MiB`;
}

function writeReport(results: Record<string, Partial<Record<Target, number | string>>>): void {
  const date = new Date().toISOString().slice(0, 10);
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const ratio = (a: number | string | undefined, b: number | string | undefined): string =>
    typeof a === 'number' && typeof b === 'number' && b > 0 ? (a / b).toFixed(2) : '—';
  const lines = [
    `# Gateway benchmark, ${date}${quick ? ' (quick)' : ''}`,
    '',
    `Machine: ${execFileSync('nproc').toString().trim()} cores; dockerd ${execFileSync('dockerd', ['--version']).toString().trim()}; ` +
      `node ${process.version}; ${execFileSync('socat', ['-V']).toString().split('\n')[1]?.trim()}; ` +
      `${execFileSync('haproxy', ['-v']).toString().split('\n')[0]?.trim()}.`,
    `Medians of ${ROUNDS} round(s), targets interleaved; wrk runs ${SECONDS} s each. Load generator, proxy and dockerd share the cores.`,
    "direct = dockerd's own TCP listener on 127.0.0.1. For memory and CPU µs/req rows lower is better; for the others higher.",
    "CPU µs/req: CPU time of the proxy (all its processes, /proc/<pid>/stat utime+stime+cutime+cstime) per request; for direct, dockerd's own.",
    '',
    '| workload | direct | dockgate | dockgate --workers 2 | socat | haproxy (Tecnativa) | dockgate / direct | dockgate / socat | dockgate / haproxy | ×2 / socat | ×2 / haproxy |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [name, row] of Object.entries(results)) {
    if (name.startsWith('slow reader')) continue;
    lines.push(
      `| ${name} | ${row.direct ?? '—'} | ${row.dockgate ?? '—'} | ${row.dockgate2 ?? '—'} | ${row.socat ?? '—'} | ${row.haproxy ?? '—'} | ` +
        `${ratio(row.dockgate, row.direct)} | ${ratio(row.dockgate, row.socat)} | ${ratio(row.dockgate, row.haproxy)} | ` +
        `${ratio(row.dockgate2, row.socat)} | ${ratio(row.dockgate2, row.haproxy)} |`,
    );
  }
  lines.push(
    '',
    `Slow reader (1 GiB archive GET through dockgate at ~64 MiB/s): ${results['slow reader, 1 GiB archive GET through dockgate']?.dockgate}`,
    '',
  );
  const name = `gateway-${date}${quick ? '-quick' : ''}${only === undefined ? '' : '-rates'}`;
  writeFileSync(join(dir, `${name}.md`), `${lines.join('\n')}\n`);
  writeFileSync(
    join(dir, `${name}.json`),
    `${JSON.stringify({ date, rounds: ROUNDS, seconds: SECONDS, results }, null, 2)}\n`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
