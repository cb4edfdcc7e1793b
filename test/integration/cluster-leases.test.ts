import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import postgres, { type Sql } from 'postgres';
import { LeaseStore } from '../../src/monitor/cluster/lease-store.js';
import { Membership } from '../../src/monitor/cluster/membership.js';
import { migratePostgres, PG_MIGRATIONS } from '../../src/monitor/store/postgres/pg-migrations.js';
import { testEngine } from '../helpers/engine.js';
import { monitorToken, startMonitor } from '../helpers/monitor-process.js';
import { type PrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 28, the first part: engine leases on a real PostgreSQL 15 (Debian's, a private cluster on
 * a unix socket) — terms on the database's clock, renewal, expiry and takeover, fencing of a stale
 * term, numbered migrations that refuse a newer schema.
 */
let pg: PrivatePostgres;
let sql: Sql;

before(async () => {
  pg = await startPrivatePostgres();
  sql = postgres(pg.database('leases'), { max: 4, onnotice: () => {} });
});

after(async () => {
  await sql?.end();
  pg?.stop();
});

const store = (id: string, ttlMs: number): LeaseStore =>
  new LeaseStore(sql, { id, host: 'test', pid: process.pid, listen: `http://127.0.0.1/${id}` }, ttlMs);

describe('PostgreSQL store: migrations', () => {
  it('migrates once (two at once: one applies, the other sees it done), and refuses a newer schema', async () => {
    const [a, b] = await Promise.all([migratePostgres(sql), migratePostgres(sql)]);
    assert.equal(a, PG_MIGRATIONS.length);
    assert.equal(b, PG_MIGRATIONS.length);
    const [row] = await sql<{ version: number }[]>`SELECT version FROM dockgate_schema`;
    assert.equal(row?.version, PG_MIGRATIONS.length);
    await sql`UPDATE dockgate_schema SET version = ${PG_MIGRATIONS.length + 1}`;
    await assert.rejects(migratePostgres(sql), /newer than this monitor knows/);
    await sql`UPDATE dockgate_schema SET version = ${PG_MIGRATIONS.length}`;
  });
});

describe('engine leases (lease rows, terms, fencing)', () => {
  it('one owner at a time; renewal; expiry on the database clock → taken with term + 1; the stale term is fenced out', async () => {
    const a = store('a', 1000);
    const b = store('b', 1000);
    await a.heartbeat();
    await b.heartbeat();
    assert.deepEqual(
      (await a.instances(5000)).map((i) => i.id),
      ['a', 'b'],
    );
    const held = await a.acquire('e1');
    assert.equal(held?.term, 1);
    assert.equal(await b.acquire('e1'), undefined, 'held by a');
    assert.ok(held !== undefined);
    const renewed = await a.renew(held);
    assert.ok(renewed !== undefined && renewed.trustUntil >= held.trustUntil);

    await sql`CREATE TABLE timeline_test (engine TEXT, what TEXT)`;
    const write = async (s: LeaseStore, h: { engine: string; term: number }, what: string): Promise<number> =>
      (await sql`INSERT INTO timeline_test (engine, what) SELECT ${h.engine}, ${what} WHERE ${s.fenced(h)}`)
        .count;
    assert.equal(await write(a, held, 'a while it owns'), 1);

    // a stops renewing: the lease expires by the database's clock; b takes it with a new term.
    let taken: Awaited<ReturnType<LeaseStore['acquire']>>;
    await waitFor(
      async () => {
        taken = await b.acquire('e1');
        return taken !== undefined;
      },
      { what: 'the lease taken', interval: 100 },
    );
    assert.equal(taken?.term, 2);
    assert.equal(await a.renew(held), undefined, 'a lost it');
    assert.equal(await write(a, held, 'a with its stale term'), 0, 'fenced out');
    assert.equal(await write(b, taken as { engine: string; term: number }, 'b'), 1);
    const rows = await sql<{ what: string }[]>`SELECT what FROM timeline_test ORDER BY what`;
    assert.deepEqual(
      rows.map((r) => r.what),
      ['a while it owns', 'b'],
    );
    // Released: free at once for another.
    await b.release(taken as NonNullable<typeof taken>);
    const again = await a.acquire('e1');
    assert.equal(again?.term, 3);
    const [lease] = (await a.leases()).filter((l) => l.engine === 'e1');
    assert.equal(lease?.owner, 'a');
    assert.equal(lease?.live, true);
  });
});

describe('GET /api/v1/cluster with the SQLite store', () => {
  it('one instance owning every engine it watches; admins only', async () => {
    const data = mkdtempSync(join(tmpdir(), 'dockgate-cluster-'));
    // SQLite is the point here: pinned, so a --store=postgres run leaves it.
    const token = await monitorToken(data, 'root', 'admin', 'sqlite:');
    const monitor = await startMonitor([
      '--engine',
      `local=${testEngine().host}`,
      '--data',
      data,
      '--store',
      'sqlite:',
    ]);
    try {
      const answer = await fetch(`${monitor.url}/api/v1/cluster`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(answer.status, 200);
      const cluster = (await answer.json()) as {
        self: string;
        instances: { id: string; pid: number; listen: string; engines: string[] }[];
        leases: { engine: string; owner: string; term: number }[];
      };
      assert.equal(cluster.instances.length, 1);
      assert.equal(cluster.instances[0]?.id, cluster.self);
      assert.equal(cluster.instances[0]?.listen, monitor.url);
      assert.equal(cluster.instances[0]?.pid, monitor.child.pid);
      assert.deepEqual(cluster.instances[0]?.engines, ['local']);
      assert.deepEqual(cluster.leases, [{ engine: 'local', owner: cluster.self, term: 1, expiresAt: null }]);
      assert.equal((await fetch(`${monitor.url}/api/v1/cluster`)).status, 403, 'a viewer may not');
    } finally {
      await monitor.stop();
    }
  });
});

describe('membership: engines shared between monitors by leases', () => {
  it('4 engines on 2 monitors split 2/2; one killed (no release): the other owns all 4 within the lease time; a paused one drops its leases before writing again', async () => {
    await sql`DELETE FROM engine_leases`;
    await sql`DELETE FROM monitor_instances`;
    const engines = ['m1', 'm2', 'm3', 'm4'];
    const ttl = 1500;
    const options = { engines: () => engines, intervalMs: 200, staleMs: ttl, marginMs: 300 };
    const log: string[] = [];
    const member = (id: string): Membership =>
      new Membership(store(id, ttl), id, options, {
        acquired: (engine, term) => log.push(`${id} +${engine}@${term}`),
        lost: (engine) => log.push(`${id} -${engine}`),
      });
    const a = member('ma');
    const b = member('mb');
    await Promise.all([a.start(), b.start()]);
    try {
      await waitFor(() => a.owned().length === 2 && b.owned().length === 2, {
        what: 'a 2/2 split',
        timeout: 15_000,
      });
      assert.deepEqual([...a.owned(), ...b.owned()].sort(), engines);

      // a dies without giving anything back: b takes its engines once they expire.
      const killedAt = performance.now();
      await a.stop(false);
      await waitFor(() => b.owned().length === 4, { what: 'b owning all 4', timeout: 15_000 });
      const took = performance.now() - killedAt;
      assert.ok(took < ttl + 2 * options.staleMs + 1000, `taken over in ${Math.round(took)} ms`);

      // A monitor paused past its trust window (SIGSTOP): at its next round it drops what it held
      // before anything else — it never writes on a lease another may hold.
      await b.stop(true);
      await sql`DELETE FROM monitor_instances`; // the others gone: c's share is every engine
      const c = member('mc');
      await c.round();
      assert.equal(c.owned().length, 4);
      await new Promise((resolve) => setTimeout(resolve, ttl));
      const before = log.length;
      await c.round();
      assert.deepEqual(
        log.slice(before, before + 4).sort(),
        engines.map((e) => `mc -${e}`).sort(),
        'every lease dropped first',
      );
      await c.stop(true);
    } finally {
      await a.stop(true);
      await b.stop(true);
    }
  });
});
