/**
 * `npm run bench:terminal`: what the monitor's terminal costs (issue 24), on one private engine.
 * Keystroke echo: one byte sent, the same byte back (`stty raw -echo; cat` in a TTY exec), 500
 * times in sequence — straight to the engine with dockgate/client's hijacked TTY session (the
 * wire `docker exec -it` speaks), through the monitor's WebSocket, and through the monitor and a
 * `serve --profile deploy` gateway. Output throughput: 100 MiB of `head -c` from /dev/zero in raw
 * mode, the same three ways. Goals: echo p95 ≤ direct + 5 ms; throughput ≥ 0.8× direct.
 * Results: bench/results/terminal-<date>.md.
 *
 *   node --import tsx bench/terminal-bench.ts [--keys 500] [--mib 100]
 */

import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { addToken } from '../src/auth/tokens.js';
import { DockerClient } from '../src/client/index.js';
import type { Session } from '../src/client/session.js';
import { startPrivateEngine } from '../test/helpers/private-engine.js';
import { ensureTestImage } from '../test/helpers/test-image.js';
import { log, MAIN, numberArg, root, startServe } from './lib/cli.js';
import { startDetached, stop, waitForPort } from './lib/processes.js';

const KEYS = numberArg('--keys', 500);
const MIB = numberArg('--mib', 100);
const RAW_CAT = ['sh', '-c', 'stty raw -echo; cat'];
const FLOOD = (bytes: number): string[] => ['sh', '-c', `stty raw -echo; head -c ${bytes} /dev/zero`];

/** A byte stream both ways, however it is carried. */
interface Pipe {
  write(data: Buffer): void;
  onData(listener: (chunk: Buffer) => void): void;
  ended: Promise<void>;
  close(): void;
}

async function direct(client: DockerClient, container: string, cmd: string[]): Promise<Pipe> {
  const exec = await client.exec.create(container, {
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
    Cmd: cmd,
  });
  const session: Session = await client.exec.start(exec.Id, { tty: true });
  const ended = new Promise<void>((resolve) => session.on('end', resolve));
  return {
    write: (data) => session.write(data),
    onData: (listener) => session.on('data', listener),
    ended,
    close: () => session.destroy(),
  };
}

async function viaMonitor(
  url: string,
  token: string,
  engine: string,
  container: string,
  cmd: string[],
): Promise<Pipe> {
  const ws = new WebSocket(
    `${url.replace(/^http/, 'ws')}/api/v1/containers/${engine}/${container}/exec?cmd=${encodeURIComponent(
      cmd.map((w) => (w.includes(' ') ? `'${w}'` : w)).join(' '),
    )}`,
    { headers: { Authorization: `Bearer ${token}` } },
  );
  const listeners: ((chunk: Buffer) => void)[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (binary) for (const l of listeners) l(data);
      else if ((JSON.parse(data.toString()) as { type: string }).type === 'ready') resolve();
      else if ((JSON.parse(data.toString()) as { type: string }).type === 'error')
        reject(new Error(data.toString()));
    });
    ws.on('error', reject);
  });
  const ended = new Promise<void>((resolve) => ws.on('close', () => resolve()));
  await ready;
  return {
    write: (data) => ws.send(data, { binary: true }),
    onData: (listener) => listeners.push(listener),
    ended,
    close: () => ws.close(),
  };
}

/** Sends one byte, waits for it back, KEYS times: round trips in ms. */
async function echo(pipe: Pipe): Promise<number[]> {
  let waiting: ((b: Buffer) => void) | undefined;
  pipe.onData((chunk) => waiting?.(chunk));
  // Raw mode takes a moment to be set: the first byte back says cat is reading.
  for (;;) {
    const back = new Promise<Buffer>((resolve) => {
      waiting = resolve;
    });
    pipe.write(Buffer.from('.'));
    const got = await Promise.race([
      back,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 500)),
    ]);
    if (got !== undefined) break;
  }
  await new Promise((r) => setTimeout(r, 200));
  const times: number[] = [];
  for (let i = 0; i < KEYS; i++) {
    const key = Buffer.from([0x61 + (i % 26)]);
    const back = new Promise<Buffer>((resolve) => {
      waiting = resolve;
    });
    const started = performance.now();
    pipe.write(key);
    await back;
    times.push(performance.now() - started);
  }
  pipe.close();
  return times;
}

/** Reads everything the flood writes: MiB/s. */
async function throughput(pipe: Pipe, bytes: number): Promise<number> {
  let got = 0;
  const started = performance.now();
  const done = new Promise<void>((resolve) =>
    pipe.onData((chunk) => {
      got += chunk.length;
      if (got >= bytes) resolve();
    }),
  );
  await Promise.race([done, pipe.ended]);
  const seconds = (performance.now() - started) / 1000;
  pipe.close();
  if (got < bytes) throw new Error(`only ${got} of ${bytes} bytes arrived`);
  return bytes / 1048576 / seconds;
}

const pct = (values: number[], p: number): number =>
  [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil(values.length * p) - 1)] ?? Number.NaN;

async function monitorToken(data: string): Promise<string> {
  return execFileSync(process.execPath, [
    MAIN,
    'monitor',
    'token',
    'add',
    'bench',
    '--role',
    'admin',
    '--data',
    data,
  ])
    .toString()
    .trim();
}

async function main(): Promise<void> {
  const engine = await startPrivateEngine();
  const work = mkdtempSync(join(tmpdir(), 'dockgate-terminal-bench-'));
  const client = new DockerClient({ engine: engine.host });
  const processes: ChildProcess[] = [];
  const rows: { path: string; p50: number; p95: number; mibs: number }[] = [];
  try {
    const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
    const { Id: box } = await client.json<{ Id: string }>('POST', '/containers/create', {
      body: { Image: image, Cmd: ['sleep', '86400'], HostConfig: { NetworkMode: 'none' } },
    });
    await client.json('POST', `/containers/${box}/start`);
    const tokens = join(work, 'tokens.json');
    const gatewayToken = addToken(tokens, 'monitor', 'deploy');
    const gatewayPort = 23750 + Math.floor(Math.random() * 1000);
    processes.push(await startServe(gatewayPort, engine.host, tokens));
    const config = join(work, 'monitor.yaml');
    writeFileSync(
      config,
      `version: 1\nengines:\n  - name: direct\n    url: ${engine.host}\n  - name: gateway\n    url: tcp://127.0.0.1:${gatewayPort}\n    token: ${gatewayToken}\n`,
    );
    const data = join(work, 'data');
    const token = await monitorToken(data);
    const monitorPort = gatewayPort + 1;
    processes.push(
      startDetached(process.execPath, [
        MAIN,
        'monitor',
        '--config',
        config,
        '--data',
        data,
        '--listen',
        `http://127.0.0.1:${monitorPort}`,
        '--terminal-record',
        'all',
        '--log-level',
        'warn',
      ]),
    );
    await waitForPort(monitorPort, 30_000);
    const url = `http://127.0.0.1:${monitorPort}`;
    await new Promise((r) => setTimeout(r, 2000)); // both engines watched
    const paths: [string, (cmd: string[]) => Promise<Pipe>][] = [
      ['direct (dockgate/client TTY exec, the wire of docker exec -it)', (cmd) => direct(client, box, cmd)],
      ['through the monitor (WebSocket)', (cmd) => viaMonitor(url, token, 'direct', box, cmd)],
      ['through the monitor and a deploy gateway', (cmd) => viaMonitor(url, token, 'gateway', box, cmd)],
    ];
    for (const [path, open] of paths) {
      log(`${path}: ${KEYS} keystrokes`);
      const times = await echo(await open(RAW_CAT));
      log(`${path}: ${MIB} MiB out`);
      const mibs = await throughput(await open(FLOOD(MIB * 1048576)), MIB * 1048576);
      rows.push({ path, p50: pct(times, 0.5), p95: pct(times, 0.95), mibs });
      log(
        `${path}: echo p50 ${pct(times, 0.5).toFixed(2)} ms, p95 ${pct(times, 0.95).toFixed(2)} ms; ${mibs.toFixed(0)} MiB/s`,
      );
    }
  } finally {
    for (const p of processes) await stop(p);
    await client.close();
    await engine.stop();
  }
  const base = rows[0];
  const date = new Date().toISOString().slice(0, 10);
  const table = rows
    .map(
      (r) =>
        `| ${r.path} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${base === undefined ? '' : `+${(r.p95 - base.p95).toFixed(2)}`} | ${r.mibs.toFixed(0)} | ${base === undefined ? '' : (r.mibs / base.mibs).toFixed(2)} |`,
    )
    .join('\n');
  const text = `# Terminal benchmark, ${date}

\`npm run bench:terminal\` (bench/terminal-bench.ts): one private engine (dockerd 20.10), a busybox
container; ${KEYS} keystrokes one at a time (a byte to \`stty raw -echo; cat\` in a TTY exec and the
same byte back), then ${MIB} MiB of \`head -c\` from /dev/zero in raw mode. The monitor from dist/,
recording everything (\`--terminal-record all\`). Two cores, shared: compare the rows of one run.

| path | echo p50 (ms) | echo p95 (ms) | p95 − direct | MiB/s | × direct |
| --- | --- | --- | --- | --- | --- |
${table}

Goals (issue 24): echo p95 ≤ direct + 5 ms; throughput ≥ 0.8× direct.
`;
  const file = join(root, 'bench', 'results', `terminal-${date}.md`);
  writeFileSync(file, text);
  process.stdout.write(text);
  log(`written to ${file}`);
}

await main();
