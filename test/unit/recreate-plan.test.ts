import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type OldContainer, planRecreate } from '../../src/monitor/updates/recreate-plan.js';
import { gateVerdict } from '../../src/monitor/updates/update-gate.js';

const ID = `abcdef123456${'0'.repeat(52)}`;
const ANON = 'f'.repeat(64);

function old(
  config: Record<string, unknown>,
  host: Record<string, unknown> = {},
  extra: Partial<OldContainer> = {},
): OldContainer {
  return {
    Id: ID,
    Name: '/web',
    Config: { Hostname: ID.slice(0, 12), Image: 'app:1', ...config },
    HostConfig: { NetworkMode: 'none', ...host },
    State: { Running: true },
    ...extra,
  };
}

describe('recreate plan: the old image defaults out, the user settings in', () => {
  it('Env: the old image entries dropped (the new image applies its own), the user entries kept, a value changed by the image reported', () => {
    const plan = planRecreate(
      old({ Env: ['PATH=/old/bin', 'APP_VERSION=1', 'MODE=prod', 'GONE=x'] }),
      { Env: ['PATH=/old/bin', 'APP_VERSION=1', 'GONE=x'] },
      { Env: ['PATH=/new/bin', 'APP_VERSION=2', 'NEW=y'] },
      'app:2',
      10_000,
    );
    assert.deepEqual(plan.body.Env, ['MODE=prod']);
    assert.equal(plan.body.Image, 'app:2');
    const effect = (s: string) => plan.settings.find((x) => x.setting === s);
    assert.deepEqual(
      [
        effect('Env PATH')?.effect,
        effect('Env APP_VERSION')?.effect,
        effect('Env MODE')?.effect,
        effect('Env GONE')?.effect,
        effect('Env NEW')?.effect,
      ],
      ['changed', 'changed', 'kept', 'dropped', 'changed'],
    );
  });

  it('Cmd, Entrypoint, WorkingDir, User, Healthcheck: left out when they are the old image default, kept when the user set them', () => {
    const health = { Test: ['CMD', 'true'], Interval: 1e9 };
    const plan = planRecreate(
      old({ Cmd: ['serve'], Entrypoint: ['/custom'], WorkingDir: '/app', User: '1000', Healthcheck: health }),
      { Cmd: ['serve'], Entrypoint: ['/entry'], WorkingDir: '/app', Healthcheck: health },
      { Cmd: ['serve', '--v2'], Entrypoint: ['/entry'], WorkingDir: '/srv', Healthcheck: health },
      'app:2',
      10_000,
    );
    assert.equal(plan.body.Cmd, undefined);
    assert.deepEqual(plan.body.Entrypoint, ['/custom']);
    assert.equal(plan.body.WorkingDir, undefined);
    assert.equal(plan.body.User, '1000');
    assert.equal(plan.body.Healthcheck, undefined);
    assert.equal(plan.body.Hostname, undefined, "the old id's hostname is Docker's default");
  });

  it('Labels, ExposedPorts, Volumes: the image entries (same key and value) out, the user ones in', () => {
    const plan = planRecreate(
      old({
        Labels: {
          'org.opencontainers.image.version': '1',
          'com.docker.compose.project': 'shop',
          team: 'ops',
        },
        ExposedPorts: { '80/tcp': {}, '9000/tcp': {} },
        Volumes: { '/data': {} },
      }),
      {
        Labels: { 'org.opencontainers.image.version': '1' },
        ExposedPorts: { '80/tcp': {} },
        Volumes: { '/data': {} },
      },
      { Labels: { 'org.opencontainers.image.version': '2' }, ExposedPorts: { '8080/tcp': {} } },
      'app:2',
      10_000,
    );
    assert.deepEqual(plan.body.Labels, { 'com.docker.compose.project': 'shop', team: 'ops' });
    assert.deepEqual(plan.body.ExposedPorts, { '9000/tcp': {} });
    assert.deepEqual(plan.body.Volumes, {});
  });

  it('HostConfig in full; links in the form create takes; anonymous volumes mounted by name', () => {
    const plan = planRecreate(
      old(
        {},
        {
          Binds: ['/srv:/srv:ro'],
          Memory: 67108864,
          RestartPolicy: { Name: 'always' },
          Links: ['/db:/web/database'],
        },
        {
          Mounts: [
            { Type: 'bind', Source: '/srv', Destination: '/srv' },
            { Type: 'volume', Name: ANON, Destination: '/cache' },
            { Type: 'volume', Name: 'named', Destination: '/named' },
          ],
        },
      ),
      {},
      {},
      'app:2',
      10_000,
    );
    const host = plan.body.HostConfig as Record<string, unknown>;
    assert.deepEqual(host.Binds, ['/srv:/srv:ro']);
    assert.equal(host.Memory, 67108864);
    assert.deepEqual(host.RestartPolicy, { Name: 'always' });
    assert.deepEqual(host.Links, ['db:database']);
    assert.deepEqual(host.Mounts, [{ Type: 'volume', Source: ANON, Target: '/cache' }]);
  });

  it('networks: the first at create with its aliases (not the old short id) and static address, the others connected', () => {
    const plan = planRecreate(
      old(
        {},
        { NetworkMode: 'front' },
        {
          NetworkSettings: {
            Networks: {
              front: {
                Aliases: ['web', ID.slice(0, 12)],
                IPAMConfig: { IPv4Address: '10.1.0.5' },
                NetworkID: 'n1',
              },
              back: { Aliases: ['api'], NetworkID: 'n2' },
            },
          },
        },
      ),
      {},
      {},
      'app:2',
      10_000,
    );
    assert.deepEqual(plan.body.NetworkingConfig, {
      EndpointsConfig: { front: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.5' } } },
    });
    assert.deepEqual(plan.connect, [{ network: 'back', endpoint: { Aliases: ['api'] } }]);
    const none = planRecreate(
      old({}, { NetworkMode: 'none' }, { NetworkSettings: { Networks: { none: {} } } }),
      {},
      {},
      'a:2',
      1,
    );
    assert.equal(none.body.NetworkingConfig, undefined);
    assert.deepEqual(none.connect, []);
  });

  it('the gate: health within start period + 3 intervals (bounded), running for settle, none for a stopped container', () => {
    const health = (h: Record<string, unknown>) =>
      planRecreate(old({ Healthcheck: h }), {}, {}, 'a:2', 10_000).gate;
    assert.deepEqual(health({ Test: ['CMD', 'true'], Interval: 2e9, StartPeriod: 5e9 }), {
      kind: 'health',
      timeoutMs: 11_000,
    });
    assert.deepEqual(
      health({ Test: ['CMD', 'true'] }),
      { kind: 'health', timeoutMs: 90_000 },
      "Docker's 30 s interval",
    );
    assert.deepEqual(health({ Test: ['CMD', 'true'], Interval: 3600e9 }), {
      kind: 'health',
      timeoutMs: 600_000,
    });
    assert.deepEqual(health({ Test: ['NONE'] }), { kind: 'running', settleMs: 10_000 });
    const stopped = planRecreate(old({}, {}, { State: { Running: false } }), {}, {}, 'a:2', 10_000);
    assert.deepEqual(stopped.gate, { kind: 'none' });
  });
});

describe('the gate verdict', () => {
  const start = '2026-12-07T10:00:00Z';
  it('passes, waits or fails from one look at the new container', () => {
    const running = { kind: 'running', settleMs: 5000 } as const;
    const state = (s: Record<string, unknown>, restarts = 0) => ({
      State: { Running: true, StartedAt: start, ...s },
      RestartCount: restarts,
    });
    assert.equal(gateVerdict(running, state({}), start, 1000).kind, 'wait');
    assert.equal(gateVerdict(running, state({}), start, 5000).kind, 'pass');
    assert.deepEqual(gateVerdict(running, state({ Running: false, ExitCode: 1 }), start, 100), {
      kind: 'fail',
      reason: 'exited with code 1',
    });
    assert.deepEqual(gateVerdict(running, state({}, 1), start, 100), {
      kind: 'fail',
      reason: 'restarted by the engine',
    });
    assert.deepEqual(gateVerdict(running, state({ StartedAt: '2026-12-07T10:00:03Z' }), start, 4000), {
      kind: 'fail',
      reason: 'restarted by the engine',
    });
    assert.deepEqual(gateVerdict(running, state({ OOMKilled: true, Running: false }), start, 100), {
      kind: 'fail',
      reason: 'killed: out of memory',
    });
    const health = { kind: 'health', timeoutMs: 9000 } as const;
    assert.equal(gateVerdict(health, state({ Health: { Status: 'starting' } }), start, 8000).kind, 'wait');
    assert.equal(gateVerdict(health, state({ Health: { Status: 'healthy' } }), start, 100).kind, 'pass');
    assert.deepEqual(
      gateVerdict(
        health,
        state({ Health: { Status: 'unhealthy', Log: [{ Output: 'db down\n' }] } }),
        start,
        100,
      ),
      {
        kind: 'fail',
        reason: 'unhealthy: db down',
      },
    );
    assert.deepEqual(gateVerdict(health, state({ Health: { Status: 'starting' } }), start, 9000), {
      kind: 'fail',
      reason: 'not healthy within 9 s',
    });
  });
});
