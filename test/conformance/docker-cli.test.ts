/**
 * The real docker CLIs (the 28.x on PATH and Debian's 20.10) through the gateway, each operation
 * compared with the same operation straight to the engine. Each scenario returns a normalised
 * result (no ids or timestamps); the two must be equal, and `expect` checks the result is the
 * right one, so that "equally broken both ways" fails too.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CliResult, type DockerCli, dockerClis, runCli } from '../helpers/docker-cli.js';
import { RUN_LABEL, testEngine } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

interface Ctx {
  readonly docker: (
    args: string[],
    options?: { input?: string | Buffer; timeoutMs?: number },
  ) => Promise<CliResult>;
  /** A unique object name for this scenario run. */
  readonly name: (what: string) => string;
  /** `--label dockgate.test.run=… --network none` for run/create. */
  readonly runFlags: string[];
  readonly image: string;
  readonly dir: string;
  readonly cli: DockerCli;
  readonly host: string;
}

interface Scenario {
  readonly name: string;
  readonly run: (ctx: Ctx) => Promise<unknown>;
  readonly expect: (result: never) => void;
}

const scenario = <T>(name: string, run: (ctx: Ctx) => Promise<T>, expect: (result: T) => void): Scenario => ({
  name,
  run,
  expect: expect as (result: never) => void,
});

const out = (result: CliResult): { code: number; stdout: string; stderr: string } => ({
  code: result.code,
  stdout: result.stdout,
  stderr: result.stderr.replace(/WARNING: IPv4 forwarding is disabled\. Networking will not work\.\n/g, ''),
});

/** Starts a long-running container for a scenario; removed by `cleanup`. */
async function sleeper(ctx: Ctx, what: string): Promise<string> {
  const name = ctx.name(what);
  const started = await ctx.docker(['run', '-d', '--name', name, ...ctx.runFlags, ctx.image, 'sleep', '300']);
  assert.equal(started.code, 0, started.stderr);
  return name;
}

async function cleanup(ctx: Ctx, ...names: string[]): Promise<void> {
  await ctx.docker(['rm', '-f', ...names]);
}

const scenarios: Scenario[] = [
  scenario(
    'run: stdout, stderr and exit code',
    async (ctx) =>
      out(
        await ctx.docker([
          'run',
          '--rm',
          ...ctx.runFlags,
          ctx.image,
          'sh',
          '-c',
          'echo out; echo err >&2; exit 3',
        ]),
      ),
    (r) => assert.deepEqual(r, { code: 3, stdout: 'out\n', stderr: 'err\n' }),
  ),
  scenario(
    'run -i: stdin in, output out',
    async (ctx) =>
      out(
        await ctx.docker(['run', '--rm', '-i', ...ctx.runFlags, ctx.image, 'sh', '-c', 'cat; echo done'], {
          input: 'hello\n',
        }),
      ),
    (r) => assert.deepEqual(r, { code: 0, stdout: 'hello\ndone\n', stderr: '' }),
  ),
  scenario(
    'run without -i: output a second after start is not lost',
    async (ctx) =>
      out(await ctx.docker(['run', '--rm', ...ctx.runFlags, ctx.image, 'sh', '-c', 'sleep 1; echo late'])),
    (r) => assert.deepEqual(r, { code: 0, stdout: 'late\n', stderr: '' }),
  ),
  scenario(
    'run -t: a TTY',
    async (ctx) =>
      out(await ctx.docker(['run', '--rm', '-t', ...ctx.runFlags, ctx.image, 'sh', '-c', 'tty; exit 2'])),
    (r) => assert.deepEqual(r, { code: 2, stdout: '/dev/pts/0\r\n', stderr: '' }),
  ),
  scenario(
    'run -it under a pseudo-terminal',
    async (ctx) => {
      const command = `${ctx.cli.path} run --rm -it ${ctx.runFlags.join(' ')} ${ctx.image} sh -c 'echo in-tty; exit 7'`;
      const result = await new Promise<CliResult>((resolve) => {
        const child = spawn('script', ['-qec', command, '/dev/null'], {
          env: { ...process.env, DOCKER_HOST: ctx.host },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
        });
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: '' }));
      });
      return { code: result.code, sawOutput: result.stdout.includes('in-tty') };
    },
    (r) => assert.deepEqual(r, { code: 7, sawOutput: true }),
  ),
  scenario(
    'exec: stdout and stderr kept apart, exit code',
    async (ctx) => {
      const name = await sleeper(ctx, 'exec');
      try {
        return out(await ctx.docker(['exec', name, 'sh', '-c', 'echo o; echo e >&2; exit 5']));
      } finally {
        await cleanup(ctx, name);
      }
    },
    (r) => assert.deepEqual(r, { code: 5, stdout: 'o\n', stderr: 'e\n' }),
  ),
  scenario(
    'exec without -i: output seconds after the CLI closed stdin',
    async (ctx) => {
      const name = await sleeper(ctx, 'exec-late');
      try {
        return out(await ctx.docker(['exec', name, 'sh', '-c', 'sleep 2; echo after-close']));
      } finally {
        await cleanup(ctx, name);
      }
    },
    (r) => assert.deepEqual(r, { code: 0, stdout: 'after-close\n', stderr: '' }),
  ),
  scenario(
    'exec -i: large stdin (8 MiB), and output after stdin ended',
    async (ctx) => {
      const name = await sleeper(ctx, 'exec-i');
      try {
        const input = randomBytes(8 * 1024 * 1024);
        const counted = out(
          await ctx.docker(['exec', '-i', name, 'sh', '-c', 'wc -c; sleep 1; echo after-eof'], { input }),
        );
        return counted;
      } finally {
        await cleanup(ctx, name);
      }
    },
    (r) => assert.deepEqual(r, { code: 0, stdout: '8388608\nafter-eof\n', stderr: '' }),
  ),
  scenario(
    'exec -t: a TTY',
    async (ctx) => {
      const name = await sleeper(ctx, 'exec-t');
      try {
        return out(await ctx.docker(['exec', '-t', name, 'tty']));
      } finally {
        await cleanup(ctx, name);
      }
    },
    (r) => assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n$/),
  ),
  scenario(
    'attach: follows a running container to its exit code',
    async (ctx) => {
      const name = ctx.name('attach');
      await ctx.docker([
        'run',
        '-d',
        '--name',
        name,
        ...ctx.runFlags,
        ctx.image,
        'sh',
        '-c',
        'sleep 1; for i in 1 2 3; do echo a$i; sleep 0.2; done; exit 9',
      ]);
      try {
        return out(await ctx.docker(['attach', '--no-stdin', name]));
      } finally {
        await cleanup(ctx, name);
      }
    },
    (r) => assert.deepEqual(r, { code: 9, stdout: 'a1\na2\na3\n', stderr: '' }),
  ),
  scenario(
    'logs and logs -f',
    async (ctx) => {
      const name = ctx.name('logs');
      await ctx.docker([
        'run',
        '-d',
        '--name',
        name,
        ...ctx.runFlags,
        ctx.image,
        'sh',
        '-c',
        'echo first; echo second >&2; sleep 1; echo third',
      ]);
      try {
        const follow = out(await ctx.docker(['logs', '-f', name]));
        const all = out(await ctx.docker(['logs', name]));
        return { follow, all };
      } finally {
        await cleanup(ctx, name);
      }
    },
    (r) => {
      assert.deepEqual(r.follow, { code: 0, stdout: 'first\nthird\n', stderr: 'second\n' });
      assert.deepEqual(r.all, r.follow);
    },
  ),
  scenario(
    'events: since/until and follow',
    async (ctx) => {
      const name = ctx.name('events');
      const since = Math.floor(Date.now() / 1000) - 1;
      // --since: the follower sees the run even when a loaded machine starts it after the run
      // (a fixed sleep before the run could be outrun); it then goes on following.
      const follower = spawn(
        ctx.cli.path,
        ['events', '--since', String(since), '--filter', `container=${name}`, '--format', '{{.Action}}'],
        {
          env: { ...process.env, DOCKER_HOST: ctx.host },
        },
      );
      let followed = '';
      follower.stdout.on('data', (chunk: Buffer) => {
        followed += chunk.toString();
      });
      await ctx.docker(['run', '--rm', '--name', name, ...ctx.runFlags, ctx.image, 'true']);
      await waitFor(() => followed.includes('destroy'), { what: 'the follower saw destroy' }).catch(() => {});
      follower.kill();
      const until = Math.floor(Date.now() / 1000) + 1;
      const replay = await ctx.docker([
        'events',
        '--since',
        String(since),
        '--until',
        String(until),
        '--filter',
        `container=${name}`,
        '--format',
        '{{.Action}}',
      ]);
      const actions = (text: string): string[] =>
        text.split('\n').filter((a) => ['create', 'start', 'die', 'destroy'].includes(a));
      return { followed: actions(followed), replayed: actions(replay.stdout), code: replay.code };
    },
    (r) => {
      assert.deepEqual(r.followed, ['create', 'start', 'die', 'destroy']);
      assert.deepEqual(r.replayed, ['create', 'start', 'die', 'destroy']);
    },
  ),
  scenario(
    'cp both ways with a 40 MiB file',
    async (ctx) => {
      const name = await sleeper(ctx, 'cp');
      try {
        const source = join(ctx.dir, `${name}.bin`);
        const data = randomBytes(40 * 1024 * 1024);
        writeFileSync(source, data);
        const up = await ctx.docker(['cp', source, `${name}:/tmp/big.bin`]);
        const back = join(ctx.dir, `${name}.back`);
        const down = await ctx.docker(['cp', `${name}:/tmp/big.bin`, back]);
        return {
          up: up.code,
          down: down.code,
          same: readFileSync(back).equals(data),
          size: statSync(back).size,
        };
      } finally {
        await cleanup(ctx, name);
      }
    },
    (r) => assert.deepEqual(r, { up: 0, down: 0, same: true, size: 40 * 1024 * 1024 }),
  ),
  scenario(
    'build with a context, then run the image',
    async (ctx) => {
      const context = mkdtempSync(join(ctx.dir, 'context-'));
      writeFileSync(
        join(context, 'Dockerfile'),
        `FROM ${ctx.image}\nLABEL ${RUN_LABEL}=${testEngine().runId}\nCOPY data /data\nRUN wc -c < /data > /size\n`,
      );
      writeFileSync(join(context, 'data'), randomBytes(5 * 1024 * 1024));
      const tag = `${ctx.name('built')}:1`;
      const built = await ctx.docker(
        ['build', '-q', '--label', `${RUN_LABEL}=${testEngine().runId}`, '-t', tag, context],
        { timeoutMs: 120_000 },
      );
      const ran = await ctx.docker(['run', '--rm', ...ctx.runFlags, tag, 'cat', '/size']);
      await ctx.docker(['rmi', tag]);
      return { built: built.code, size: ran.stdout.trim() };
    },
    (r) => assert.deepEqual(r, { built: 0, size: String(5 * 1024 * 1024) }),
  ),
  scenario(
    'commit, save, load and export',
    async (ctx) => {
      const name = await sleeper(ctx, 'commit');
      const tag = `${ctx.name('committed')}:1`;
      try {
        await ctx.docker(['exec', name, 'sh', '-c', 'echo committed > /marker']);
        const committed = await ctx.docker(['commit', name, tag]);
        const archive = join(ctx.dir, `${name}-image.tar`);
        const saved = await ctx.docker(['save', '-o', archive, tag]);
        await ctx.docker(['rmi', tag]);
        const loaded = await ctx.docker(['load', '-i', archive]);
        const marker = await ctx.docker(['run', '--rm', ...ctx.runFlags, tag, 'cat', '/marker']);
        const exported = join(ctx.dir, `${name}-fs.tar`);
        const exportedCode = (await ctx.docker(['export', '-o', exported, name])).code;
        const listing = await new Promise<string>((resolve) => {
          const tar = spawn('tar', ['-tf', exported]);
          let text = '';
          tar.stdout.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          tar.on('close', () => resolve(text));
        });
        return {
          committed: committed.code,
          saved: saved.code,
          loaded: loaded.stdout.includes(`Loaded image: ${tag}`),
          marker: marker.stdout,
          exported: exportedCode,
          hasBusybox: listing.split('\n').includes('bin/busybox'),
          hasMarker: listing.split('\n').includes('marker'),
        };
      } finally {
        await cleanup(ctx, name);
        await ctx.docker(['rmi', tag]);
      }
    },
    (r) =>
      assert.deepEqual(r, {
        committed: 0,
        saved: 0,
        loaded: true,
        marker: 'committed\n',
        exported: 0,
        hasBusybox: true,
        hasMarker: true,
      }),
  ),
  scenario(
    'stats, top and diff',
    async (ctx) => {
      const name = await sleeper(ctx, 'inspect');
      try {
        await ctx.docker(['exec', name, 'touch', '/tmp/new-file']);
        const stats = await ctx.docker(['stats', '--no-stream', '--format', '{{.Name}}', name]);
        const top = await ctx.docker(['top', name]);
        const diff = await ctx.docker(['diff', name]);
        return {
          stats: stats.stdout.trim() === name,
          topHasSleep: /sleep 300/.test(top.stdout),
          diff: diff.stdout.includes('A /tmp/new-file'),
        };
      } finally {
        await cleanup(ctx, name);
      }
    },
    (r) => assert.deepEqual(r, { stats: true, topHasSleep: true, diff: true }),
  ),
  scenario(
    'pause, unpause, rename, kill, wait and rm',
    async (ctx) => {
      const name = await sleeper(ctx, 'life');
      const renamed = `${name}-renamed`;
      try {
        const state = async (who: string): Promise<string> =>
          (await ctx.docker(['inspect', '--format', '{{.State.Status}}', who])).stdout.trim();
        await ctx.docker(['pause', name]);
        const paused = await state(name);
        await ctx.docker(['unpause', name]);
        const running = await state(name);
        await ctx.docker(['rename', name, renamed]);
        const afterRename = await state(renamed);
        const waiter = ctx.docker(['wait', renamed]);
        await sleep(300);
        await ctx.docker(['kill', renamed]);
        const waited = (await waiter).stdout.trim();
        const killed = await state(renamed);
        const removed = (await ctx.docker(['rm', renamed])).code;
        const gone = (await ctx.docker(['inspect', renamed])).code;
        return { paused, running, afterRename, waited, killed, removed, gone };
      } finally {
        await cleanup(ctx, name, renamed);
      }
    },
    (r) =>
      assert.deepEqual(r, {
        paused: 'paused',
        running: 'running',
        afterRename: 'running',
        waited: '137',
        killed: 'exited',
        removed: 0,
        gone: 1,
      }),
  ),
  scenario(
    'volumes: create, use, inspect, list, remove',
    async (ctx) => {
      const volume = ctx.name('vol');
      const created = await ctx.docker([
        'volume',
        'create',
        '--label',
        `${RUN_LABEL}=${testEngine().runId}`,
        volume,
      ]);
      await ctx.docker([
        'run',
        '--rm',
        ...ctx.runFlags,
        '-v',
        `${volume}:/data`,
        ctx.image,
        'sh',
        '-c',
        'echo kept > /data/f',
      ]);
      const read = await ctx.docker([
        'run',
        '--rm',
        ...ctx.runFlags,
        '-v',
        `${volume}:/data`,
        ctx.image,
        'cat',
        '/data/f',
      ]);
      const driver = await ctx.docker(['volume', 'inspect', '--format', '{{.Driver}}', volume]);
      const listed = await ctx.docker(['volume', 'ls', '-q', '--filter', `name=${volume}`]);
      const removed = await ctx.docker(['volume', 'rm', volume]);
      return {
        created: created.stdout.trim() === volume,
        read: read.stdout,
        driver: driver.stdout.trim(),
        listed: listed.stdout.trim() === volume,
        removed: removed.code,
      };
    },
    (r) => assert.deepEqual(r, { created: true, read: 'kept\n', driver: 'local', listed: true, removed: 0 }),
  ),
];

const clis = dockerClis();

describe('docker CLI conformance through the gateway', () => {
  let gateway: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-cli-'));

  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.stop();
  });

  it('has a docker CLI to test with', () => {
    assert.ok(clis.length > 0, 'no docker CLI found: install docker.io (scripts/test.sh does)');
  });

  for (const cli of clis) {
    describe(`docker ${cli.version}`, () => {
      const context = (host: string, where: string): Ctx => ({
        docker: (args, options = {}) => runCli(cli, host, args, options),
        name: (what) => `dg-${cli.version.split('.')[0]}-${where}-${what}-${randomBytes(3).toString('hex')}`,
        runFlags: ['--label', `${RUN_LABEL}=${testEngine().runId}`, '--network', 'none'],
        image: testEngine().image,
        dir,
        cli,
        host,
      });

      for (const { name, run, expect } of scenarios) {
        it(`${name}: the same through the gateway as direct`, async () => {
          const direct = await run(context(testEngine().host, 'direct'));
          const viaGateway = await run(context(gateway.dockerHost, 'gw'));
          expect(direct as never);
          assert.deepEqual(viaGateway, direct);
        });
      }
    });
  }
});
