/**
 * The test harness: starts the private engine (or uses DOCKGATE_TEST_ENGINE), builds the test
 * image, runs every test file with Node's test runner, and always tears the engine down — on
 * success, failure, Ctrl-C or SIGTERM. A run that was SIGKILLed is cleaned up by the next one.
 *
 *   tsx test/run.ts            unit, integration and conformance tests
 *   tsx test/run.ts --unit     unit tests only (no engine)
 *   tsx test/run.ts FILTER…    only test files whose path contains a FILTER
 *   tsx test/run.ts --store=postgres FILTER…
 *                              every monitor the tests start keeps its store on a private
 *                              PostgreSQL 15 cluster (one database per --data directory)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerClient } from '../src/client/index.js';
import { isDockgateError } from '../src/errors.js';
import { RUN_LABEL } from './helpers/engine.js';
import { type PrivateEngine, startPrivateEngine } from './helpers/private-engine.js';
import { type PrivatePostgres, startPrivatePostgres } from './helpers/private-postgres.js';
import { ensureTestImage } from './helpers/test-image.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((arg) => !arg.startsWith('--'));
const onPostgres = args.includes('--store=postgres');
const groups = unitOnly ? ['unit'] : ['unit', 'integration', 'conformance', 'browser'];

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

const files = groups
  .flatMap((group) => testFiles(join(root, 'test', group)))
  .map((file) => relative(root, file))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)));

let engine: PrivateEngine | undefined;
let postgres: PrivatePostgres | undefined;
let externalHost: string | undefined;
const runId = randomBytes(6).toString('hex');
let stopping: Promise<void> | undefined;
let summary: string | undefined;

async function tearDown(): Promise<void> {
  postgres?.stop();
  if (engine !== undefined) {
    const leftovers = await engine.stop();
    if (leftovers.length > 0) {
      console.error(`private engine left things behind:\n  ${leftovers.join('\n  ')}`);
      process.exitCode = 1;
    } else {
      console.log('private engine stopped: no process, mount or directory left');
    }
  } else if (externalHost !== undefined) {
    await removeRunObjects(externalHost);
  }
}

/** On a shared engine (DOCKGATE_TEST_ENGINE) remove only what this run created. */
async function removeRunObjects(host: string): Promise<void> {
  const client = new DockerClient({ engine: host });
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  try {
    const containers = await client.json<{ Id: string }[]>('GET', '/containers/json', {
      query: { all: 1, filters },
    });
    for (const { Id } of containers)
      await client.json('DELETE', `/containers/${Id}`, { query: { force: 1, v: 1 } });
    await client.json('POST', '/volumes/prune', { query: { filters } });
    await client.json('POST', '/networks/prune', { query: { filters } });
    // Intermediate build images too (all=1), newest first so children go before their parents.
    const images = await client.json<{ Id: string; Created: number }[]>('GET', '/images/json', {
      query: { all: 1, filters },
    });
    images.sort((a, b) => b.Created - a.Created);
    for (const { Id } of images) {
      const removed = await client.request('DELETE', `/images/${Id}`, { query: { force: 1 } });
      removed.body.resume();
    }
  } finally {
    await client.close();
  }
}

function stopOnSignal(signal: NodeJS.Signals): void {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the private engine`);
    stopping ??= tearDown().finally(() => process.exit(130));
  });
}
stopOnSignal('SIGINT');
stopOnSignal('SIGTERM');

async function main(): Promise<number> {
  const env: Record<string, string> = { ...process.env, DOCKGATE_TEST_RUN_ID: runId } as Record<
    string,
    string
  >;
  if (!unitOnly) {
    const external = process.env.DOCKGATE_TEST_ENGINE;
    if (external !== undefined && external !== '') {
      externalHost = external;
      env.DOCKGATE_TEST_DOCKER_HOST = external;
      console.log(
        `using the engine at ${external} (DOCKGATE_TEST_ENGINE); only objects of run ${runId} are removed`,
      );
    } else {
      engine = await startPrivateEngine();
      env.DOCKGATE_TEST_DOCKER_HOST = engine.host;
      env.DOCKGATE_TEST_ENGINE_DIR = engine.dir;
      console.log(`private engine up at ${engine.host}`);
    }
    const client = new DockerClient({ engine: env.DOCKGATE_TEST_DOCKER_HOST });
    try {
      env.DOCKGATE_TEST_IMAGE = await ensureTestImage(client, join(root, '.cache', 'test-image'));
    } finally {
      await client.close();
    }
  }
  if (onPostgres) {
    postgres = await startPrivatePostgres();
    env.DOCKGATE_TEST_STORE = 'postgres';
    env.DOCKGATE_TEST_POSTGRES = postgres.url;
    console.log(`monitors keep their store on PostgreSQL: ${postgres.url}`);
  }
  // spec for people; TAP to a file so the harness can print the plain closing count after teardown.
  const tap = join(mkdtempSync(join(tmpdir(), 'dockgate-tap-')), 'report.tap');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=2',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...files,
    ],
    { cwd: root, env, stdio: 'inherit' },
  );
  const code = await new Promise<number>((resolve) =>
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0))),
  );
  summary = tapSummary(tap);
  return code;
}

/** The `# pass N` / `# fail N` lines of the TAP report, as one closing line. */
function tapSummary(file: string): string | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    const count = (key: string): number => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    rmSync(dirname(file), { recursive: true, force: true });
    return `${count('pass')} passed, ${count('fail') + count('cancelled')} failed, ${count('skipped') + count('todo')} skipped`;
  } catch {
    return undefined;
  }
}

try {
  const code = await main();
  process.exitCode = code;
} catch (error) {
  console.error(isDockgateError(error) ? `dockgate tests: ${error.message}` : error);
  process.exitCode = 1;
} finally {
  if (stopping === undefined) {
    stopping = tearDown();
    await stopping;
  }
  if (summary !== undefined) console.log(summary);
}
