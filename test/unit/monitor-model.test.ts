import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineNano, nanoText } from '../../src/monitor/engines/engine-watcher.js';
import { INTENT_WINDOW_MS, isExpectedDie, stopIntentOf } from '../../src/monitor/engines/expected-stops.js';
import {
  applyEvent,
  type ContainerItem,
  dockerTime,
  type EngineEvent,
  fromCreateEvent,
  fromInspect,
  splitAction,
} from '../../src/monitor/model/container.js';

const event = (
  action: string,
  attributes: Record<string, string> = {},
  timeNano = 1_764_000_000_123_456_800,
): EngineEvent => ({
  Type: 'container',
  Action: action,
  Actor: { ID: 'c'.repeat(64), Attributes: attributes },
  time: Math.floor(timeNano / 1e9),
  timeNano,
});

const running = (): ContainerItem =>
  fromInspect('local', {
    Id: 'c'.repeat(64),
    Name: '/web',
    RestartCount: 2,
    Config: {
      Image: 'busybox',
      Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web' },
    },
    HostConfig: { RestartPolicy: { Name: 'always' } },
    State: {
      Status: 'running',
      ExitCode: 0,
      StartedAt: '2026-12-01T08:00:00.5Z',
      FinishedAt: '0001-01-01T00:00:00Z',
      Health: { Status: 'healthy' },
    },
  });

describe('monitor model: a container from inspect and events', () => {
  it('fromInspect: name without /, compose, zero times as null, health, restart count', () => {
    const item = running();
    assert.equal(item.name, 'web');
    assert.deepEqual(item.compose, { project: 'shop', service: 'web' });
    assert.equal(item.startedAt, '2026-12-01T08:00:00.500Z');
    assert.equal(item.finishedAt, null);
    assert.equal(item.health, 'healthy');
    assert.equal(item.restartCount, 2);
    assert.equal(item.cpuPercent, null, 'numbers are null until known');
  });

  it('a container that never ran has no exit code; no healthcheck is health "none"', () => {
    const item = fromInspect('local', {
      Id: 'a',
      Name: '/new',
      State: { Status: 'created', ExitCode: 0, StartedAt: '0001-01-01T00:00:00Z' },
    });
    assert.equal(item.exitCode, null);
    assert.equal(item.health, 'none');
  });

  it('die: exited with the exit code from the event at once', () => {
    const after = applyEvent(running(), event('die', { exitCode: '137' }));
    assert.equal(after.state, 'exited');
    assert.equal(after.exitCode, 137);
    assert.equal(after.finishedAt, '2025-11-24T16:00:00.123Z');
  });

  it('oom, pause/unpause, health_status, rename, destroy', () => {
    assert.equal(applyEvent(running(), event('oom')).oomKilled, true);
    assert.equal(applyEvent(running(), event('pause')).state, 'paused');
    assert.equal(applyEvent(applyEvent(running(), event('pause')), event('unpause')).state, 'running');
    assert.equal(applyEvent(running(), event('health_status: unhealthy')).health, 'unhealthy');
    assert.equal(applyEvent(running(), event('rename', { name: '/shop-web' })).name, 'shop-web');
    assert.equal(applyEvent(running(), event('destroy')).state, 'removed');
    const same = running();
    assert.equal(applyEvent(same, event('exec_create: sh')), same, 'exec events change nothing');
  });

  it('create event: a first item from the attributes (labels without name and image)', () => {
    const item = fromCreateEvent('local', event('create', { name: 'job', image: 'busybox', team: 'a' }));
    assert.equal(item.name, 'job');
    assert.equal(item.image, 'busybox');
    assert.deepEqual(item.labels, { team: 'a' });
    assert.equal(item.state, 'created');
  });

  it('splitAction and Docker zero time', () => {
    assert.deepEqual(splitAction('health_status: healthy'), ['health_status', 'healthy']);
    assert.deepEqual(splitAction('die'), ['die', undefined]);
    assert.equal(dockerTime('0001-01-01T00:00:00Z'), null);
  });
});

describe('monitor model: expected stops', () => {
  it('a kill with a terminating signal or a stop makes the die expected; HUP does not', () => {
    const now = Date.UTC(2028, 1, 29, 23, 59, 30); // a leap day's last minute: no calendar involved
    assert.equal(isExpectedDie(stopIntentOf('kill', '15', undefined, now), now), true);
    assert.equal(isExpectedDie(stopIntentOf('kill', 'SIGKILL', undefined, now), now), true);
    assert.equal(isExpectedDie(stopIntentOf('stop', undefined, undefined, now), now), true);
    assert.equal(stopIntentOf('kill', '1', undefined, now), undefined);
    assert.equal(stopIntentOf('kill', 'HUP', undefined, now), undefined);
    assert.equal(isExpectedDie(undefined, now), false);
  });

  it('an intent asked through the monitor keeps who asked when the kill event follows', () => {
    const now = Date.UTC(2026, 11, 1, 12, 0, 0);
    const asked = { at: now - 1_000, by: 'ops', signal: undefined };
    assert.equal(stopIntentOf('kill', '15', asked, now)?.by, 'ops');
    assert.equal(isExpectedDie(stopIntentOf('kill', '15', asked, now), now + INTENT_WINDOW_MS + 1), false);
  });

  it('an intent older than the window no longer counts', () => {
    assert.equal(
      isExpectedDie({ at: Date.now() - 11 * 60_000, by: undefined, signal: '15' }, Date.now()),
      false,
    );
  });
});

describe('monitor: engine time', () => {
  it('since/until as seconds.nanoseconds; SystemTime with nanoseconds', () => {
    assert.equal(nanoText(1_764_000_000_000_000_000), '1764000000.000000000');
    assert.equal(
      engineNano('2026-12-01T08:00:00.123456789Z'),
      Date.parse('2026-12-01T08:00:00Z') * 1e6 + 123456789,
    );
    assert.equal(engineNano('not a time'), undefined);
  });
});
