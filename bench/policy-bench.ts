/**
 * `npm run bench:policy`: what access control costs. The same dockgate build, serving the same
 * workloads as the gateway benchmark, with the `full` profile (no checks beyond normalisation),
 * `read-only` (rules, Env redaction of inspect answers) and `deploy` (rules, request bodies read
 * whole and inspected), next to the engine's own listener. Workloads a profile refuses are not run
 * for it. Medians of several rounds, targets interleaved; compare ratios within one run.
 *
 *   node --import tsx bench/policy-bench.ts [--quick]
 */
import { execFileSync, type spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerClient } from '../src/client/index.js';
import { startPrivateEngine } from '../test/helpers/private-engine.js';
import { ensureTestImage } from '../test/helpers/test-image.js';
import { wrk } from './lib/load.js';
import { startDetached, stop, waitForPort } from './lib/processes.js';
import { curlRate, execCatRate, execIn, writeTar } from './lib/transfer.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 2 : 4;
const BULK_BYTES = (quick ? 64 : 256) * 1024 * 1024;
const PORTS = { direct: 24100, full: 24101, 'read-only': 24102, deploy: 24103 } as const;
type Target = keyof typeof PORTS;
const TARGETS = Object.keys(PORTS) as Target[];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(): Promise<void> {
  const engine = await startPrivateEngine({ tcpPort: PORTS.direct });
  const work = mkdtempSync(join(tmpdir(), 'dockgate-policy-bench-'));
  const processes: ReturnType<typeof spawn>[] = [];
  try {
    const client = new DockerClient({ engine: engine.host });
    const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
    const containers: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
        body: {
          Image: image,
          Cmd: ['sleep', '3600'],
          Env: ['SECRET=value', 'MODE=bench'],
          HostConfig: { NetworkMode: 'none' },
        },
      });
      await client.json('POST', `/containers/${Id}/start`);
      containers.push(Id);
    }
    const bulk = containers[0] as string;
    await execIn(client, bulk, ['sh', '-c', `head -c ${BULK_BYTES} /dev/urandom > /tmp/bulk`]);
    const uploadTar = join(work, 'upload.tar');
    await writeTar(uploadTar, BULK_BYTES);
    const stdinFile = join(work, 'stdin.bin');
    execFileSync('sh', ['-c', `head -c ${BULK_BYTES} /dev/urandom > ${stdinFile}`]);
    await client.close();

    for (const profile of ['full', 'read-only', 'deploy'] as const) {
      processes.push(
        startDetached(process.execPath, [
          join(root, 'dist', 'cli', 'main.js'),
          'serve',
          '--profile',
          profile,
          '--tokens',
          join(work, 'no-tokens.json'),
          '--listen',
          `tcp://127.0.0.1:${PORTS[profile]}`,
          '--upstream',
          engine.host,
        ]),
      );
    }
    for (const target of TARGETS) await waitForPort(PORTS[target]);
    const url = (target: Target, path: string): string => `http://127.0.0.1:${PORTS[target]}${path}`;
    const results: Record<string, Partial<Record<Target, number | string>>> = {};

    // An exec-create body: a JSON body `deploy` reads whole and inspects; 201, nothing heavy.
    const script = join(work, 'exec-create.lua');
    writeFileSync(
      script,
      `wrk.method = "POST"\nwrk.body = '{"Cmd":["true"],"AttachStdout":false,"User":"nobody","Env":["A=1"]}'\nwrk.headers["Content-Type"] = "application/json"\n`,
    );
    const inspect = `/v1.41/containers/${containers[1]}/json`;
    const rate: {
      name: string;
      path: string;
      connections: number;
      close?: boolean;
      script?: string;
      targets: Target[];
    }[] = [
      ...[1, 10, 64].map((c) => ({
        name: `/_ping, ${c} conn`,
        path: '/_ping',
        connections: c,
        targets: TARGETS,
      })),
      {
        name: '/containers/json (10 running), 10 conn',
        path: '/v1.41/containers/json',
        connections: 10,
        targets: TARGETS,
      },
      {
        name: 'inspect (read-only: Env redacted), 10 conn',
        path: inspect,
        connections: 10,
        targets: TARGETS,
      },
      {
        name: '/_ping, new connection per request (10 conn)',
        path: '/_ping',
        connections: 10,
        close: true,
        targets: TARGETS,
      },
      {
        name: 'exec create with a JSON body (deploy: inspected), 10 conn',
        path: `/v1.41/containers/${containers[2]}/exec`,
        connections: 10,
        script,
        targets: ['direct', 'full', 'deploy'],
      },
    ];
    for (const workload of rate) {
      const rounds: Partial<Record<Target, number[]>> = {};
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of workload.targets) {
          try {
            const value = await wrk(
              url(target, workload.path),
              workload.connections,
              SECONDS,
              workload.close,
              workload.script,
            );
            rounds[target] = [...(rounds[target] ?? []), value];
          } catch (error) {
            log(`${workload.name} via ${target}: ${(error as Error).message}`);
          }
        }
      }
      const row: Partial<Record<Target, number>> = {};
      for (const target of workload.targets) row[target] = Math.round(median(rounds[target] ?? []));
      results[`${workload.name} [req/s]`] = row;
      log(`${workload.name}: ${JSON.stringify(row)}`);
    }

    const bulkTargets: Target[] = ['direct', 'full', 'deploy'];
    const down: Partial<Record<Target, number>> = {};
    const up: Partial<Record<Target, number>> = {};
    const cat: Partial<Record<Target, number>> = {};
    for (const target of bulkTargets) {
      const d: number[] = [];
      const u: number[] = [];
      const c: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        d.push(
          await curlRate(
            ['-o', '/dev/null', url(target, `/v1.41/containers/${bulk}/archive?path=/tmp/bulk`)],
            'download',
          ),
        );
        u.push(
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
        c.push(await execCatRate(`tcp://127.0.0.1:${PORTS[target]}`, bulk, stdinFile, BULK_BYTES));
      }
      down[target] = Math.round(median(d));
      up[target] = Math.round(median(u));
      cat[target] = Math.round(median(c));
    }
    const mib = BULK_BYTES / 1048576;
    results[`archive GET ${mib} MiB [MiB/s]`] = down;
    results[`archive PUT ${mib} MiB [MiB/s]`] = up;
    results[`exec -i cat, ${mib} MiB stdin→stdout [MiB/s]`] = cat;
    log(`bulk: ${JSON.stringify({ down, up, cat })}`);
    writeReport(results);
  } finally {
    rmSync(work, { recursive: true, force: true });
    for (const child of processes) await stop(child);
    const leftovers = await engine.stop();
    if (leftovers.length > 0) log(`engine leftovers: ${leftovers.join('; ')}`);
  }
}

function writeReport(results: Record<string, Partial<Record<Target, number | string>>>): void {
  const date = new Date().toISOString().slice(0, 10);
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const ratio = (a: number | string | undefined, b: number | string | undefined): string =>
    typeof a === 'number' && typeof b === 'number' && b > 0 ? (a / b).toFixed(2) : '—';
  const lines = [
    `# Policy overhead benchmark, ${date}${quick ? ' (quick)' : ''}`,
    '',
    `Machine: ${execFileSync('nproc').toString().trim()} cores; dockerd ${execFileSync('dockerd', ['--version']).toString().trim()}; node ${process.version}.`,
    `Medians of ${ROUNDS} round(s), targets interleaved; wrk runs ${SECONDS} s each. Load generator, gateways and dockerd share the cores.`,
    "direct = dockerd's own TCP listener. full/read-only/deploy = one dockgate process each with that --profile. — = the profile refuses the workload.",
    '',
    '| workload | direct | full | read-only | deploy | read-only / full | deploy / full | full / direct |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [name, row] of Object.entries(results)) {
    lines.push(
      `| ${name} | ${row.direct ?? '—'} | ${row.full ?? '—'} | ${row['read-only'] ?? '—'} | ${row.deploy ?? '—'} | ` +
        `${ratio(row['read-only'], row.full)} | ${ratio(row.deploy, row.full)} | ${ratio(row.full, row.direct)} |`,
    );
  }
  const name = `policy-${date}${quick ? '-quick' : ''}`;
  writeFileSync(join(dir, `${name}.md`), `${lines.join('\n')}\n`);
  writeFileSync(
    join(dir, `${name}.json`),
    `${JSON.stringify({ date, rounds: ROUNDS, seconds: SECONDS, results }, null, 2)}\n`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
