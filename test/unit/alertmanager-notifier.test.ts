import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Alert } from '../../src/monitor/alerts/alert-store.js';
import {
  AlertmanagerNotifier,
  alertmanagerLabels,
  alertmanagerTargets,
} from '../../src/monitor/notify/alertmanager-notifier.js';

const alert: Alert = {
  id: 'a1',
  rule: 'died',
  kind: 'died',
  engine: 'prod',
  container: { id: 'c'.repeat(64), name: 'web' },
  state: 'open',
  openedAt: '2026-12-07T10:00:00.000Z',
  resolvedAt: null,
  acknowledgedAt: null,
  count: 1,
  summary: 'web on prod exited with code 3',
  details: { exitCode: 3, logs: ['boom'] },
};

describe('the alertmanager+ notifier: Alertmanager client contract', () => {
  it('one URL lists every Alertmanager; a bad list is refused at start', () => {
    assert.deepEqual(alertmanagerTargets('http://a:9093,b:9093/am', 'n'), [
      'http://a:9093/am',
      'http://b:9093/am',
    ]);
    assert.deepEqual(alertmanagerTargets('https://am.example.com', 'n'), ['https://am.example.com']);
    assert.throws(() => alertmanagerTargets('http://a:9093,,b:9093', 'n'), /an empty host/);
    assert.throws(() => alertmanagerTargets('ftp://a', 'n'), /not a URL/);
  });

  it('firing: endsAt now + 4 × the re-send interval; resolved: endsAt the resolution; generatorURL the container page', () => {
    const now = Date.parse('2026-12-07T10:05:00.000Z');
    const notifier = new AlertmanagerNotifier('http://127.0.0.1:9', 'am', new Set(), {
      baseUrl: () => 'https://monitor.example.com',
      now: () => now,
    });
    const firing = notifier.payload('firing', alert);
    assert.equal(firing.endsAt, '2026-12-07T10:09:00.000Z');
    assert.equal(firing.startsAt, alert.openedAt);
    assert.equal(firing.generatorURL, `https://monitor.example.com/containers/prod/${'c'.repeat(64)}`);
    const resolved = notifier.payload('resolved', {
      ...alert,
      state: 'resolved',
      resolvedAt: '2026-12-07T10:04:30.000Z',
    });
    assert.equal(resolved.endsAt, '2026-12-07T10:04:30.000Z');
    notifier.stop();
  });

  it('labels: the same from every monitor (no incident id), what the rule watches when it is not the container', () => {
    assert.deepEqual(alertmanagerLabels(alert), {
      alertname: 'dockgate_died',
      severity: 'critical',
      engine: 'prod',
      container: 'web',
      container_id: 'c'.repeat(64),
    });
    assert.deepEqual(
      alertmanagerLabels({
        ...alert,
        kind: 'missing',
        rule: 'missing',
        container: null,
        details: { selector: 'web-*' },
      }),
      { alertname: 'dockgate_missing', severity: 'critical', engine: 'prod', selector: 'web-*' },
    );
    assert.equal(alertmanagerLabels({ ...alert, kind: 'log', rule: 'panics' }).rule, 'panics');
  });
});
