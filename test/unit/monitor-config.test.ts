import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/monitor/config/duration.js';
import { loadMonitorConfig } from '../../src/monitor/config/monitor-config.js';

const dir = mkdtempSync(join(tmpdir(), 'dockgate-monitor-config-'));
const env = { DOCKER_HOST: 'unix:///run/test.sock' };

function file(text: string): string {
  const path = join(dir, `m-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe('monitor config', () => {
  it('no flags: the local engine as the client finds it, ./dockgate-data, 127.0.0.1:9400, 10 s, anonymous viewer', () => {
    const config = loadMonitorConfig({}, env);
    assert.deepEqual(
      config.engines.map((e) => [e.name, e.endpoint.url]),
      [['local', 'unix:///run/test.sock']],
    );
    assert.match(config.data, /dockgate-data$/);
    assert.equal(config.listen.url, 'http://127.0.0.1:9400');
    assert.equal(config.intervalMs, 10_000);
    assert.equal(config.anonymousRole, 'viewer');
  });

  it('--engine NAME=URL, repeatable; durations like 2s, 1m', () => {
    const config = loadMonitorConfig(
      { engine: ['a=unix:///a.sock', 'b=tcp://127.0.0.1:2375'], interval: '2s' },
      env,
    );
    assert.deepEqual(
      config.engines.map((e) => e.name),
      ['a', 'b'],
    );
    assert.equal(config.intervalMs, 2000);
    assert.equal(parseDuration('1m', 'x'), 60_000);
    assert.throws(() => parseDuration('10', '--interval'), /--interval: "10" is not a duration/);
  });

  it('the config file: engines with a token from an env var and labels; errors name the key', () => {
    const config = loadMonitorConfig(
      {
        config: file(
          'version: 1\nengines:\n  - name: prod\n    url: tcp://127.0.0.1:2375\n    tokenEnv: PROD_TOKEN\n    labels: { env: prod }\n',
        ),
      },
      { ...env, PROD_TOKEN: 'secret' },
    );
    assert.equal(config.engines[0]?.token, 'secret');
    assert.deepEqual(config.engines[0]?.labels, { env: 'prod' });
    assert.throws(
      () =>
        loadMonitorConfig(
          { config: file('version: 1\nengines:\n  - name: x\n    url: tcp://h:1\n    tokenEnv: NOPE\n') },
          env,
        ),
      /engines.0 \(x\).tokenEnv: NOPE is not set/,
    );
    assert.throws(
      () => loadMonitorConfig({ config: file('version: 1\nenignes: []\n') }, env),
      /Unrecognized key.*enignes/i,
    );
    assert.throws(
      () =>
        loadMonitorConfig(
          { config: file('version: 1\nengines:\n  - name: bad name\n    url: tcp://h:1\n') },
          env,
        ),
      /engines\.0\.name/,
    );
    assert.throws(
      () => loadMonitorConfig({ engine: ['a=unix:///a', 'a=unix:///b'] }, env),
      /"a" is used twice/,
    );
  });

  it('safe by default: plain http off loopback needs --insecure; anonymous callers get nothing there', () => {
    assert.throws(
      () => loadMonitorConfig({ listen: 'http://0.0.0.0:9400' }, env),
      /plain http on a non-loopback address/,
    );
    const insecure = loadMonitorConfig({ listen: 'http://0.0.0.0:9400', insecure: true }, env);
    assert.equal(insecure.anonymousRole, 'viewer');
    assert.throws(
      () => loadMonitorConfig({ listen: 'https://0.0.0.0:9443' }, env),
      /https needs --tls-cert and --tls-key/,
    );
    assert.throws(() => loadMonitorConfig({ listen: 'http://example.com:9400' }, env), /not an IP address/);
    assert.equal(loadMonitorConfig({ anonymousRole: 'none' }, env).anonymousRole, 'none');
    assert.throws(() => loadMonitorConfig({ anonymousRole: 'root' }, env), /--anonymous-role must be one of/);
  });
});
