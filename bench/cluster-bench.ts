/**
 * `npm run bench:cluster`: several monitors on one PostgreSQL (issue 28). Five private engines
 * with `--containers` running containers spread over them (default 200: what this two-core
 * machine holds beside five dockerds), stats every 10 s. First one monitor on SQLite watching all
 * five (the baseline), then three monitors on a private PostgreSQL 15 sharing them: each
 * monitor's CPU (% of one core) and RSS, PostgreSQL's CPU and how fast its database grows (per
 * day, from the window), kill → server-sent event latency on a monitor that does not own the
 * engine (p50/p95 over 20 kills), the takeover time after a SIGKILL of the monitor owning the
 * most engines, and whether any transition was lost or recorded twice. Results:
 * bench/results/cluster-<date>.md.
 *
 *   node --import tsx bench/cluster-bench.ts [--containers 200] [--window 60]
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerClient } from '../src/client/index.js';
import type { ContainerItem } from '../src/monitor/model/container.js';
import type { TimelineEntry } from '../src/monitor/store/history.js';
import { type PrivateEngine, startPrivateEngine } from '../test/helpers/private-engine.js';
import { startPrivatePostgres } from '../test/helpers/private-postgres.js';
import { ensureTestImage } from '../test/helpers/test-image.js';
import { log, MAIN, numberArg, root } from './lib/cli.js';
import { cpuGroups } from './lib/engine-cpu.js';
import { killLatency, median, p95 } from './lib/kill-latency.js';
import { startDetached, stop, treeRss, waitForPort } from './lib/processes.js';

const COUNT = numberArg('--containers', 200);
const WINDOW_S = numberArg('--window', 60);
const ENGINES = 5;
const KILLS = 20;

async function getJson<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(
    url,
    token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
  return (await response.json()) as T;
}

interface Cluster {
  self: string;
  instances: { id: string; engines: string[] }[];
  leases: { engine: string; owner: string | null }[];
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'dockgate-cluster-bench-'));
  const engines: { name: string; engine: PrivateEngine; client: DockerClient }[] = [];
  const processes: ChildProcess[] = [];
  const pg = await startPrivatePostgres();
  try {
    log(`starting ${ENGINES} private engines`);
    for (let i = 1; i <= ENGINES; i++) {
      const engine = await startPrivateEngine();
      engines.push({ name: `e${i}`, engine, client: new DockerClient({ engine: engine.host }) });
    }
    const image = await ensureTestImage(
      engines[0]?.client as DockerClient,
      join(root, '.cache', 'test-image'),
    );
    for (const { client } of engines.slice(1))
      await ensureTestImage(client, join(root, '.cache', 'test-image'));
    log(`creating ${COUNT} containers over ${ENGINES} engines, 10 at a time`);
    for (let i = 0; i < COUNT; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, COUNT - i) }, async (_, j) => {
          const { client } = engines[(i + j) % ENGINES] as (typeof engines)[number];
          const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
            body: { Image: image, Cmd: ['sleep', '86400'], HostConfig: { NetworkMode: 'none' } },
          });
          await client.json('POST', `/containers/${Id}/start`);
        }),
      );
    }
    const config = join(work, 'monitor.yaml');
    writeFileSync(
      config,
      `version: 1\nengines:\n${engines.map((e) => `  - { name: ${e.name}, url: "${e.engine.host}" }`).join('\n')}\ninterval: 10s\n`,
    );
    const start = async (name: string, port: number, store: string[]): Promise<ChildProcess> => {
      const child = startDetached(process.execPath, [
        MAIN,
        'monitor',
        '--config',
        config,
        '--data',
        join(work, name),
        '--listen',
        `http://127.0.0.1:${port}`,
        '--log-level',
        'warn',
        ...store,
      ]);
      processes.push(child);
      await waitForPort(port, 60_000);
      return child;
    };
    const sampled = async (url: string): Promise<void> => {
      for (let i = 0; i < 600; i++) {
        const items = await getJson<ContainerItem[]>(`${url}/api/v1/containers?state=running`);
        if (items.length >= COUNT && items.every((c) => c.memoryBytes !== null)) return;
        await sleep(500);
      }
      throw new Error(`${url}: not every container sampled within 5 minutes`);
    };

    // The baseline: one monitor, SQLite, every engine.
    const single = await start('single', 24500, []);
    await sampled('http://127.0.0.1:24500');
    const [singleCpu = 0] = await cpuGroups([() => [single.pid as number]], WINDOW_S);
    const singleRss = treeRss(single.pid as number) / 1048576;
    log(`one monitor on SQLite: ${singleCpu.toFixed(2)} % CPU, ${singleRss.toFixed(0)} MB`);
    await stop(single);

    // Three monitors on PostgreSQL.
    const url = pg.database('bench');
    const ports = [24510, 24511, 24512];
    const monitors: ChildProcess[] = [];
    for (const [i, port] of ports.entries()) monitors.push(await start(`m${i}`, port, ['--store', url]));
    const token = execFileSync(
      process.execPath,
      [MAIN, 'monitor', 'token', 'add', 'bench', '--role', 'admin', '--store', url],
      { encoding: 'utf8' },
    ).trim();
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    let view: Cluster | undefined;
    for (let i = 0; i < 120; i++) {
      view = await getJson<Cluster>(`${urls[0]}/api/v1/cluster`, token);
      if (view.instances.length === 3 && view.leases.every((l) => l.owner !== null)) {
        const split = view.instances.map((x) => x.engines.length).sort();
        if (Math.max(...split) <= 2) break;
      }
      await sleep(500);
    }
    const split = view?.instances.map((x) => x.engines.length) ?? [];
    log(`engines split ${split.join('/')}`);
    for (const u of urls) await sampled(u);
    const pgPids = (): number[] =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .map(Number)
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('postgres');
          } catch {
            return false;
          }
        });
    const psql = (query: string): string =>
      execFileSync(
        '/usr/lib/postgresql/15/bin/psql',
        [
          '-h',
          pg.socketDir,
          '-p',
          String(pg.port),
          '-U',
          'postgres',
          '-d',
          'bench',
          '-tAF',
          '\t',
          '-c',
          query,
        ],
        { encoding: 'utf8' },
      ).trim();
    const dbSize = (): number => Number(psql("SELECT pg_database_size('bench')"));
    const windowStart = Date.now();
    const sizeBefore = dbSize();
    const cpus = await cpuGroups([...monitors.map((m) => () => [m.pid as number]), pgPids], WINDOW_S);
    const sizeAfter = dbSize();
    const rss = monitors.map((m) => treeRss(m.pid as number) / 1048576);
    // The raw tier's daily partition: rows written in the window, its heap and each index.
    const today = `samples_raw_${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
    const rawRows = Number(psql(`SELECT count(*) FROM samples WHERE tier = 0 AND t >= ${windowStart}`));
    const heap = Number(psql(`SELECT pg_relation_size('${today}')`));
    const partitionRows = Number(psql(`SELECT count(*) FROM ${today}`));
    const indexes = psql(
      `SELECT c.relname, am.amname, pg_relation_size(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = '${today}'::regclass ORDER BY 1`,
    )
      .split('\n')
      .map((line) => line.split('\t'))
      .map(([name, method, bytes]) => ({ name, method, bytes: Number(bytes) }));
    const growthPerDay = ((sizeAfter - sizeBefore) * 86_400) / WINDOW_S;
    log(
      `monitors ${cpus
        .slice(0, 3)
        .map((c) => c.toFixed(2))
        .join(', ')} % CPU; PostgreSQL ${cpus[3]?.toFixed(2)} %`,
    );

    // Kill → event on a monitor that does not own the engine.
    const owner = view?.leases.find((l) => l.engine === 'e1')?.owner;
    const selfs = await Promise.all(
      urls.map(async (u) => (await getJson<Cluster>(`${u}/api/v1/cluster`, token)).self),
    );
    const follower = urls[selfs.findIndex((s) => s !== owner)] as string;
    const { fromRequest: latencies, ids: killed } = await killLatency(
      engines[0]?.client as DockerClient,
      image,
      follower,
      KILLS,
      { keep: true },
    );
    log(
      `kill → SSE on a non-owner: p50 ${median(latencies).toFixed(0)} ms, p95 ${p95(latencies).toFixed(0)} ms`,
    );

    // Takeover: SIGKILL the monitor owning the most engines; kills during the gap.
    const counts = selfs.map((s) => view?.leases.filter((l) => l.owner === s).length ?? 0);
    const victim = counts.indexOf(Math.max(...counts));
    const survivor = urls[(victim + 1) % 3] as string;
    const killedAt = performance.now();
    monitors[victim]?.kill('SIGKILL');
    let takeover = Number.NaN;
    for (let i = 0; i < 600; i++) {
      const now = await getJson<Cluster>(`${survivor}/api/v1/cluster`, token);
      if (
        now.instances.length === 2 &&
        now.leases.every((l) => now.instances.some((x) => x.id === l.owner))
      ) {
        takeover = performance.now() - killedAt;
        break;
      }
      await sleep(100);
    }
    log(`takeover after SIGKILL: ${takeover.toFixed(0)} ms`);
    // Each kill is in the timeline exactly once.
    let lost = 0;
    let twice = 0;
    for (const id of killed) {
      const item = await getJson<{ timeline?: TimelineEntry[] }>(`${survivor}/api/v1/containers/e1/${id}`);
      const dies = (item.timeline ?? []).filter((t) => t.action === 'die').length;
      if (dies === 0) lost++;
      if (dies > 1) twice++;
    }
    const date = new Date().toISOString().slice(0, 10);
    const report = `# Several monitors on PostgreSQL — ${date}

\`node --import tsx bench/cluster-bench.ts --containers ${COUNT} --window ${WINDOW_S}\` on this machine
(2 cores): ${ENGINES} private dockerds, **${COUNT} running containers** (busybox \`sleep\`, network
none) spread evenly — as many as this machine holds comfortably beside five dockerds and three
monitors; stats every 10 s; PostgreSQL 15 (Debian's, a private cluster on a unix socket, fsync
off: a test cluster). CPU is % of one core over a ${WINDOW_S} s window.

| | CPU | RSS |
| --- | ---: | ---: |
| one monitor, SQLite, all ${ENGINES} engines | ${singleCpu.toFixed(2)} % | ${singleRss.toFixed(0)} MB |
${monitors
  .map(
    (_, i) =>
      `| monitor ${i + 1} of 3, PostgreSQL (engines: ${view?.leases.filter((l) => l.owner === selfs[i]).length ?? 0}) | ${cpus[i]?.toFixed(2)} % | ${rss[i]?.toFixed(0)} MB |`,
  )
  .join('\n')}
| PostgreSQL (all its processes) | ${cpus[3]?.toFixed(2)} % | — |

- Engines split ${split.join('/')}. Per-monitor CPU against the single SQLite monitor: ${cpus
      .slice(0, 3)
      .map((c) => `${(c / Math.max(singleCpu, 0.01)).toFixed(2)}×`)
      .join(', ')} (goal: within 1.5× — each watches fewer engines but also follows the others' changes).
- Database growth: ${((sizeAfter - sizeBefore) / 1024).toFixed(0)} KiB in ${WINDOW_S} s → about ${(growthPerDay / 1048576).toFixed(0)} MiB per day at most (raw samples are kept 24 h and dropped by the day partition; the rest of the growth is the container rows rewritten with each stats round for the other monitors — dead tuples autovacuum reclaims).
- Stats partition \`${today}\`: ${(rawRows / WINDOW_S).toFixed(1)} raw samples inserted per second during the window (committed with the rest of each 250 ms batch); ${partitionRows} rows, heap ${(heap / 1024).toFixed(0)} KiB (${(heap / Math.max(partitionRows, 1)).toFixed(0)} B a row); indexes: ${indexes.map((x) => `${x.method} ${(x.bytes / 1024).toFixed(0)} KiB`).join(', ')} — the BRIN index on time stays a few pages however many rows the day holds.
- Kill → \`container\` event on a monitor that does not own the engine (${KILLS} kills): p50 ${median(latencies).toFixed(0)} ms, p95 ${p95(latencies).toFixed(0)} ms (goal: p95 < 500 ms).
- Takeover after SIGKILL of the monitor owning the most engines: ${takeover.toFixed(0)} ms (lease 10 s, renewal every 2 s; goal < 15 s).
- Transitions: of ${KILLS} kills, ${lost} missing and ${twice} recorded twice in the timelines read from the survivor.
`;
    const file = join(root, 'bench', 'results', `cluster-${date}.md`);
    writeFileSync(file, report);
    log(`written ${file}`);
  } finally {
    for (const child of processes) await stop(child).catch(() => {});
    for (const { engine, client } of engines) {
      await client.close();
      await engine.stop();
    }
    pg.stop();
  }
}

await main();
