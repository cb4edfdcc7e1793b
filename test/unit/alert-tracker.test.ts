import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileAlertRules, globRegex, inScope } from '../../src/monitor/alerts/alert-rules.js';
import { firingSince, INACTIVE, step, type Tracker } from '../../src/monitor/alerts/incident-tracker.js';
import { humanDuration } from '../../src/monitor/config/duration.js';

const timing = { forMs: 30_000, resolveForMs: 10_000, cooldownMs: 60_000 };

/** Runs observations [time, active] through the machine; returns the effects in order. */
function run(observations: [number, boolean][], start: Tracker = INACTIVE): (string | undefined)[] {
  let tracker = start;
  return observations.map(([now, active]) => {
    const out = step(tracker, active, now, timing);
    tracker = out.tracker;
    return out.effect === undefined ? tracker.phase : `${out.effect}:${tracker.phase}`;
  });
}

describe('alert state machine: one rule, one target (a clock the test controls)', () => {
  it('inactive → pending → firing after `for`; one open, never two', () => {
    assert.deepEqual(
      run([
        [0, true],
        [29_999, true],
        [30_000, true],
        [40_000, true],
      ]),
      ['pending', 'pending', 'open:firing', 'firing'],
    );
  });

  it('a condition that clears before `for` never opens', () => {
    assert.deepEqual(
      run([
        [0, true],
        [10_000, false],
        [50_000, false],
      ]),
      ['pending', 'inactive', 'inactive'],
    );
  });

  it('firing → recovering → resolved after its own `for`; a relapse while recovering stays the same incident', () => {
    assert.deepEqual(
      run(
        [
          [0, false],
          [5_000, true],
          [6_000, false],
          [15_999, false],
          [16_000, false],
        ],
        firingSince(0),
      ),
      ['recovering', 'firing', 'recovering', 'recovering', 'resolve:inactive'],
    );
  });

  it('cooldown: after a resolution the same rule does not fire again for the target until it passes', () => {
    const resolvedAt100: Tracker = { phase: 'inactive', since: 100_000, lastResolvedAt: 100_000 };
    assert.deepEqual(
      run(
        [
          [110_000, true],
          [140_000, true],
          [160_000, true],
        ],
        resolvedAt100,
      ),
      ['pending', 'pending', 'open:firing'],
    );
  });

  it('a `for` of 0 opens on the first observation and resolves on the first clear one', () => {
    const zero = { forMs: 0, resolveForMs: 0, cooldownMs: 0 };
    assert.equal(step(INACTIVE, true, 5, zero).effect, 'open');
    assert.equal(step(firingSince(5), false, 6, zero).effect, 'resolve');
  });
});

describe('alert rules: defaults, scopes, silence', () => {
  it('defaults: on except missing (no list), cpu, memory, update-available, host-memory and host-cpu; loop 3 in 10 min, settle 2 min', () => {
    const rules = compileAlertRules(undefined);
    assert.deepEqual(
      Object.values(rules.rules)
        .filter((r) => r.enabled)
        .map((r) => r.kind),
      ['died', 'oom', 'unhealthy', 'restart-loop', 'engine-down', 'update-failed', 'disk', 'disk-fill'],
    );
    assert.deepEqual(rules.loop, { restarts: 3, windowMs: 600_000, settleMs: 120_000 });
    assert.equal(rules.rules.unhealthy.forMs, 30_000);
    assert.equal(rules.rules['engine-down'].forMs, 30_000);
    assert.deepEqual(rules.memoryAbove, { fraction: 0.9 });
  });

  it('scope: engine, name glob, labels, compose project; dockgate.alerts=off silences', () => {
    const rules = compileAlertRules({
      died: { scope: { engines: ['prod'], names: ['web-*'], labels: ['team=a'], projects: ['shop'] } },
    });
    const item = {
      engine: 'prod',
      name: 'web-1',
      labels: { team: 'a' },
      compose: { project: 'shop', service: 'web' },
    };
    assert.equal(inScope(rules.rules.died, item), true);
    assert.equal(inScope(rules.rules.died, { ...item, engine: 'dev' }), false);
    assert.equal(inScope(rules.rules.died, { ...item, name: 'db-1' }), false);
    assert.equal(inScope(rules.rules.died, { ...item, labels: { team: 'b' } }), false);
    assert.equal(inScope(rules.rules.oom, { ...item, labels: { 'dockgate.alerts': 'off' } }), false);
    assert.equal(globRegex('*db*').test('shop-db-1'), true);
  });

  it('bad values name the key', () => {
    assert.throws(() => compileAlertRules({ unhealthy: { for: 'soon' } }), /alerts.unhealthy.for/);
    assert.throws(() => compileAlertRules({ memory: { above: 'lots' } }), /alerts.memory.above/);
  });

  it('durations for people', () => {
    assert.equal(humanDuration(65_000), '1m 5s');
    assert.equal(humanDuration(7_200_000), '2h');
  });
});
