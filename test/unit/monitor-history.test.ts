import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { manualClock } from '../../src/clock.js';
import { fromInspect } from '../../src/monitor/model/container.js';
import { migrate, openDatabase } from '../../src/monitor/store/database.js';
import { History } from '../../src/monitor/store/history.js';
import { MIGRATIONS } from '../../src/monitor/store/migrations.js';

const log = pino({ level: 'silent' });
const retention = { rawMs: 24 * 3_600_000, minuteMs: 7 * 86_400_000, hourMs: 90 * 86_400_000 };

/** Every test runs at this instant, whatever the day: the store decides tiers and retention by its clock. */
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);

function fresh(): { history: History; close: () => void; db: ReturnType<typeof openDatabase> } {
  const db = openDatabase(mkdtempSync(join(tmpdir(), 'dockgate-history-')));
  const history = new History(db, log, retention, manualClock(NOW));
  return {
    history,
    db,
    close: () => {
      history.close();
      db.close();
    },
  };
}

const sample = (t: number, cpu: number, mem: number) => ({
  engine: 'e',
  container: 'c1',
  t,
  cpu,
  mem,
  memLimit: 1000,
  netRx: t,
  netTx: 0,
  blkR: 0,
  blkW: 0,
  pids: 1,
});

describe('monitor history (SQLite)', () => {
  it('migrations are numbered and applied once; a newer file is refused', () => {
    const { db, close } = fresh();
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    migrate(db); // again: nothing to do
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    assert.throws(() => migrate(db), /written by a newer dockgate/);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
    close();
  });

  it('a timeline entry with the same key is stored once (an event replayed across reconnects)', () => {
    const { history, close } = fresh();
    for (let i = 0; i < 3; i++)
      history.addTimeline(
        'e',
        'c1',
        1_700_000_000_000_000_000,
        { kind: 'event', action: 'die', time: '', exitCode: 1 },
        'e|k1',
      );
    history.addTimeline(
      'e',
      'c1',
      1_700_000_001_000_000_000,
      { kind: 'action', action: 'stop', time: '', by: 'ops' },
      null,
    );
    const timeline = history.timeline('e', 'c1');
    assert.deepEqual(
      timeline.map((t) => [t.action, t.kind, t.exitCode, t.by]),
      [
        ['die', 'event', 1, undefined],
        ['stop', 'action', undefined, 'ops'],
      ],
    );
    assert.equal(timeline[0]?.time, '2023-11-14T22:13:20.000Z');
    close();
  });

  it('stats: raw points per step; rollups into one-minute and one-hour tiers; retention drops the old', () => {
    const { history, db, close } = fresh();
    const now = NOW;
    const base = now - 3 * 60_000;
    for (let i = 0; i < 18; i++) history.addSample(sample(base + i * 10_000, i, 100 + i));
    history.addSample(sample(now - 25 * 3_600_000, 50, 50)); // older than raw retention
    history.flush();
    const raw = history.stats('e', 'c1', base, 10_000);
    assert.equal(raw.length, 18);
    assert.equal(raw[0]?.cpuPercent, 0);
    history.rollup(now);
    const minutes = db
      .prepare('SELECT t, cpu, mem, net_rx AS rx FROM samples WHERE tier = 1 AND t >= ? ORDER BY t')
      .all(base) as {
      t: number;
      cpu: number;
      mem: number;
      rx: number;
    }[];
    assert.deepEqual(
      minutes.map((m) => [m.t - base, m.cpu, m.mem]),
      [
        [0, 2.5, 102.5],
        [60_000, 8.5, 108.5],
        [120_000, 14.5, 114.5],
      ],
    );
    assert.equal(minutes[0]?.rx, base + 50_000, 'counters keep their last value');
    const oldRaw = db
      .prepare('SELECT count(*) AS n FROM samples WHERE tier = 0 AND t < ?')
      .get(now - 24 * 3_600_000) as { n: number };
    assert.equal(oldRaw.n, 0, 'raw samples past retention are dropped');
    history.rollup(now); // idempotent
    assert.equal(
      (db.prepare('SELECT count(*) AS n FROM samples WHERE tier = 1 AND t >= ?').get(base) as { n: number })
        .n,
      3,
    );
    close();
  });

  it('stats_tier_by_store_clock_regression: the tier is chosen by the store clock, not the day the test runs', () => {
    // Issue 21: stats() read Date.now() while the samples were pinned to a date, so this passed on
    // the day it was written and read the empty minute tier from the next day on.
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'dockgate-history-')));
    const clock = manualClock(NOW);
    const history = new History(db, log, retention, clock);
    const base = NOW - 3 * 60_000;
    for (let i = 0; i < 18; i++) history.addSample(sample(base + i * 10_000, i, 100 + i));
    assert.equal(history.stats('e', 'c1', base, 10_000).length, 18, 'raw: 18 points of 10 s');
    history.rollup();
    clock.advance(2 * 86_400_000); // two days on: past the raw tier's 24 h, within the minute tier's 7 d
    const later = history.stats('e', 'c1', base, 10_000);
    assert.deepEqual(
      later.map((p) => [Date.parse(p.time) - base, p.cpuPercent]),
      [
        [0, 2.5],
        [60_000, 8.5],
        [120_000, 14.5],
      ],
      'the minute tier, as the clock says two days have passed',
    );
    history.close();
    db.close();
  });

  it('stats_recent_samples_regression: a range with a one-minute step reaches the newest raw samples; the step under way is the newest sample, marked partial', () => {
    // Issue 23: a container 30 s old showed an empty 1-hour chart — only rolled-up minutes were read.
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'dockgate-history-')));
    const clock = manualClock(NOW + 35_000); // 35 s into a minute
    const history = new History(db, log, retention, clock);
    const started = NOW - 25_000;
    for (let i = 0; i <= 6; i++) history.addSample(sample(started + i * 10_000, 10 + i, 200 + i));
    const hour = history.stats('e', 'c1', NOW + 35_000 - 3_600_000, 60_000);
    assert.deepEqual(
      hour.map((p) => [Date.parse(p.time) - NOW, p.cpuPercent, p.partial ?? false]),
      [
        [-60_000, 11, false], // samples at -25 s, -15 s, -5 s: their average
        [35_000, 16, true], // the minute under way: the newest sample (+35 s), as the live state shows
      ],
    );
    // After a rollup the minute tier holds the closed minute; the newer raw samples still come.
    history.rollup();
    clock.advance(60_000);
    history.addSample(sample(NOW + 95_000, 40, 300));
    const later = history.stats('e', 'c1', NOW - 3_600_000, 60_000);
    assert.deepEqual(
      later.map((p) => [Date.parse(p.time) - NOW, p.cpuPercent, p.partial ?? false]),
      [
        [-60_000, 11, false],
        [0, 14.5, false],
        [95_000, 40, true],
      ],
    );
    history.close();
    db.close();
  });

  it('containers: the last state per container, removed ones found by name for their history', () => {
    const { history, close } = fresh();
    const item = fromInspect('e', { Id: 'a'.repeat(64), Name: '/web', State: { Status: 'running' } });
    history.saveContainer(item);
    history.flush();
    assert.equal(history.liveContainers()[0]?.name, 'web');
    history.saveContainer({ ...item, state: 'removed' }, NOW);
    history.flush();
    assert.deepEqual(history.liveContainers(), []);
    const found = history.findContainer('e', 'web');
    assert.equal(found !== undefined && found !== 'ambiguous' ? found.id : '', 'a'.repeat(64));
    const byPrefix = history.findContainer('e', 'aaaa');
    assert.equal(byPrefix !== undefined && byPrefix !== 'ambiguous' ? byPrefix.state : '', 'removed');
    close();
  });

  it('the last event applied per engine is kept (the next subscription starts there)', () => {
    const { history, close } = fresh();
    history.setLastEvent('e', 'unix:///x', 1_764_000_000_000_000_000, ['k1', 'k2']);
    history.flush();
    assert.deepEqual(history.lastEvent('e'), { nano: 1_764_000_000_000_000_000, keys: ['k1', 'k2'] });
    assert.equal(history.lastEvent('other'), undefined);
    close();
  });
});
