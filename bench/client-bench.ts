/**
 * `npm run bench:client`: requests per second of `containers.list()` and `ping()` through
 * dockgate/client and through dockerode, on the same private engine (ten running containers),
 * with 1 and 10 calls in flight. Rounds interleaved; medians reported.
 *
 *   node --import tsx bench/client-bench.ts [--quick]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Dockerode from 'dockerode';
import { DockerClient } from '../src/client/index.js';
import { startPrivateEngine } from '../test/helpers/private-engine.js';
import { ensureTestImage } from '../test/helpers/test-image.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const SECONDS = quick ? 1 : 3;

async function rate(call: () => Promise<unknown>, inFlight: number): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        await call();
        done++;
      }
    }),
  );
  return done / SECONDS;
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

const engine = await startPrivateEngine();
try {
  const setup = new DockerClient({ url: engine.host });
  const image = await ensureTestImage(setup, join(root, '.cache', 'test-image'));
  for (let i = 0; i < 10; i++) {
    const { Id } = await setup.containers.create({
      Image: image,
      Cmd: ['sleep', '3600'],
      HostConfig: { NetworkMode: 'none' },
    });
    await setup.containers.start(Id);
  }
  const ours = new DockerClient({ url: engine.host });
  const theirs = new Dockerode({ socketPath: engine.socketPath });
  await ours.engineInfo(); // negotiation is once per client: not part of the measurement
  const workloads: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
    ['containers.list() (10 running)', () => ours.containers.list(), () => theirs.listContainers()],
    ['ping()', () => ours.system.ping(), () => theirs.ping()],
  ];
  const lines = [
    `# Client benchmark, ${new Date().toISOString().slice(0, 10)}${quick ? ' (quick)' : ''}`,
    '',
    `dockgate/client vs dockerode ${JSON.parse(execFileSync('npm', ['ls', 'dockerode', '--json'], { cwd: root }).toString()).dependencies?.dockerode?.version ?? ''} on one private dockerd (${execFileSync('dockerd', ['--version']).toString().trim()}), unix socket; node ${process.version}.`,
    `Medians of ${ROUNDS} rounds of ${SECONDS} s, the two clients interleaved. Calls per second, higher is better.`,
    '',
    '| workload | in flight | dockgate/client | dockerode | ratio |',
    '|---|---|---|---|---|',
  ];
  for (const [name, mine, other] of workloads) {
    for (const inFlight of [1, 10]) {
      const a: number[] = [];
      const b: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        a.push(await rate(mine, inFlight));
        b.push(await rate(other, inFlight));
      }
      const [x, y] = [Math.round(median(a)), Math.round(median(b))];
      lines.push(`| ${name} | ${inFlight} | ${x} | ${y} | ${(x / y).toFixed(2)} |`);
      process.stderr.write(`${name} ×${inFlight}: ours ${x}, dockerode ${y}\n`);
    }
  }
  await ours.close();
  await setup.close();
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `client-${new Date().toISOString().slice(0, 10)}${quick ? '-quick' : ''}.md`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await engine.stop();
}
