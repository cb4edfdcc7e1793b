import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockerClient } from '../../src/client/index.js';
import { DockgateError } from '../../src/errors.js';

/** A dockerd of the test run's own: temp data root, exec root, pidfile and unix socket. */
export interface PrivateEngine {
  /** `unix:///…/docker.sock` */
  readonly host: string;
  readonly socketPath: string;
  readonly dir: string;
  readonly logFile: string;
  /** Stops dockerd and its containerd, removes every mount and file; reports anything left. */
  stop(): Promise<string[]>;
}

const DIR_PREFIX = 'dockgate-engine-';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * The flags that keep the private engine off the network: no bridge, no iptables, no forwarding.
 * Containers get network mode none (the default without a bridge) or host.
 */
const ISOLATION_FLAGS = [
  '--bridge=none',
  '--iptables=false',
  '--ip6tables=false',
  '--ip-masq=false',
  '--ip-forward=false',
];

export function findDockerd(path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  return dirs.map((dir) => join(dir, 'dockerd')).find((file) => existsSync(file));
}

/** Fails with one message that says what to install or which variable to set. */
export function assertCanStartEngine(): string {
  const advice =
    'or set DOCKGATE_TEST_ENGINE=unix:///var/run/docker.sock to run the tests against an engine you already have';
  if (process.getuid?.() !== 0) {
    throw new DockgateError(
      'DG_TEST_ENGINE',
      `the integration tests start a private dockerd and must run as root, ${advice}`,
    );
  }
  const dockerd = findDockerd();
  if (dockerd === undefined) {
    throw new DockgateError(
      'DG_TEST_ENGINE',
      `dockerd is not installed: install Debian's docker.io (apt-get install -y docker.io), ${advice}`,
    );
  }
  return dockerd;
}

export interface PrivateEngineOptions {
  /** Also listen on 127.0.0.1:PORT (benchmarks measure the engine's own TCP listener as "direct"). */
  readonly tcpPort?: number;
}

export async function startPrivateEngine(options: PrivateEngineOptions = {}): Promise<PrivateEngine> {
  const dockerd = assertCanStartEngine();
  await reapStaleEngines();
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const socketPath = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const pidFile = join(dir, 'dockerd.pid');
  const log = openSync(logFile, 'a');
  // detached: a Ctrl-C in the terminal reaches the harness, which stops dockerd in order,
  // instead of dockerd and the harness racing each other.
  const child = spawn(
    dockerd,
    [
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'exec')}`,
      `--pidfile=${pidFile}`,
      `--host=unix://${socketPath}`,
      ...(options.tcpPort === undefined ? [] : [`--host=tcp://127.0.0.1:${options.tcpPort}`]),
      ...ISOLATION_FLAGS,
      '--log-level=warn',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  const host = `unix://${socketPath}`;
  const engine: PrivateEngine = {
    host,
    socketPath,
    dir,
    logFile,
    stop: () => stopEngine(child, dir),
  };
  try {
    await waitForPing(host, child, logFile);
  } catch (error) {
    await engine.stop();
    throw error;
  }
  return engine;
}

async function waitForPing(host: string, child: ChildProcess, logFile: string): Promise<void> {
  const client = new DockerClient({ engine: host });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new DockgateError('DG_TEST_ENGINE', `dockerd exited early:\n${tail(logFile)}`);
      }
      try {
        if ((await client.ping(AbortSignal.timeout(2_000))) === 'OK') return;
      } catch {
        // Not up yet.
      }
      await sleep(100);
    }
    throw new DockgateError('DG_TEST_ENGINE', `dockerd did not answer /_ping within 60 s:\n${tail(logFile)}`);
  } finally {
    await client.close();
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

async function stopEngine(child: ChildProcess, dir: string): Promise<string[]> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    // An unref'd timer: a pending timeout must not keep the harness alive once dockerd is gone.
    const stopped = await Promise.race([
      exited.then(() => true),
      sleep(STOP_TIMEOUT_MS, undefined, { ref: false }).then(() => false),
    ]);
    if (!stopped) child.kill('SIGKILL');
  }
  return cleanUpDir(dir);
}

/** Kills whatever still runs from `dir`, unmounts what is mounted under it, removes it. */
async function cleanUpDir(dir: string): Promise<string[]> {
  const leftovers: string[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = processesUsing(dir);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, attempt < 20 ? 'SIGTERM' : 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    await sleep(100);
  }
  for (const pid of processesUsing(dir)) leftovers.push(`process ${pid} still runs from ${dir}`);
  for (const mount of mountsUnder(dir).reverse()) {
    await run('umount', ['-l', mount]);
  }
  for (const mount of mountsUnder(dir)) leftovers.push(`mount ${mount} is still there`);
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  if (existsSync(dir)) leftovers.push(`directory ${dir} could not be removed`);
  return leftovers;
}

/** Processes whose command line names `dir` (dockerd, its containerd, shims). */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(`${dir}/`) || mountPoint === dir);
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', () => resolve(-1));
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

/**
 * Engines left by a run that was killed (SIGKILL, a lost terminal): their owner is gone, so
 * stop them and remove their directories before starting a new one.
 */
export async function reapStaleEngines(): Promise<void> {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(readFileSafe(join(dir, 'owner.pid')));
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    await cleanUpDir(dir);
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
