/**
 * `npm run bench:logs-ingest`: what keeping every container's log costs (issue 25). One private
 * engine; first a quiet fleet (100 sleeping containers): dockerd's CPU without the monitor and
 * with its 100 idle follow streams. Then 100 writers, 20 000 lines/s in all (JSON access logs,
 * stack-trace lines, short lines), for `--seconds` (300): dockerd's CPU with the writers alone,
 * then with the monitor collecting (caught up from the start), the monitor's CPU and RSS over the
 * window, and at the end every container's lines in the store against the engine's json-file
 * (lost must be 0). `--path` says which way the monitor reads the logs (docs/logs.md, "Cost"):
 * `engine` (a follow stream per container from dockerd), `files` (the json-files, the monitor on
 * the engine's host) or `gateway` (a dockgate gateway on the host reads the files; its CPU is
 * reported too). Results: bench/results/logs-ingest-<path>-<date>.md.
 *
 *   node --import tsx bench/logs-ingest-bench.ts [--path engine|files|gateway] [--containers 100] [--rate 20000] [--seconds 300] [--profile DIR]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerClient } from '../src/client/index.js';
import { startPrivateEngine } from '../test/helpers/private-engine.js';
import { ensureTestImage } from '../test/helpers/test-image.js';
import { log, MAIN, numberArg, root } from './lib/cli.js';
import { cpuGroups, engineProcesses } from './lib/engine-cpu.js';
import { startDetached, stop, treeRss, waitForPort } from './lib/processes.js';

const COUNT = numberArg('--containers', 100);
const RATE = numberArg('--rate', 20_000);
const SECONDS = numberArg('--seconds', 300);
const QUIET_S = numberArg('--quiet-window', 30);
/** `--profile DIR`: the monitor (and gateway) run with --cpu-prof, profiles written there when they stop. */
const PROFILE = process.argv.includes('--profile')
  ? process.argv[process.argv.indexOf('--profile') + 1]
  : undefined;
const PATHS = ['engine', 'files', 'gateway'] as const;
const pathArg = process.argv.includes('--path') ? process.argv[process.argv.indexOf('--path') + 1] : 'engine';
const PATH: (typeof PATHS)[number] = (() => {
  const found = PATHS.find((p) => p === pathArg);
  if (found === undefined) throw new Error('--path engine|files|gateway');
  return found;
})();

/** A writer of `perSecond` lines/s for `seconds`: bursts every 100 ms; 60 % JSON, 10 % stack, 30 % short. */
function writer(perSecond: number, seconds: number): string {
  const burst = Math.max(1, Math.round(perSecond / 10));
  return [
    `i=0; end=$(( $(date +%s) + ${seconds} ))`,
    'while [ $(date +%s) -lt $end ]; do',
    '  j=0',
    `  while [ $j -lt ${burst} ]; do`,
    '    case $((i % 10)) in',
    '      0) echo "    at Server.handle (/app/src/server.js:$((i % 400)):17)" ;;',
    '      1|2|3) echo "worker $i ready cache miss flushed" ;;',
    '      *) echo "{\\"level\\":\\"info\\",\\"method\\":\\"GET\\",\\"path\\":\\"/api/orders/$i\\",\\"status\\":200,\\"ms\\":$((i % 900)),\\"req\\":\\"req-$i-$RANDOM\\",\\"ua\\":\\"Mozilla/5.0 (X11; Linux x86_64)\\"}" ;;',
    '    esac',
    '    i=$((i+1)); j=$((j+1))',
    '  done',
    '  usleep 100000',
    'done',
    'echo "writer done $i"',
    'sleep 86400',
  ].join('\n');
}

async function main(): Promise<void> {
  const engine = await startPrivateEngine();
  const dockerdPid = Number(readFileSync(join(engine.dir, 'dockerd.pid'), 'utf8'));
  const enginePids = (): number[] => engineProcesses(dockerdPid);
  const work = mkdtempSync(join(tmpdir(), 'dockgate-logs-ingest-'));
  const client = new DockerClient({ engine: engine.host });
  const processes: ChildProcess[] = [];
  const port = 24400;
  const gatewayPort = 24401;
  const url = `http://127.0.0.1:${port}`;
  // Through a gateway: one gateway process for the whole run, as on a host.
  let gateway: ChildProcess | undefined;
  if (PATH === 'gateway') {
    gateway = startDetached(process.execPath, [
      ...(PROFILE === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`]),
      MAIN,
      'serve',
      '--listen',
      `tcp://127.0.0.1:${gatewayPort}`,
      '--upstream',
      engine.host,
      '--profile',
      'read-only',
      '--log-level',
      'warn',
    ]);
    processes.push(gateway);
    await waitForPort(gatewayPort, 30_000);
  }
  const gatewayPids = (): number[] => (gateway?.pid === undefined ? [] : [gateway.pid]);
  const config = join(work, 'monitor.yaml');
  const engineUrl = PATH === 'gateway' ? `tcp://127.0.0.1:${gatewayPort}` : engine.host;
  writeFileSync(config, `version: 1\nengines:\n  - name: e\n    url: ${engineUrl}\n    logs: ${PATH}\n`);
  const startMonitor = async (data: string): Promise<ChildProcess> => {
    const child = startDetached(process.execPath, [
      ...(PROFILE === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`]),
      MAIN,
      'monitor',
      '--listen',
      url,
      '--data',
      data,
      '--config',
      config,
      '--log-level',
      'warn',
    ]);
    processes.push(child);
    await waitForPort(port, 30_000);
    return child;
  };
  const create = async (image: string, script: string, n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 10)
      await Promise.all(
        Array.from({ length: Math.min(10, n - i) }, async () => {
          const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
            body: { Image: image, Cmd: ['sh', '-c', script], HostConfig: { NetworkMode: 'none' } },
          });
          await client.json('POST', `/containers/${Id}/start`);
          ids.push(Id);
        }),
      );
    return ids;
  };
  const removeAll = async (ids: string[]): Promise<void> => {
    for (let i = 0; i < ids.length; i += 10)
      await Promise.all(
        ids.slice(i, i + 10).map((id) => client.json('DELETE', `/containers/${id}`, { query: { force: 1 } })),
      );
  };
  try {
    const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));

    log(`quiet fleet: ${COUNT} sleeping containers`);
    const quiet = await create(image, 'echo hello; sleep 86400', COUNT);
    await sleep(5000);
    const [quietAlone = 0] = await cpuGroups([enginePids], QUIET_S);
    const quietMonitor = await startMonitor(mkdtempSync(join(work, 'quiet-')));
    await sleep(10_000);
    const [quietFollowed = 0, quietMonitorCpu = 0, quietGatewayCpu = 0] = await cpuGroups(
      [enginePids, () => [quietMonitor.pid as number], gatewayPids],
      QUIET_S,
    );
    log(
      `quiet: dockerd ${quietAlone.toFixed(2)} % alone, ${quietFollowed.toFixed(2)} % with ${COUNT} follow streams`,
    );
    await stop(quietMonitor);
    await removeAll(quiet);

    const perContainer = RATE / COUNT;
    log(`writers: ${COUNT} × ${perContainer} lines/s for ${SECONDS} s`);
    const writers = await create(image, writer(perContainer, SECONDS + 40), COUNT);
    await sleep(5000);
    const [writersAlone = 0] = await cpuGroups([enginePids], 30);
    log(`writers alone: dockerd ${writersAlone.toFixed(1)} %`);
    const ingestData = mkdtempSync(join(work, 'ingest-'));
    const monitor = await startMonitor(ingestData);
    // Caught up first (the lines since the writers started), then the window.
    await sleep(20_000);
    let rssMax = 0;
    const rssTimer = setInterval(() => {
      rssMax = Math.max(rssMax, treeRss(monitor.pid as number));
    }, 2000);
    const window = Math.max(30, SECONDS - 40);
    const [withMonitor = 0, monitorCpu = 0, gatewayCpu = 0] = await cpuGroups(
      [enginePids, () => [monitor.pid as number], gatewayPids],
      window,
    );
    clearInterval(rssTimer);
    log(
      `with the monitor: dockerd ${withMonitor.toFixed(1)} %, monitor ${monitorCpu.toFixed(1)} %, gateway ${gatewayCpu.toFixed(1)} %, RSS ${(rssMax / 1048576).toFixed(0)} MB`,
    );
    // The writers end; every line the engine has must be in the store.
    let done = 0;
    for (let i = 0; i < 120 && done < COUNT; i++) {
      await sleep(5000);
      done = 0;
      for (const id of writers) {
        const file = join(engine.dir, 'data', 'containers', id, `${id}-json.log`);
        if (readFileSync(file, 'utf8').includes('writer done')) done++;
      }
    }
    await sleep(5000);
    let engineLines = 0;
    let stored = 0;
    let dropped = 0;
    const sources = (await (await fetch(`${url}/api/v1/logs/sources`)).json()) as {
      id: string;
      lines: number;
      bytes: number;
      dropped: number;
    }[];
    const textBytes = sources.reduce((n, s) => n + s.bytes, 0);
    for (const id of writers) {
      const file = join(engine.dir, 'data', 'containers', id, `${id}-json.log`);
      const n = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '').length;
      engineLines += n;
      const s = sources.find((x) => x.id === id);
      stored += s?.lines ?? 0;
      dropped += s?.dropped ?? 0;
    }
    const lost = engineLines - stored - dropped;
    log(`engine ${engineLines} lines, stored ${stored}, dropped ${dropped}, lost ${lost}`);
    await stop(monitor);
    // The store as sealed at this rate (chunks fill by time here, not by count as in the store bench).
    const dbBytes = statSync(join(ingestData, 'logs.db')).size;
    await removeAll(writers);

    const date = new Date().toISOString().slice(0, 10);
    const how = {
      engine: 'one follow stream per container from dockerd (`logs: engine`)',
      files: "the containers' json-files read by the monitor on the engine's host (`logs: files`)",
      gateway:
        'a dockgate gateway on the host reading the json-files, one stream per container (`logs: gateway`)',
    }[PATH];
    const gatewayCell = (value: number, digits: number): string =>
      PATH === 'gateway' ? ` ${value.toFixed(digits)} % |` : ' — |';
    const report = `# Log ingest benchmark, path \`${PATH}\`, ${date}

\`node --import tsx bench/logs-ingest-bench.ts --path ${PATH} --containers ${COUNT} --rate ${RATE} --seconds ${SECONDS}\`:
one private dockerd 20.10 (json-file), busybox writers (bursts every 100 ms: 60 % JSON access logs, 10 %
stack-trace lines, 30 % short lines), the built monitor with its defaults, reading through ${how}. CPU in %
of one core (two cores here); dockerd's figure is dockerd + containerd + shims, not the containers.

| | dockerd | monitor | gateway | goal |
| --- | --- | --- | --- | --- |
| quiet fleet (${COUNT} sleeping), no monitor | ${quietAlone.toFixed(2)} % | — | — | |
| quiet fleet, ${COUNT} idle followed logs | ${quietFollowed.toFixed(2)} % | ${quietMonitorCpu.toFixed(2)} % |${gatewayCell(quietGatewayCpu, 2)} dockerd: nothing measurable |
| writers, no monitor | ${writersAlone.toFixed(1)} % | — | — | |
| writers, monitor collecting (${window} s window) | ${withMonitor.toFixed(1)} % (added ${(withMonitor - writersAlone).toFixed(1)} %) | ${monitorCpu.toFixed(1)} % |${gatewayCell(gatewayCpu, 1)} added ≤ 10 %, monitor ≤ 25 % |

- lines written: ${engineLines} (${(engineLines / (SECONDS + 40)).toFixed(0)} lines/s over the writers' ${SECONDS + 40} s)
- stored ${stored}, dropped (over the budget) ${dropped}, **lost ${lost}** (goal 0)
- monitor RSS, highest: ${(rssMax / 1048576).toFixed(0)} MB (goal < 250 MB)
- logs.db ${(dbBytes / 1e6).toFixed(0)} MB for ${(textBytes / 1e6).toFixed(0)} MB of text: ${(dbBytes / textBytes).toFixed(2)}× (chunks sealed as the lines come)
`;
    const out = join(root, 'bench', 'results', `logs-ingest-${PATH}-${date}.md`);
    writeFileSync(out, report);
    process.stdout.write(report);
  } finally {
    for (const child of processes) await stop(child).catch(() => {});
    await client.close();
    log(`engine stopped: ${(await engine.stop()).join('; ') || 'clean'}`);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
