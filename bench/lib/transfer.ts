import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pack } from 'tar-stream';
import type { DockerClient } from '../../src/client/index.js';
import { run } from './processes.js';

/** Runs a command in a container (detached) and waits for it to finish. */
export async function execIn(client: DockerClient, container: string, cmd: string[]): Promise<void> {
  const { Id } = await client.json<{ Id: string }>('POST', `/containers/${container}/exec`, {
    body: { Cmd: cmd, AttachStdout: false, AttachStderr: false },
  });
  await client.json('POST', `/exec/${Id}/start`, { body: { Detach: true } });
  for (;;) {
    const state = await client.json<{ Running: boolean }>('GET', `/exec/${Id}/json`);
    if (!state.Running) return;
    await sleep(200);
  }
}

/** Writes a tar holding one file of `size` bytes. */
export async function writeTar(file: string, size: number): Promise<void> {
  const { createWriteStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  const tar = pack();
  const out = pipeline(tar, createWriteStream(file));
  const entry = tar.entry({ name: 'upload.bin', size, mode: 0o644 }) as unknown as Writable;
  const block = Buffer.alloc(1024 * 1024, 7);
  for (let written = 0; written < size; written += block.length) {
    if (!entry.write(block)) await once(entry, 'drain');
  }
  entry.end();
  tar.finalize();
  await out;
}

/** MiB/s of one curl transfer. */
export async function curlRate(args: string[], kind: 'download' | 'upload'): Promise<number> {
  const { stdout } = await run('curl', ['-s', '-f', '-w', `%{speed_${kind}}`, ...args], {
    maxBuffer: 1 << 20,
  });
  return Number(stdout.trim().split('\n').at(-1)) / 1048576;
}

/** MiB/s of `docker exec -i CONTAINER cat` fed `bytes` from `file`, all of it echoed back. */
export async function execCatRate(
  host: string,
  container: string,
  file: string,
  bytes: number,
): Promise<number> {
  const started = process.hrtime.bigint();
  const child = spawn('docker', ['exec', '-i', container, 'cat'], {
    env: { ...process.env, DOCKER_HOST: host },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let received = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const input = createReadStream(file);
  input.on('error', () => {});
  child.stdin.on('error', () => {}); // the CLI may fail and close stdin early: reported below
  input.pipe(child.stdin);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  if (code !== 0 || received !== bytes)
    throw new Error(`exit ${code}, ${received} bytes back; ${stderr.trim()}`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return bytes / seconds / 1048576;
}
