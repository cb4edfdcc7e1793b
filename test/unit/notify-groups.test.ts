import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Alert } from '../../src/monitor/alerts/alert-store.js';
import { groupAlert } from '../../src/monitor/notify/notify-groups.js';

const died = (n: number, code: number): Alert => ({
  id: `a${n}`,
  rule: 'died',
  kind: 'died',
  engine: 'prod',
  container: { id: `c${n}`, name: `worker-${n}` },
  state: 'open',
  openedAt: '2026-12-07T10:00:00.000Z',
  resolvedAt: null,
  acknowledgedAt: null,
  count: 1,
  summary: `worker-${n} on prod exited with code ${code}`,
  details: { exitCode: code },
});

describe('a group message', () => {
  it('says how many, of what, where, and counts the exit codes', () => {
    const members = [...Array.from({ length: 11 }, (_, i) => died(i, 3)), died(11, 137)];
    const group = groupAlert('firing', 'worker:1.4', members);
    assert.equal(group.summary, '12 containers of worker:1.4 died on prod: exit codes 3 ×11, 137 ×1');
    assert.equal(group.count, 12);
    assert.equal(group.container, null);
    assert.deepEqual((group.details as { alerts: string[] }).alerts.length, 12);
    assert.equal(
      groupAlert('resolved', 'shop', [died(1, 3), died(2, 3)]).summary,
      '2 containers of shop on prod: died resolved',
    );
  });
});
