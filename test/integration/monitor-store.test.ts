import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { manualClock } from '../../src/clock.js';
import { isDockgateError } from '../../src/errors.js';
import { AlertStore } from '../../src/monitor/alerts/alert-store.js';
import { MonitorTokens } from '../../src/monitor/auth/monitor-tokens.js';
import { MonitorUsers } from '../../src/monitor/auth/monitor-users.js';
import {
  SESSION_IDLE_MS,
  SESSION_MAX_MS,
  Sessions,
  sessionAuthenticator,
} from '../../src/monitor/auth/sessions.js';
import { HostHistory } from '../../src/monitor/hosts/host-history.js';
import { fromInspect } from '../../src/monitor/model/container.js';
import { History } from '../../src/monitor/store/history.js';
import { MIGRATIONS } from '../../src/monitor/store/migrations.js';
import { openStore, type Store } from '../../src/monitor/store/open-store.js';
import { PG_MIGRATIONS } from '../../src/monitor/store/postgres/pg-migrations.js';
import { partitionName } from '../../src/monitor/store/postgres/sample-partitions.js';
import { SqliteSql } from '../../src/monitor/store/sqlite/sqlite-sql.js';
import { UpdateJournal } from '../../src/monitor/updates/update-journal.js';
import { storeBackends } from '../helpers/store-backends.js';

/**
 * The monitor's store, the same assertions on SQLite and on PostgreSQL 15 (issue 28: one store
 * interface, two backends, one set of behaviours): migrations, the history (timelines, stats
 * tiers, rollups, retention), containers, the last event, users, sessions, tokens, alerts and
 * their deliveries, the update journal.
 */
const log = pino({ level: 'silent' });
const retention = { rawMs: 24 * 3_600_000, minuteMs: 7 * 86_400_000, hourMs: 90 * 86_400_000 };
/** Every test runs at this instant, whatever the day: the store decides tiers and retention by its clock. */
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const PASSWORD = 'correct horse battery';

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

const count = async (store: Store, sql: string, params: (string | number)[] = []): Promise<number> =>
  Number((await store.sql.get<{ n: number }>(sql, params))?.n);

for (const backend of storeBackends()) {
  const history = async (clock = manualClock(NOW)) => {
    const store = await backend.open({ retention });
    return { store, clock, history: new History(store.sql, store.writer, log, retention, clock) };
  };

  describe(`monitor store (${backend.name}): schema`, () => {
    it('migrations are numbered and applied once; a store written by a newer dockgate is refused', async () => {
      const store = await backend.open();
      if (store.sql instanceof SqliteSql) {
        assert.equal(store.sql.db.pragma('user_version', { simple: true }), MIGRATIONS.length);
        store.sql.db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
      } else {
        assert.equal(await count(store, 'SELECT version AS n FROM dockgate_schema'), PG_MIGRATIONS.length);
        await store.sql.run('UPDATE dockgate_schema SET version = ?', [PG_MIGRATIONS.length + 1]);
      }
      await store.close();
      await assert.rejects(openStore(store.target, log), /newer (dockgate|than this monitor)/);
    });
  });

  describe(`monitor store (${backend.name}): history`, () => {
    it('a timeline entry with the same key is stored once (an event replayed across reconnects)', async () => {
      const { history: h } = await history();
      for (let i = 0; i < 3; i++)
        h.addTimeline(
          'e',
          'c1',
          1_700_000_000_000_000_000,
          { kind: 'event', action: 'die', time: '', exitCode: 1 },
          'e|k1',
        );
      h.addTimeline(
        'e',
        'c1',
        1_700_000_001_000_000_000,
        { kind: 'action', action: 'stop', time: '', by: 'ops' },
        null,
      );
      const timeline = await h.timeline('e', 'c1');
      assert.deepEqual(
        timeline.map((t) => [t.action, t.kind, t.exitCode, t.by]),
        [
          ['die', 'event', 1, undefined],
          ['stop', 'action', undefined, 'ops'],
        ],
      );
      assert.equal(timeline[0]?.time, '2023-11-14T22:13:20.000Z');
    });

    it('stats: raw points per step; rollups into one-minute and one-hour tiers; retention drops the old', async () => {
      const { history: h, store } = await history();
      const base = NOW - 3 * 60_000;
      for (let i = 0; i < 18; i++) h.addSample(sample(base + i * 10_000, i, 100 + i));
      h.addSample(sample(NOW - 25 * 3_600_000, 50, 50)); // older than raw retention
      await h.flush();
      const raw = await h.stats('e', 'c1', base, 10_000);
      assert.equal(raw.length, 18);
      assert.equal(raw[0]?.cpuPercent, 0);
      await h.rollup(NOW);
      const minutes = await store.sql.all<{ t: number; cpu: number; mem: number; rx: number }>(
        'SELECT t, cpu, mem, net_rx AS rx FROM samples WHERE tier = 1 AND t >= ? ORDER BY t',
        [base],
      );
      assert.deepEqual(
        minutes.map((m) => [m.t - base, m.cpu, Number(m.mem)]),
        [
          [0, 2.5, backend.name === 'sqlite' ? 102.5 : 103], // PostgreSQL's BIGINT rounds the average
          [60_000, 8.5, backend.name === 'sqlite' ? 108.5 : 109],
          [120_000, 14.5, backend.name === 'sqlite' ? 114.5 : 115],
        ],
      );
      assert.equal(minutes[0]?.rx, base + 50_000, 'counters keep their last value');
      assert.equal(
        await count(store, 'SELECT count(*) AS n FROM samples WHERE tier = 0 AND t < ?', [
          NOW - 24 * 3_600_000,
        ]),
        0,
        'raw samples past retention are dropped',
      );
      await h.rollup(NOW); // idempotent
      assert.equal(
        await count(store, 'SELECT count(*) AS n FROM samples WHERE tier = 1 AND t >= ?', [base]),
        3,
      );
    });

    it('stats_tier_by_store_clock_regression: the tier is chosen by the store clock, not the day the test runs', async () => {
      const { history: h, clock } = await history();
      const base = NOW - 3 * 60_000;
      for (let i = 0; i < 18; i++) h.addSample(sample(base + i * 10_000, i, 100 + i));
      assert.equal((await h.stats('e', 'c1', base, 10_000)).length, 18, 'raw: 18 points of 10 s');
      await h.rollup();
      clock.advance(2 * 86_400_000); // two days on: past the raw tier's 24 h, within the minute tier's 7 d
      const later = await h.stats('e', 'c1', base, 10_000);
      assert.deepEqual(
        later.map((p) => [Date.parse(p.time) - base, p.cpuPercent]),
        [
          [0, 2.5],
          [60_000, 8.5],
          [120_000, 14.5],
        ],
        'the minute tier, as the clock says two days have passed',
      );
    });

    it('stats_recent_samples_regression: a one-minute step reaches the newest raw samples; the step under way is the newest sample, marked partial', async () => {
      const { history: h, clock } = await history(manualClock(NOW + 35_000)); // 35 s into a minute
      const started = NOW - 25_000;
      for (let i = 0; i <= 6; i++) h.addSample(sample(started + i * 10_000, 10 + i, 200 + i));
      const hour = await h.stats('e', 'c1', NOW + 35_000 - 3_600_000, 60_000);
      assert.deepEqual(
        hour.map((p) => [Date.parse(p.time) - NOW, p.cpuPercent, p.partial ?? false]),
        [
          [-60_000, 11, false],
          [35_000, 16, true],
        ],
      );
      await h.rollup();
      clock.advance(60_000);
      h.addSample(sample(NOW + 95_000, 40, 300));
      const later = await h.stats('e', 'c1', NOW - 3_600_000, 60_000);
      assert.deepEqual(
        later.map((p) => [Date.parse(p.time) - NOW, p.cpuPercent, p.partial ?? false]),
        [
          [-60_000, 11, false],
          [0, 14.5, false],
          [95_000, 40, true],
        ],
      );
    });

    it('hosts: samples and each filesystem in the tiers; the free-space window read back (disk-fill after a restart)', async () => {
      const { store, clock } = await history();
      const hosts = new HostHistory(store.sql, store.writer, retention, clock);
      const point = (t: number, cpu: number) => ({
        t,
        cpuPercent: cpu,
        memoryUsedBytes: 100,
        memoryAvailableBytes: 900,
        swapUsedBytes: 0,
        dockerRootUsedBytes: 10,
        dockerRootAvailableBytes: 90,
        load1: 0.5,
        netRxBytesPerSecond: 1,
        netTxBytesPerSecond: 2,
        cpuPressurePercent: 1.5,
        memoryPressurePercent: null,
        ioPressurePercent: 0,
        diskReadBytesPerSecond: 4096,
        diskWriteBytesPerSecond: cpu * 1000,
        temperatureCelsius: 41.5,
      });
      const fs = (avail: number) =>
        [
          {
            mount: '/data',
            device: '/dev/x',
            fsType: 'ext4',
            sizeBytes: 1000,
            usedBytes: 1000 - avail,
            availableBytes: avail,
            inodes: 1,
            inodesUsed: 0,
            readOnly: false,
            dockerRoot: false,
          },
        ] as const;
      // Two hours ago, one sample a minute, the disk losing 5 bytes a minute.
      for (let i = 0; i < 120; i++)
        hosts.add('e', point(NOW - 7_200_000 + i * 60_000, i % 2 === 0 ? 10 : 30), fs(900 - 5 * i));
      const series = await hosts.series('e', NOW - 3_600_000, 600_000);
      assert.equal(series.length, 6, 'six ten-minute steps in the last hour');
      assert.equal(series[0]?.cpuPercent, 20, 'averaged per step');
      assert.equal(series[0]?.cpuPressurePercent, 1.5);
      assert.equal(series[0]?.memoryPressurePercent, null);
      assert.equal(series[0]?.diskWriteBytesPerSecond, 20_000);
      assert.equal(series[0]?.temperatureCelsius, 41.5);
      const [data] = await hosts.filesystems('e', NOW - 3_600_000, 600_000);
      assert.equal(data?.mount, '/data');
      assert.equal(data?.points.length, 6);
      const window = await hosts.recentFree('e', NOW - 3_600_000);
      assert.equal(window.length, 60);
      assert.equal(window.at(-1)?.free.get('/data'), 900 - 5 * 119);
      // Rolled up: the hour-old minutes are in the minute tier; the same series from there.
      await hosts.rollup(NOW);
      const minute = await count(store, 'SELECT count(*) AS n FROM host_fs_samples WHERE tier = 1');
      assert.equal(minute, 120);
      assert.deepEqual(await hosts.series('e', NOW - 3_600_000, 600_000), series);
      await store.close();
    });

    it('containers: the last state per container, removed ones found by name or prefix', async () => {
      const { history: h } = await history();
      const item = fromInspect('e', { Id: 'a'.repeat(64), Name: '/web', State: { Status: 'running' } });
      h.saveContainer(item);
      await h.flush();
      assert.equal((await h.liveContainers())[0]?.name, 'web');
      h.saveContainer({ ...item, state: 'removed' }, NOW);
      await h.flush();
      assert.deepEqual(await h.liveContainers(), []);
      const found = await h.findContainer('e', 'web');
      assert.equal(found !== undefined && found !== 'ambiguous' ? found.id : '', 'a'.repeat(64));
      const byPrefix = await h.findContainer('e', 'aaaa');
      assert.equal(byPrefix !== undefined && byPrefix !== 'ambiguous' ? byPrefix.state : '', 'removed');
      assert.equal(await h.findContainer('e', 'a%'), undefined, 'LIKE wildcards in a reference are literal');
    });

    it('the last event applied per engine is kept (the next subscription starts there)', async () => {
      const { history: h } = await history();
      h.setLastEvent('e', 'unix:///x', 1_764_000_000_000_000_000, ['k1', 'k2']);
      assert.deepEqual(await h.lastEvent('e'), { nano: 1_764_000_000_000_000_000, keys: ['k1', 'k2'] });
      assert.equal(await h.lastEvent('other'), undefined);
    });

    it('a write the store refuses stays queued and is committed when it can be; the history says it is unhealthy meanwhile', async () => {
      const { history: h, store } = await history();
      // The table refuses writes (as a full disk or an unreachable database would).
      await store.sql.run('ALTER TABLE engine_periods RENAME TO engine_periods_away');
      h.enginePeriod('e', 'up', NOW, undefined);
      await h.flush();
      assert.equal(h.status().ok, false);
      assert.equal(h.status().pending, 2);
      await store.sql.run('ALTER TABLE engine_periods_away RENAME TO engine_periods');
      await h.flush();
      assert.deepEqual(h.status(), { ok: true, pending: 0, dropped: 0, fenced: 0 });
      assert.equal(await count(store, 'SELECT count(*) AS n FROM engine_periods'), 1);
    });
  });

  describe(`monitor store (${backend.name}): users, sessions, tokens`, () => {
    it('users: an argon2id hash, never the password; a role change applies to an open session; a new password or removal ends it', async () => {
      const store = await backend.open();
      const users = new MonitorUsers(store.sql);
      const sessions = new Sessions(store.sql);
      await users.add('alice', 'viewer', PASSWORD);
      const stored =
        (await store.sql.get<{ password: string }>('SELECT password FROM users'))?.password ?? '';
      assert.match(stored, /^\$argon2id\$/);
      assert.deepEqual(await users.check('alice', PASSWORD), { name: 'alice', role: 'viewer' });
      assert.equal(await users.check('alice', 'wrong password!'), undefined);
      assert.equal(await users.any(), true);
      const one = await sessions.create('alice');
      assert.equal((await sessions.find(one.id))?.role, 'viewer');
      await store.sql.run("UPDATE users SET role = 'admin' WHERE name = 'alice'");
      assert.equal((await sessions.find(one.id))?.role, 'admin', 'the role is read per request');
      await users.add('alice', 'operator', 'another long password');
      assert.equal(await sessions.find(one.id), undefined, 'a new password ends the sessions');
      const two = await sessions.create('alice');
      assert.ok(await users.remove('alice'));
      assert.equal(await sessions.find(two.id), undefined, 'removing the user ends the sessions');
      assert.equal(await users.remove('alice'), false);
      assert.deepEqual(await users.list(), []);
    });

    it('sessions: only a hash of the cookie is stored; they end after 12 h unused or 7 days in all', async () => {
      const store = await backend.open();
      await new MonitorUsers(store.sql).add('alice', 'viewer', PASSWORD);
      const sessions = new Sessions(store.sql);
      const t0 = 1_000_000_000_000;
      const s = await sessions.create('alice', t0);
      assert.equal(await count(store, 'SELECT count(*) AS n FROM sessions WHERE hash = ?', [s.id]), 0);
      assert.equal((await sessions.find(s.id, t0 + SESSION_IDLE_MS - 1))?.user, 'alice');
      let t = t0 + SESSION_IDLE_MS - 1;
      while (t < t0 + SESSION_MAX_MS - 3_600_000) {
        t += SESSION_IDLE_MS - 120_000;
        assert.equal((await sessions.find(s.id, t))?.user, 'alice', 'in use, still on');
      }
      assert.equal(
        await sessions.find(s.id, t0 + SESSION_MAX_MS + 1),
        undefined,
        'ends 7 days after sign-in',
      );
      const idle = await sessions.create('alice', t0);
      assert.equal(
        await sessions.find(idle.id, t0 + SESSION_IDLE_MS + 1),
        undefined,
        'ends after 12 h unused',
      );
      await sessions.end(s.id);
      assert.equal(await sessions.find(s.id, t0), undefined);
    });

    it("csrf_regression: a change with the cookie but without the session's X-CSRF-Token is refused; reads and sign-in are not", async () => {
      const store = await backend.open();
      await new MonitorUsers(store.sql).add('alice', 'operator', PASSWORD);
      const sessions = new Sessions(store.sql);
      const auth = sessionAuthenticator(sessions);
      const s = await sessions.create('alice');
      const cookie = `dockgate_session=${s.id}`;
      assert.equal((await auth.authenticate({ cookie, method: 'GET' }))?.role, 'operator');
      for (const csrf of [undefined, '', 'forged', `${s.csrf}x`, [s.csrf, s.csrf]])
        await assert.rejects(auth.authenticate({ cookie, method: 'POST', csrf }), (e) =>
          isDockgateError(e, 'DG_CSRF'),
        );
      await assert.rejects(auth.authenticate({ cookie, method: 'DELETE' }), (e) =>
        isDockgateError(e, 'DG_CSRF'),
      );
      assert.equal((await auth.authenticate({ cookie, method: 'POST', csrf: s.csrf }))?.name, 'alice');
      assert.equal((await auth.authenticate({ cookie, method: 'POST', csrfExempt: true }))?.name, 'alice');
      assert.equal(await auth.authenticate({ cookie: 'dockgate_session=forged', method: 'POST' }), undefined);
    });

    it('tokens: shown once, stored hashed, replaced by name, revoked at once', async () => {
      const store = await backend.open();
      const tokens = new MonitorTokens(store.sql, manualClock(NOW));
      const first = await tokens.add('ci', 'operator');
      assert.match(first, /^dgm_/);
      assert.deepEqual(await tokens.find(first), { name: 'ci', role: 'operator' });
      assert.equal(await count(store, 'SELECT count(*) AS n FROM tokens WHERE hash = ?', [first]), 0);
      const second = await tokens.add('ci', 'viewer');
      assert.equal(await tokens.find(first), undefined, 'the old token of that name stops working');
      assert.deepEqual(await tokens.list(), [
        { name: 'ci', role: 'viewer', createdAt: new Date(NOW).toISOString() },
      ]);
      assert.equal(await tokens.revoke('ci'), true);
      assert.equal(await tokens.find(second), undefined);
      assert.equal(await tokens.revoke('ci'), false);
      await assert.rejects(tokens.add('../x', 'viewer'), /letters, digits/);
    });
  });

  describe(`monitor store (${backend.name}): alerts, deliveries, update journal`, () => {
    it('an incident opened, updated, notified, acknowledged and resolved reads back the same; open ones are loaded again', async () => {
      const store = await backend.open();
      const alerts = await AlertStore.load(store.sql, store.writer);
      const opened = alerts.open({
        rule: 'died',
        kind: 'died',
        engine: 'e',
        container: { id: 'c1', name: 'web' },
        target: 'e/c1',
        summary: 'web died',
        details: { exitCode: 1 },
        at: NOW,
      });
      alerts.update(opened.id, { count: 2, details: { exitCode: 2 } });
      alerts.notified(opened.id, NOW + 1000);
      alerts.addDelivery(opened.id, {
        notifier: 'https://hooks.example/x',
        event: 'firing',
        attempt: 1,
        at: new Date(NOW + 1000).toISOString(),
        ok: true,
        status: 200,
        error: null,
        response: 'ok',
      });
      const other = alerts.open({
        rule: 'oom',
        kind: 'oom',
        engine: 'e',
        container: null,
        target: 'e',
        summary: 'x',
        details: {},
        at: NOW + 5,
      });
      await alerts.acknowledge(opened.id, NOW + 2000);
      const stored = await alerts.get(opened.id);
      assert.equal(stored?.count, 2);
      assert.deepEqual(stored?.details, { exitCode: 2 });
      assert.equal(stored?.acknowledgedAt, new Date(NOW + 2000).toISOString());
      assert.deepEqual(
        (await alerts.deliveries(opened.id)).map((d) => [d.event, d.ok, d.status]),
        [['firing', true, 200]],
      );
      assert.deepEqual(
        alerts.openCounts().sort((a, b) => a.kind.localeCompare(b.kind)),
        [
          { kind: 'died', engine: 'e', n: 1 },
          { kind: 'oom', engine: 'e', n: 1 },
        ],
      );
      const resolved = alerts.resolve(other.id, NOW + 3000, 'gone');
      assert.equal(resolved?.state, 'resolved');
      assert.equal(alerts.openFor('oom', 'e'), undefined);
      // A restart: the open one comes back, with when it was last notified.
      await store.writer.flush();
      const again = await AlertStore.load(store.sql, store.writer);
      assert.deepEqual(
        again.openIncidents().map((o) => [o.alert.id, o.target]),
        [[opened.id, 'e/c1']],
      );
      assert.equal(again.lastNotified(opened.id), NOW + 1000);
      assert.deepEqual(
        (await again.list({ engine: 'e' })).map((a) => [a.id, a.state]),
        [
          [other.id, 'resolved'],
          [opened.id, 'open'],
        ],
      );
      assert.deepEqual(await again.list({ container: '%' }), [], 'LIKE wildcards are not a filter');
    });

    it('the update journal: a run written step by step, found unfinished, then finished', async () => {
      const store = await backend.open();
      const journal = new UpdateJournal(store.sql);
      let run = await journal.begin({
        engine: 'e',
        name: 'web',
        oldId: 'o1',
        image: 'app:2',
        fromDigest: 'sha256:1',
        toDigest: 'sha256:2',
        wasRunning: true,
        by: 'ops',
        startedAt: NOW,
      });
      run = await journal.step(run, 'created', 'n1');
      assert.deepEqual(
        (await journal.unfinished('e')).map((r) => [r.step, r.newId, r.wasRunning, r.by]),
        [['created', 'n1', true, 'ops']],
      );
      await journal.finish(run, 'updated', null, NOW + 10);
      assert.deepEqual(await journal.unfinished('e'), []);
      assert.deepEqual(
        (await journal.recent('e', 'web')).map((r) => [r.result, r.finishedAt]),
        [['updated', NOW + 10]],
      );
    });
  });
}

describe('monitor store (postgres): stats partitions', () => {
  it('raw and minute samples go to daily partitions made ahead; days past retention are dropped as partitions', async () => {
    const backend = storeBackends().find((b) => b.name === 'postgres');
    assert.ok(backend !== undefined);
    const store = await backend.open({ retention });
    const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const partitions = async (parent: string): Promise<string[]> =>
      (
        await store.sql.all<{ name: string }>(
          `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ? ORDER BY 1`,
          [parent],
        )
      ).map((r) => r.name);
    for (const day of [today, today + 86_400_000, today + 2 * 86_400_000])
      assert.ok((await partitions('samples_raw')).includes(partitionName('samples_raw', day)));
    const clock = manualClock(Date.now());
    const h = new History(store.sql, store.writer, log, retention, clock);
    h.addSample({ ...sample(Date.now(), 1, 1) });
    await h.flush();
    assert.equal(
      await count(store, 'SELECT count(*) AS n FROM samples_raw_default'),
      0,
      'not in the default partition',
    );
    assert.equal(await count(store, `SELECT count(*) AS n FROM ${partitionName('samples_raw', today)}`), 1);
    // Three days on: today's raw partition is past the 24 h retention and is dropped whole.
    clock.advance(3 * 86_400_000);
    await h.rollup();
    const raw = await partitions('samples_raw');
    assert.ok(!raw.includes(partitionName('samples_raw', today)), 'the old day dropped');
    assert.ok(raw.includes(partitionName('samples_raw', today + 3 * 86_400_000)), 'the new days made');
    assert.ok(
      (await partitions('samples_minute')).includes(partitionName('samples_minute', today)),
      'minutes kept 7 d',
    );
    const brin = await store.sql.all<{ name: string }>(
      `SELECT indexname AS name FROM pg_indexes WHERE tablename = ? AND indexdef LIKE '%brin%'`,
      [partitionName('samples_raw', today + 3 * 86_400_000)],
    );
    assert.equal(brin.length, 1, 'each partition has the BRIN index on time');
  });
});
