import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TimelineEntry } from '../../src/monitor/store/history.js';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { monitorCli, monitorToken, startMonitor } from '../helpers/monitor-process.js';
import { type PrivatePostgres, startPrivatePostgres } from '../helpers/private-postgres.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 28: `dockgate monitor migrate --from sqlite:DIR --to postgres://…` on a real monitor's
 * SQLite history and a private PostgreSQL 15 — what it copies, that a monitor on the copy knows the
 * tokens, users, timelines and stats, and that a store with data is refused.
 */
const client = testClient();
const cleanup: string[] = [];
let pg: PrivatePostgres;
const PASSWORD = 'correct horse battery';

before(async () => {
  pg = await startPrivatePostgres();
});

after(async () => {
  for (const id of cleanup) await removeContainer(client, id).catch(() => {});
  pg?.stop();
});

describe('monitor migrate (SQLite → PostgreSQL)', () => {
  it('copies users, tokens, timelines and stats into an empty store and says what it copied; a monitor on it knows them all; a store with data is refused', async () => {
    const data = mkdtempSync(join(tmpdir(), 'dockgate-migrate-'));
    // A SQLite history of a real monitor: a token, a user, a container started and killed, samples.
    const sqlite = [
      '--engine',
      `local=${testEngine().host}`,
      '--data',
      data,
      '--store',
      'sqlite:',
      '--interval',
      '1s',
    ];
    // --store sqlite: given, so a run with --store=postgres does not move these to PostgreSQL.
    const token = await monitorToken(data, 'ops', 'admin', 'sqlite:');
    const user = await monitorCli(
      [
        'user',
        'add',
        'alice',
        '--role',
        'operator',
        '--password-stdin',
        '--data',
        data,
        '--store',
        'sqlite:',
      ],
      `${PASSWORD}\n`,
    );
    assert.equal(user.code, 0, user.stderr);
    let monitor = await startMonitor(sqlite);
    const id = await createContainer(client, ['sleep', '300']);
    cleanup.push(id);
    try {
      await waitFor(
        async () =>
          (
            (await (
              await fetch(`${monitor.url}/api/v1/containers/local/${id}/stats?since=1m&step=1s`)
            ).json()) as {
              points: unknown[];
            }
          ).points.length >= 2,
        { what: 'samples of the container' },
      );
      await client.json('POST', `/containers/${id}/kill`);
      await waitFor(
        async () =>
          (
            (await (await fetch(`${monitor.url}/api/v1/containers/local/${id}`)).json()) as {
              timeline: TimelineEntry[];
            }
          ).timeline.some((t) => t.action === 'die'),
        { what: 'the die in the timeline' },
      );
    } finally {
      await monitor.stop();
    }

    const url = pg.database('migrated');
    const missing = await monitorCli([
      'migrate',
      '--from',
      `sqlite:${join(data, 'nothing-here')}`,
      '--to',
      url,
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no monitor\.db/);
    const copied = await monitorCli(['migrate', '--from', `sqlite:${data}`, '--to', url]);
    assert.equal(copied.code, 0, copied.stderr);
    const counts = new Map(
      copied.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('\t') as [string, string])
        .map(([table, rows]) => [table, Number(rows)]),
    );
    assert.equal(counts.get('users'), 1);
    assert.equal(counts.get('tokens'), 1);
    assert.ok((counts.get('timeline') ?? 0) >= 4, `timeline rows: ${copied.stdout}`);
    assert.ok((counts.get('samples') ?? 0) >= 2, `samples: ${copied.stdout}`);
    assert.match(copied.stderr, /copied \d+ rows into postgres:\/\/.*sessions are not copied/);

    // A monitor on the copy: the token, the user, the timeline and the stats are there.
    monitor = await startMonitor(['--engine', `local=${testEngine().host}`, '--data', data, '--store', url]);
    try {
      const tokens = await fetch(`${monitor.url}/api/v1/tokens`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(tokens.status, 200);
      assert.deepEqual(
        ((await tokens.json()) as { name: string }[]).map((t) => t.name),
        ['ops'],
      );
      const signIn = await fetch(`${monitor.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'alice', password: PASSWORD }),
      });
      assert.equal(signIn.status, 200);
      const item = (await (await fetch(`${monitor.url}/api/v1/containers/local/${id}`)).json()) as {
        timeline: TimelineEntry[];
      };
      for (const action of ['create', 'start', 'kill', 'die'])
        assert.equal(
          item.timeline.filter((t) => t.kind === 'event' && t.action === action).length,
          1,
          action,
        );
      const stats = (await (
        await fetch(`${monitor.url}/api/v1/containers/local/${id}/stats?since=1h&step=1s`)
      ).json()) as {
        points: unknown[];
      };
      assert.ok(stats.points.length >= 2);
    } finally {
      await monitor.stop();
    }

    const again = await monitorCli(['migrate', '--from', `sqlite:${data}`, '--to', url]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already has users; migrate copies into an empty one only/);
  });
});
