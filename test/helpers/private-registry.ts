import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { DockerClient } from '../../src/client/index.js';
import { encodeRegistryHeader } from '../../src/client/registry-auth.js';
import { RUN_LABEL, testEngine } from './engine.js';
import { freePort } from './ports.js';
import { tarOf } from './tar.js';
import { waitFor } from './wait.js';

/** A registry of the test's own: Debian's docker-registry (distribution 2.8) on 127.0.0.1. */
export interface PrivateRegistry {
  /** `127.0.0.1:PORT`: what image references name, plain http (dockerd treats loopback as insecure). */
  readonly host: string;
  /** Requests the registry logged, by path (its access log). */
  requests(path?: RegExp): number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * `auth`: htpasswd (bcrypt) with one user, or none (anonymous). The storage is a temporary
 * directory that outlives stop/start (a registry "down" and back), removed by `stop(true)`.
 */
export async function startPrivateRegistry(auth?: {
  readonly username: string;
  readonly password: string;
}): Promise<PrivateRegistry & { remove(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-registry-'));
  const port = await freePort();
  const htpasswd = join(dir, 'htpasswd');
  if (auth !== undefined) writeFileSync(htpasswd, `${auth.username}:${bcrypt.hashSync(auth.password, 5)}\n`);
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: info, accesslog: { disabled: false } }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      auth === undefined ? '' : `auth: { htpasswd: { realm: dockgate-test, path: ${htpasswd} } }`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let output = '';
  const host = `127.0.0.1:${port}`;
  const registry = {
    host,
    requests(path?: RegExp): number {
      // The access log: one `"METHOD /v2/… HTTP/1.1" status` line per request.
      return output
        .split('\n')
        .filter(
          (l) => /"(GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\//.test(l) && (path === undefined || path.test(l)),
        ).length;
    },
    async start(): Promise<void> {
      child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', (b: Buffer) => {
        output += b.toString();
      });
      child.stderr?.on('data', (b: Buffer) => {
        output += b.toString();
      });
      await waitFor(
        async () => {
          try {
            const answer = await fetch(`http://${host}/v2/`);
            return answer.status === 200 || answer.status === 401;
          } catch {
            return false;
          }
        },
        { what: 'the registry listening' },
      );
    },
    async stop(): Promise<void> {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null) return;
      running.kill('SIGTERM');
      await new Promise((resolve) => running.once('exit', resolve));
    },
    async remove(): Promise<void> {
      await registry.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await registry.start();
  return registry;
}

/**
 * Builds `FROM <test image>` plus `lines` (classic builder), tags it `tag` (`host/repo:tag`),
 * pushes it to its registry; the pushed digest.
 */
export async function pushImage(
  client: DockerClient,
  tag: string,
  lines: readonly string[],
  auth?: { username: string; password: string },
): Promise<string> {
  const { image, runId } = testEngine();
  const context = await tarOf({
    Dockerfile: [`FROM ${image}`, ...lines, `LABEL ${RUN_LABEL}=${runId}`, ''].join('\n'),
  });
  await (await client.images.build(context, { t: tag })).done();
  const [repo, name] = [tag.slice(0, tag.lastIndexOf(':')), tag.slice(tag.lastIndexOf(':') + 1)];
  // dockerd wants the header even for an anonymous push.
  const headers = { 'X-Registry-Auth': encodeRegistryHeader({ ...auth, serveraddress: repo.split('/')[0] }) };
  const response = await client.request('POST', `/images/${repo}/push`, {
    query: { tag: name },
    headers,
    stream: true,
  });
  let text = '';
  for await (const chunk of response.body as AsyncIterable<Buffer>) text += chunk.toString();
  assert.doesNotMatch(text, /"error"/, text);
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(text)?.[1];
  assert.ok(digest, text);
  return digest;
}
