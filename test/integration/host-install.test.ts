import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { addToken } from '../../src/auth/tokens.js';
import { dockerClis, runCli } from '../helpers/docker-cli.js';
import { collectOutput } from '../helpers/dockgate-process.js';
import { testEngine } from '../helpers/engine.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

/**
 * dockgate on a host without containers (issue 15): the packed tarball installed and run,
 * socket activation through systemd's own launcher, the systemd units, `doctor`, completion in
 * real shells. Everything runs the built dist/ (what the tarball ships).
 */
const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const main = join(root, 'dist', 'cli', 'main.js');
const engine = testEngine();
const socket = engine.host.replace(/^unix:\/\//, '');

/**
 * The packed tarball installed once per file in a 0755 temporary directory, as a user installs
 * it. Tests that run dockgate as another user run this copy: the checkout may sit where other
 * users cannot even traverse (a `mktemp -d` directory, root's 0700 home — issue 21).
 */
let installing: Promise<{ tarball: string; app: string; main: string }> | undefined;
function installed(): Promise<{ tarball: string; app: string; main: string }> {
  installing ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-pack-'));
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root });
    const tarball = join(dir, packed.stdout.trim().split('\n').pop() as string);
    const app = mkdtempSync(join(tmpdir(), 'dockgate-install-'));
    chmodSync(app, 0o755);
    writeFileSync(join(app, 'package.json'), '{ "name": "try-dockgate", "private": true }');
    // From npm's cache (filled by npm ci): the install takes what package.json asks, as a user's would.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: app,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { tarball, app, main: join(app, 'node_modules', 'dockgate', 'dist', 'cli', 'main.js') };
  })();
  return installing;
}

/** `dockgate ARGS` from dist/, as `uid` when given; never throws: its code and output. */
async function dockgate(
  args: string[],
  options: { uid?: number; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Another user runs the installed copy (readable by all), never the checkout's dist/.
  const script = options.uid === undefined ? main : (await installed()).main;
  const child = spawn(process.execPath, [script, ...args], {
    cwd: tmpdir(),
    env: { ...process.env, ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
  const output = collectOutput(child);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout: output.stdout(), stderr: output.stderr() };
}

describe('npm pack → install → run', () => {
  it('the packed tarball installs in an empty directory; npx dockgate version reaches the engine; the bin serves', async () => {
    const { tarball, app } = await installed();
    const files = (await run('tar', ['-tzf', tarball])).stdout.split('\n');
    assert.ok(files.includes('package/dist/cli/main.js'));
    assert.ok(files.includes('package/dist/web/index.html'), 'the dashboard is in the package');
    assert.ok(
      !files.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/')),
      'no tests or sources',
    );
    const version = await run('npx', ['--no-install', 'dockgate', 'version'], {
      cwd: app,
      env: { ...process.env, DOCKER_HOST: engine.host },
    });
    assert.match(version.stdout, /^dockgate \d+\.\d+\.\d+\nengine {3}unix:\/\/.*: Docker .*, API 1\.\d+/);
    // The installed bin serves, and its native modules load (the monitor's SQLite and argon2).
    const port = await freePort();
    const serve = spawn(
      join(app, 'node_modules', '.bin', 'dockgate'),
      ['serve', '--listen', `tcp://127.0.0.1:${port}`, '--upstream', engine.host],
      { cwd: app },
    );
    const output = collectOutput(serve);
    try {
      await waitFor(() => output.stderr().includes('listening on'), {
        what: 'the installed gateway listening',
      });
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/_ping`)).text(), 'OK');
    } finally {
      serve.kill('SIGTERM');
      await once(serve, 'exit');
    }
    const user = spawn(
      join(app, 'node_modules', '.bin', 'dockgate'),
      [
        'monitor',
        'user',
        'add',
        'alice',
        '--role',
        'viewer',
        '--password-stdin',
        '--data',
        join(app, 'data'),
      ],
      { cwd: app },
    );
    const userOutput = collectOutput(user);
    user.stdin.end('correct horse battery\n');
    const [code] = (await once(user, 'exit')) as [number];
    assert.equal(code, 0, userOutput.stderr());
  });
});

describe('socket activation', () => {
  it('systemd-socket-activate passes a listening socket; serve --listen fd:// answers the docker CLI on it', async () => {
    const port = await freePort();
    const launcher = spawn(
      'systemd-socket-activate',
      [
        '-l',
        `127.0.0.1:${port}`,
        process.execPath,
        main,
        'serve',
        '--listen',
        'fd://',
        '--upstream',
        engine.host,
      ],
      {
        cwd: tmpdir(),
      },
    );
    const output = collectOutput(launcher);
    try {
      await waitFor(() => output.stderr().includes(`Listening on 127.0.0.1:${port}`), {
        what: 'the launcher listening',
      });
      // The first connection starts dockgate (as systemd does), which takes the socket over.
      const cli = dockerClis()[0];
      assert.ok(cli !== undefined);
      const version = await runCli(cli, `tcp://127.0.0.1:${port}`, [
        'version',
        '--format',
        '{{.Server.APIVersion}}',
      ]);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout.trim(), /^1\.\d+$/);
      assert.match(output.stderr(), new RegExp(`listening on fd://3 \\(tcp://127\\.0\\.0\\.1:${port}\\)`));
    } finally {
      launcher.kill('SIGTERM');
      await once(launcher, 'exit');
    }
  });

  it('fd:// without a passed socket fails with a clear message, not a hang', async () => {
    const result = await dockgate(['serve', '--listen', 'fd://', '--upstream', engine.host], {
      env: { LISTEN_FDS: '' },
    });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /fd:\/\/3: no such socket was passed \(LISTEN_FDS=unset\); fd:\/\/ is for systemd socket activation/,
    );
  });

  it('the systemd units pass systemd-analyze verify (ExecStart pointed at this build)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-units-'));
    for (const unit of readdirSync(join(root, 'examples', 'systemd')).filter((f) =>
      /\.(service|socket)$/.test(f),
    )) {
      const text = readFileSync(join(root, 'examples', 'systemd', unit), 'utf8');
      if (unit.endsWith('.socket')) assert.match(text, /^ListenStream=127\.0\.0\.1:2375$/m);
      else
        for (const line of [
          'User=dockgate',
          'SupplementaryGroups=docker',
          'NoNewPrivileges=true',
          'ProtectSystem=strict',
        ])
          assert.match(text, new RegExp(`^${line}$`, 'm'), `${unit}: ${line}`);
      writeFileSync(join(dir, unit), text.replaceAll('/usr/bin/dockgate', `${process.execPath} ${main}`));
    }
    const verified = await run('systemd-analyze', ['verify', ...readdirSync(dir).map((f) => join(dir, f))], {
      cwd: dir,
    }).catch((error: { stderr: string; code: number }) => ({
      stdout: '',
      stderr: error.stderr,
      code: error.code,
    }));
    assert.equal('code' in verified ? verified.code : 0, 0, verified.stderr);
    assert.equal(verified.stderr.trim(), '', verified.stderr);
  });
});

describe('dockgate doctor', () => {
  it('all good: the socket, the engine and its API version, the listeners', async () => {
    const result = await dockgate([
      'doctor',
      '--upstream',
      engine.host,
      '--tokens',
      join(mkdtempSync(join(tmpdir(), 'dg-')), 'tokens.json'),
    ]);
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /^ok {4}socket: .* is usable by root/m);
    assert.match(result.stdout, /^ok {4}engine: unix:\/\/.* answers: Docker .*, API 1\.\d+/m);
    assert.match(
      result.stdout,
      /^ok {4}listener: tcp:\/\/127\.0\.0\.1:2375: this host only, callers without a token get read-only$/m,
    );
    assert.match(result.stdout, /^no errors$/m);
  });

  it('a user outside the socket group, a listener protected mode refuses, a shared token file: each an error with its fix; exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-doctor-'));
    const tokens = join(dir, 'tokens.json');
    addToken(tokens, 'ci', 'deploy');
    chmodSync(tokens, 0o644);
    chmodSync(dir, 0o755);
    const { gid } = statSync(socket);
    // The private engine's directory is closed to other users: opened for the walk to the socket
    // (the socket itself stays root's and its group's, 0660).
    const engineDir = dirname(socket);
    const engineDirMode = statSync(engineDir).mode & 0o777;
    chmodSync(engineDir, engineDirMode | 0o001);
    const nobody = await dockgate(
      [
        'doctor',
        '--upstream',
        engine.host,
        '--listen',
        'tcp://0.0.0.0:2375',
        '--profile',
        'deploy',
        '--tokens',
        tokens,
      ],
      { uid: 65534 },
    );
    chmodSync(engineDir, engineDirMode);
    assert.equal(nobody.code, 1, nobody.stdout);
    const errors = nobody.stdout.split('\n').filter((l) => l.startsWith('error'));
    assert.match(
      errors.join('\n'),
      /error config: listener tcp:\/\/0\.0\.0\.0:2375 would give anyone who can reach it the "deploy" profile/,
    );
    assert.match(
      errors.join('\n'),
      new RegExp(
        `error socket: ${socket.replace(/[.]/g, '\\.')} \\(uid 0, gid ${gid}, mode 0660\\) is not usable by nobody \\(uid 65534\\) → add nobody to the socket's group: sudo usermod -aG \\S+ nobody \\(then log in again\\); in a container: --group-add ${gid}`,
      ),
    );
    assert.match(
      errors.join('\n'),
      new RegExp(
        `error tokens: ${tokens.replace(/[.]/g, '\\.')} is readable or writable by others \\(mode 0644\\) → chmod 600`,
      ),
    );
    assert.match(nobody.stdout, /^3 errors: dockgate serve would fail or be unsafe$/m);
  });
});

describe('shell completion', () => {
  it('bash: completes commands, subcommands and options by walking the typed words', async () => {
    const script = (await dockgate(['completion', 'bash'])).stdout;
    const file = join(mkdtempSync(join(tmpdir(), 'dg-')), 'dockgate.bash');
    writeFileSync(file, script);
    const complete = async (...words: string[]): Promise<string> =>
      (
        await run('bash', [
          '-c',
          `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _dockgate; echo "\${COMPREPLY[*]}"`,
        ])
      ).stdout.trim();
    assert.equal(await complete('dockgate', 'mon'), 'monitor');
    assert.equal(await complete('dockgate', 'monitor', '--data', '/x', 'user', ''), 'add list remove');
    assert.equal(await complete('dockgate', 'serve', '--tecn'), '--tecnativa-env');
    assert.equal(await complete('dockgate', 'completion', ''), '');
  });

  it('zsh (through bashcompinit) and fish: the scripts load and complete in those shells', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-'));
    writeFileSync(join(dir, 'dockgate.zsh'), (await dockgate(['completion', 'zsh'])).stdout);
    writeFileSync(join(dir, 'dockgate.fish'), (await dockgate(['completion', 'fish'])).stdout);
    // zsh runs bash functions with KSH_ARRAYS (as bashcompinit does) and filters by prefix itself.
    const zsh = await run(
      'zsh',
      [
        '-c',
        `source ${dir}/dockgate.zsh; setopt ksharrays; COMP_WORDS=(dockgate monitor ''); COMP_CWORD=2; _dockgate; echo "\${COMPREPLY[*]}"`,
      ],
      { env: { ...process.env, HOME: dir } },
    );
    assert.equal(zsh.stdout.trim(), 'notify migrate token user');
    const fish = await run(
      'fish',
      ['-c', `source ${dir}/dockgate.fish; complete -C 'dockgate monitor token '`],
      { env: { ...process.env, HOME: dir } },
    );
    assert.deepEqual(
      fish.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[0]),
      ['add', 'list', 'revoke'],
    );
    assert.equal((await dockgate(['completion', 'tcsh'])).code, 2);
  });
});
