import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { optionsFromEnv } from '../../src/cli/env-options.js';
import { grantHint } from '../../src/cli/serve-command.js';
import { loadServeConfig } from '../../src/config/serve-config.js';
import { isDockgateError } from '../../src/errors.js';
import { isLoopback, parseListenAddress } from '../../src/gateway/listen-address.js';
import { tecnativaVariablesSet } from '../../src/policy/tecnativa.js';

/** A command like `serve`, parsed with `argv` under `env`: the options its action saw. */
async function parse(argv: string[], env: Record<string, string>): Promise<Record<string, unknown>> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    let seen: Record<string, unknown> = {};
    const program = new Command().exitOverride();
    const serve = program
      .command('serve')
      .option('--listen <url>', 'repeatable', (v: string, p: string[] | undefined) => [...(p ?? []), v])
      .option('--shutdown-grace <seconds>', 'grace', '10')
      .option('--insecure', 'flag', false)
      .option('--tecnativa-env', 'flag')
      .action((options: Record<string, unknown>) => {
        seen = options;
      });
    optionsFromEnv(serve, 'DOCKGATE_', { lists: { listen: /,/ } });
    await program.parseAsync(['node', 'dockgate', 'serve', ...argv]);
    return seen;
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('DOCKGATE_* environment variables', () => {
  it('set every option; lists split on commas; the command line wins; defaults stay when unset', async () => {
    assert.deepEqual(await parse([], {}), { shutdownGrace: '10', insecure: false });
    const fromEnv = await parse([], {
      DOCKGATE_LISTEN: 'tcp://0.0.0.0:2375, unix:///run/dockgate.sock',
      DOCKGATE_SHUTDOWN_GRACE: '8',
      DOCKGATE_INSECURE: '1',
    });
    assert.deepEqual(fromEnv, {
      listen: ['tcp://0.0.0.0:2375', 'unix:///run/dockgate.sock'],
      shutdownGrace: '8',
      insecure: true,
    });
    const cli = await parse(['--shutdown-grace', '3', '--listen', 'tcp://127.0.0.1:1'], {
      DOCKGATE_SHUTDOWN_GRACE: '8',
      DOCKGATE_LISTEN: 'tcp://0.0.0.0:2375',
    });
    assert.deepEqual([cli.shutdownGrace, cli.listen], ['3', ['tcp://127.0.0.1:1']]);
  });

  it('env_flag_regression: a flag is on only for 1/true/yes/on — DOCKGATE_INSECURE=0 is off, a typo an error', async () => {
    assert.equal((await parse([], { DOCKGATE_INSECURE: '0' })).insecure, false);
    assert.equal((await parse([], { DOCKGATE_INSECURE: 'false' })).insecure, false);
    await assert.rejects(parse([], { DOCKGATE_INSECURE: 'maybe' }), (e) =>
      isDockgateError(e, 'DG_CONFIG_INVALID'),
    );
  });

  it("Tecnativa's variables are recognised; LOG_LEVEL alone does not count", () => {
    assert.equal(tecnativaVariablesSet({ CONTAINERS: '1' }), true);
    assert.equal(tecnativaVariablesSet({ POST: '0' }), true);
    assert.equal(tecnativaVariablesSet({ LOG_LEVEL: 'info', PATH: '/bin' }), false);
    assert.equal(tecnativaVariablesSet({ CONTAINERS: '' }), false);
  });
});

/** Serve options as the CLI passes them, without a listener. */
const base = {
  profile: 'read-only',
  socketMode: '0660',
  shutdownGrace: '10',
  maxHeaderSize: '65536',
  logLevel: 'info',
  insecure: false,
  upstream: 'unix:///nonexistent.sock',
};

describe('fd:// listeners (socket activation)', () => {
  it('parse as the first passed socket or fd N; judged as public for protected mode', () => {
    assert.deepEqual(parseListenAddress('fd://'), { kind: 'fd', url: 'fd://3', fd: 3 });
    assert.deepEqual(parseListenAddress('fd://4'), { kind: 'fd', url: 'fd://4', fd: 4 });
    assert.throws(() => parseListenAddress('fd://2'), /passed sockets start at fd 3/);
    assert.throws(() => parseListenAddress('fd://x'), /fd:\/\/N/);
    assert.equal(isLoopback(parseListenAddress('fd://')), false);
  });

  it('need --workers 1, and protected mode applies to them', () => {
    assert.throws(
      () => loadServeConfig({ ...base, listen: ['fd://'], workers: '2' }),
      /fd:\/\/ \(socket activation\) needs --workers 1/,
    );
    assert.throws(
      () => loadServeConfig({ ...base, listen: ['fd://'], profile: 'manage' }),
      (e) => isDockgateError(e, 'DG_CONFIG_INVALID'),
    );
  });
});

describe('the start hint', () => {
  it('says how to grant more when a public listener is read-only, and nothing on loopback', () => {
    const open = grantHint(loadServeConfig({ ...base, listen: ['tcp://0.0.0.0:2375'] }));
    assert.match(open ?? '', /callers without a token get the read-only profile on tcp:\/\/0\.0\.0\.0:2375/);
    assert.match(open ?? '', /dockgate token add NAME --profile manage/);
    assert.equal(grantHint(loadServeConfig({ ...base, listen: ['tcp://127.0.0.1:2375'] })), undefined);
  });
});
