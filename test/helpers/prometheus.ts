import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** `promtool ARGS` (Debian's prometheus package), `input` on its stdin. */
export function promtool(args: string[], input?: string): { code: number | null; out: string } {
  const run = spawnSync('promtool', args, { input, encoding: 'utf8' });
  return { code: run.status, out: `${run.stdout ?? ''}${run.stderr ?? ''}` };
}

/** A real server of the test's own on 127.0.0.1 (Prometheus or Alertmanager), stopped by `stop`. */
export interface PromServer {
  readonly url: string;
  /** The cluster port (Alertmanager), when it has one. */
  readonly clusterPort?: number;
  output(): string;
  stop(): Promise<void>;
}

async function serve(binary: string, args: string[], url: string, dir: string): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  Object.assign(child, { output: () => output });
  await waitFor(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`${binary} exited (${child.exitCode}): ${output.slice(-2000)}`);
      try {
        return (await fetch(`${url}/-/ready`)).status === 200;
      } catch {
        return false;
      }
    },
    { what: `${binary} ready`, timeout: 30_000, interval: 100 },
  );
  return child;
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** Prometheus 2.42 (Debian's) with `config` (YAML text) and files written beside it. */
export async function startPrometheus(
  config: string,
  files: Record<string, string> = {},
): Promise<PromServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = await serve(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    url,
    dir,
  );
  return { url, output: (child as unknown as { output(): string }).output, stop: stopper(child, dir) };
}

/**
 * Alertmanager 0.25 (Debian's prometheus-alertmanager) with `config`; `peers`: cluster ports of
 * others to join (a cluster on loopback, gossip settled fast for a test).
 */
export async function startAlertmanager(config: string, peers?: readonly number[]): Promise<PromServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-alertmanager-'));
  writeFileSync(join(dir, 'alertmanager.yml'), config);
  const port = await freePort();
  const clusterPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const cluster =
    peers === undefined
      ? ['--cluster.listen-address=']
      : [
          `--cluster.listen-address=127.0.0.1:${clusterPort}`,
          `--cluster.advertise-address=127.0.0.1:${clusterPort}`,
          ...peers.map((p) => `--cluster.peer=127.0.0.1:${p}`),
          '--cluster.peer-timeout=3s',
          '--cluster.gossip-interval=100ms',
          '--cluster.pushpull-interval=1s',
          '--cluster.settle-timeout=2s',
        ];
  const child = await serve(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...cluster,
    ],
    url,
    dir,
  );
  return {
    url,
    ...(peers === undefined ? {} : { clusterPort }),
    output: (child as unknown as { output(): string }).output,
    stop: stopper(child, dir),
  };
}
