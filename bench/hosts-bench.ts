/**
 * `npm run bench:hosts` (issue 29): what reading a host costs. (1) The agent: the CPU time of one
 * host reading (`/proc` files and a statfs per filesystem, `HostReader.read`) in this process,
 * and a `GET /dockgate/v1/host` through a real gateway process — its CPU per request and the
 * round trip. (2) `GET /system/df` on a private engine holding `--containers` containers (default
 * 200, each with a few KiB in its writable layer) and `--images` images (default 50): its time and
 * dockerd's CPU, against `GET /info` and `GET /containers/json` on the same engine — why the
 * monitor asks for it at most every 15 minutes. Results: bench/results/hosts-<date>.md.
 *
 *   node --import tsx bench/hosts-bench.ts [--containers 200] [--images 50] [--reads 500]
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerClient } from '../src/client/index.js';
import { HostReader } from '../src/engine/host/host-reader.js';
import { type PrivateEngine, startPrivateEngine } from '../test/helpers/private-engine.js';
import { ensureTestImage } from '../test/helpers/test-image.js';
import { log, numberArg, root, startServe } from './lib/cli.js';
import { engineProcesses, ticks } from './lib/engine-cpu.js';
import { median, p95 } from './lib/kill-latency.js';
import { CLOCK_TICKS, stop, treeCpuTicks } from './lib/processes.js';

const CONTAINERS = numberArg('--containers', 200);
const IMAGES = numberArg('--images', 50);
const READS = numberArg('--reads', 500);
const PORT = 24600;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'dockgate-hosts-bench-'));
  const engine: PrivateEngine = await startPrivateEngine();
  const client = new DockerClient({ engine: engine.host });
  const lines: string[] = [];
  try {
    const info = await client.system.info();
    // (1) The reading itself, in this process.
    const reader = new HostReader();
    // Warm, as in a gateway that has run a while (the first readings compile the parsers).
    for (let i = 0; i < 100; i++) await reader.read(info.DockerRootDir);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) await reader.read(info.DockerRootDir);
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - t0) / READS;
    const perRead = (cpu.user + cpu.system) / READS;
    const sample = await reader.read(info.DockerRootDir);
    log(
      `host reading: ${perRead.toFixed(0)} µs CPU, ${wall.toFixed(2)} ms wall (${sample.filesystems.length} filesystems)`,
    );

    // Through a gateway process: its CPU per request and the round trip.
    writeFileSync(join(work, 'tokens.json'), '{"version":1,"tokens":[]}\n');
    const gateway = await startServe(PORT, engine.host, join(work, 'tokens.json'));
    const url = `http://127.0.0.1:${PORT}/dockgate/v1/host`;
    for (let i = 0; i < 100; i++) await (await fetch(url)).arrayBuffer();
    const g0 = treeCpuTicks(gateway.pid as number);
    const trips: number[] = [];
    for (let i = 0; i < READS; i++) {
      const s = performance.now();
      const response = await fetch(url);
      await response.arrayBuffer();
      trips.push(performance.now() - s);
    }
    const gatewayUs = ((treeCpuTicks(gateway.pid as number) - g0) / CLOCK_TICKS / READS) * 1e6;
    await stop(gateway);
    log(`through the gateway: ${gatewayUs.toFixed(0)} µs CPU a request, p50 ${median(trips).toFixed(2)} ms`);

    // (2) /system/df on an engine with many containers and images.
    const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
    log(`making ${IMAGES} images and ${CONTAINERS} containers`);
    const base = await client.json<{ Id: string }>('POST', '/containers/create', {
      body: { Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } },
    });
    for (let i = 0; i < IMAGES; i++)
      await client.json('POST', '/commit', {
        query: { container: base.Id, repo: 'bench/img', tag: String(i), changes: `LABEL n=${i}` },
        body: {},
      });
    await client.json('DELETE', `/containers/${base.Id}`);
    for (let i = 0; i < CONTAINERS; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, CONTAINERS - i) }, async (_, j) => {
          const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
            body: {
              Image: `bench/img:${(i + j) % IMAGES}`,
              // A few KiB in each writable layer: what df walks.
              Cmd: ['sh', '-c', 'head -c 65536 /dev/urandom > /tmp/blob; exec sleep 86400'],
              HostConfig: { NetworkMode: 'none' },
            },
          });
          await client.json('POST', `/containers/${Id}/start`);
        }),
      );
    }
    const dockerd = Number(readFileSync(join(engine.dir, 'dockerd.pid'), 'utf8'));
    const engineTicks = (): number => engineProcesses(dockerd).reduce((n, pid) => n + ticks(pid), 0);
    const measure = async (what: string, call: () => Promise<unknown>, n: number) => {
      await call();
      const times: number[] = [];
      const before = engineTicks();
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        await call();
        times.push(performance.now() - s);
      }
      const cpuMs = ((engineTicks() - before) / CLOCK_TICKS / n) * 1000;
      log(`${what}: p50 ${median(times).toFixed(1)} ms, engine CPU ${cpuMs.toFixed(1)} ms a call`);
      return { p50: median(times), p95: p95(times), cpuMs };
    };
    const df = await measure('/system/df', () => client.system.df(), 10);
    const infoCost = await measure('/info', () => client.system.info(), 20);
    const list = await measure('/containers/json', () => client.containers.list({ all: true }), 20);
    const listSize = await measure(
      '/containers/json?size=1',
      () => client.json('GET', '/containers/json', { query: { all: 'true', size: 'true' } }),
      10,
    );
    const cores = (await client.system.info()).NCPU ?? 1;
    const date = new Date().toISOString().slice(0, 10);
    lines.push(
      `# Hosts — ${date}`,
      '',
      `\`npm run bench:hosts\` (bench/hosts-bench.ts) on this machine (${cores} cores, Debian's dockerd 20.10, overlay2 on ext4).`,
      '',
      '## The agent',
      '',
      `- One host reading (\`HostReader.read\`: /proc/stat, meminfo, loadavg, uptime, pressure, net/dev, diskstats, the hwmon directory, mountinfo, one statfs per device — ${sample.filesystems.length} here — and one stat of the docker root): **${perRead.toFixed(0)} µs of CPU** — ${(cpu.user / READS).toFixed(0)} µs user, ${(cpu.system / READS).toFixed(0)} µs system (the kernel writing the /proc files and answering statfs) — ${wall.toFixed(2)} ms wall (the statfs calls in the thread pool), mean of ${READS} after 100 to warm up.`,
      `- \`GET /dockgate/v1/host\` through a gateway process (read-only profile, audit line on stdout): **${gatewayUs.toFixed(0)} µs of the gateway's CPU a request**, round trip p50 ${median(trips).toFixed(2)} ms, p95 ${p95(trips).toFixed(2)} ms (${READS} requests, one at a time).`,
      `- At the monitor's default interval (10 s) that is ${((gatewayUs / 10_000_000) * 100).toFixed(4)} % of one core on each host.`,
      '',
      `## Docker's disk use (\`/system/df\`) with ${CONTAINERS} running containers and ${IMAGES} images`,
      '',
      '| call | p50 ms | p95 ms | engine CPU ms a call |',
      '| --- | --- | --- | --- |',
      `| \`GET /system/df\` | ${df.p50.toFixed(1)} | ${df.p95.toFixed(1)} | ${df.cpuMs.toFixed(1)} |`,
      `| \`GET /containers/json?all=1&size=1\` | ${listSize.p50.toFixed(1)} | ${listSize.p95.toFixed(1)} | ${listSize.cpuMs.toFixed(1)} |`,
      `| \`GET /containers/json?all=1\` | ${list.p50.toFixed(1)} | ${list.p95.toFixed(1)} | ${list.cpuMs.toFixed(1)} |`,
      `| \`GET /info\` | ${infoCost.p50.toFixed(1)} | ${infoCost.p95.toFixed(1)} | ${infoCost.cpuMs.toFixed(1)} |`,
      '',
      `\`/system/df\` costs ${(df.cpuMs / Math.max(list.cpuMs, 0.01)).toFixed(0)}× a container list: it walks every container's writable layer and every volume (the same walk as \`size=1\`), so its cost grows with the data on the host, not with the request rate. The monitor reads it at most every 15 minutes per engine (and on the engine page when the last one is older), never at the stats interval.`,
      '',
    );
    writeFileSync(join(root, 'bench', 'results', `hosts-${date}.md`), lines.join('\n'));
    log(`written bench/results/hosts-${date}.md`);
  } finally {
    log('stopping the engine');
    await engine.stop();
  }
}

await main();
