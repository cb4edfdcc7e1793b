import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerClient } from '../../src/client/index.js';
import type { PruneOutcome } from '../../src/monitor/hosts/prune-runner.js';
import { type MonitorProcess, monitorToken, startMonitor } from '../helpers/monitor-process.js';
import { type PrivateEngine, startPrivateEngine } from '../helpers/private-engine.js';
import { ensureTestImage } from '../helpers/test-image.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Cleanup (issue 29): `POST /api/v1/engines/{name}/prune` on an engine of this test's own — an
 * "unused images" prune on the shared test engine would take other tests' images. The dry run
 * lists exactly what the real run removes; what a running container uses, and what carries
 * `dockgate.keep=true`, stays.
 */
const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'dockgate-prune-'));
let engine: PrivateEngine;
let client: DockerClient;
let monitor: MonitorProcess;
let admin: string;
let viewer: string;
const ids = {} as Record<
  'unused' | 'kept' | 'dangling' | 'runningImage' | 'running' | 'exited' | 'keptExited',
  string
>;

async function create(image: string, cmd: string[], labels: Record<string, string> = {}): Promise<string> {
  const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
    body: { Image: image, Cmd: cmd, Labels: labels, HostConfig: { NetworkMode: 'none' } },
  });
  return Id;
}

async function commit(container: string, repo: string | undefined, changes?: string): Promise<string> {
  const query: Record<string, string> = { container };
  if (repo !== undefined) Object.assign(query, { repo, tag: '1' });
  if (changes !== undefined) query.changes = changes;
  const { Id } = await client.json<{ Id: string }>('POST', '/commit', { query, body: {} });
  return Id;
}

before(async () => {
  engine = await startPrivateEngine();
  client = new DockerClient({ engine: engine.host });
  const image = await ensureTestImage(client, join(root, '.cache', 'test-image'));
  const base = await create(image, ['true']);
  ids.unused = await commit(base, 'dg-prune/unused');
  ids.kept = await commit(base, 'dg-prune/kept', 'LABEL dockgate.keep=true');
  ids.dangling = await commit(base, undefined);
  ids.runningImage = await commit(base, 'dg-prune/running');
  await client.json('DELETE', `/containers/${base}`);
  ids.running = await create('dg-prune/running:1', ['sleep', '600']);
  await client.json('POST', `/containers/${ids.running}/start`);
  ids.exited = await create(image, ['true']);
  ids.keptExited = await create(image, ['true'], { 'dockgate.keep': 'true' });
  for (const id of [ids.exited, ids.keptExited]) {
    await client.json('POST', `/containers/${id}/start`);
    await client.json('POST', `/containers/${id}/wait`);
  }
  const data = join(dir, 'data');
  admin = await monitorToken(data, 'cleaner', 'admin');
  viewer = await monitorToken(data, 'looker', 'viewer');
  monitor = await startMonitor(['--engine', `p=${engine.host}`, '--data', data, '--interval', '1s']);
});

after(async () => {
  await monitor?.stop();
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function prune(
  body: unknown,
  token = admin,
): Promise<{ status: number; json: PruneOutcome & { message?: string } }> {
  const response = await fetch(`${monitor.url}/api/v1/engines/p/prune`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as PruneOutcome & { message?: string } };
}

const names = (o: PruneOutcome): Record<string, string[]> => ({
  containers: o.plan.containers.map((c) => c.id).sort(),
  images: o.plan.images.map((i) => i.id).sort(),
  volumes: o.plan.volumes.map((v) => v.id).sort(),
});

describe('POST /api/v1/engines/{name}/prune', () => {
  it('prune_refused_regression: viewers are refused; an empty or unknown body is a 400, never a prune', async () => {
    assert.equal((await prune({ images: 'unused', dryRun: true }, viewer)).status, 403);
    const empty = await prune({ dryRun: true });
    assert.equal(empty.status, 400);
    assert.match(empty.json.message ?? '', /say what to clean up/);
    assert.equal((await prune({ images: 'all' })).status, 400);
    assert.equal((await prune({ images: 'unused', volumes: 'yes' })).status, 400);
    assert.equal((await prune({ images: 'unused', olderThan: 'soon' })).status, 400);
  });

  it('prune_dry_run_equals_real: the dry run lists exactly what goes; running and kept objects stay', async () => {
    const body = { images: 'unused', containers: 'exited' };
    const dry = await prune({ ...body, dryRun: true });
    assert.equal(dry.status, 200, dry.json.message);
    assert.equal(dry.json.dryRun, true);
    const planned = names(dry.json);
    assert.deepEqual(planned.containers, [ids.exited].sort(), 'the exited container, not the kept one');
    // The unused and the dangling images; not the kept one, not the running container's, not the
    // test image (the kept exited container uses it).
    assert.deepEqual(planned.images, [ids.unused, ids.dangling].sort());
    assert.deepEqual(planned.volumes, [], 'volumes only when asked');
    // Nothing was removed by the dry run.
    assert.equal(
      (await client.images.list()).some((i) => i.Id === ids.unused),
      true,
    );
    const real = await prune({ ...body, dryRun: false });
    assert.equal(real.status, 200, real.json.message);
    assert.deepEqual(names(real.json), planned, 'the real run removed the same list');
    assert.deepEqual(real.json.failed, []);
    assert.equal(real.json.by, 'cleaner');
    assert.ok((real.json.reclaimedBytes ?? -1) >= 0);
    const images = new Set((await client.images.list({ all: true })).map((i) => i.Id));
    assert.equal(images.has(ids.unused), false);
    assert.equal(images.has(ids.dangling), false);
    assert.equal(images.has(ids.kept), true, 'dockgate.keep=true image survives');
    assert.equal(images.has(ids.runningImage), true, "a running container's image survives");
    const containers = new Map((await client.containers.list({ all: true })).map((c) => [c.Id, c.State]));
    assert.equal(containers.has(ids.exited), false);
    assert.equal(containers.get(ids.keptExited), 'exited', 'dockgate.keep=true container survives');
    assert.equal(containers.get(ids.running), 'running');
    // Recorded: the audit line says who; the disk answer lists the cleanup.
    await waitFor(
      () => /"msg":"engine prune"/.test(monitor.stderr()) || /engine prune/.test(monitor.stdout()),
      {
        what: 'the audit line',
      },
    );
    const audit = `${monitor.stdout()}${monitor.stderr()}`
      .split('\n')
      .find((l) => l.includes('engine prune'));
    assert.match(audit ?? '', /"by":"cleaner"/);
    const disk = (await (
      await fetch(`${monitor.url}/api/v1/engines/p/disk`, { headers: { authorization: `Bearer ${viewer}` } })
    ).json()) as { prunes: { by: string; removed: { containers: number; images: number } }[] };
    assert.equal(disk.prunes[0]?.by, 'cleaner');
    assert.deepEqual(disk.prunes[0]?.removed, { containers: 1, images: 2, volumes: 0, buildCache: 0 });
    // The removed container's timeline says who removed it.
    const item = (await (
      await fetch(`${monitor.url}/api/v1/containers/p/${ids.exited}`, {
        headers: { authorization: `Bearer ${viewer}` },
      })
    ).json()) as { timeline: { action: string; by?: string }[] };
    assert.ok(item.timeline.some((t) => t.action === 'remove' && t.by === 'cleaner'));
  });

  it('prune_nothing_left: the same prune again lists nothing', async () => {
    const again = await prune({ images: 'unused', containers: 'exited', dryRun: true });
    assert.deepEqual(names(again.json), { containers: [], images: [], volumes: [] });
    assert.equal(again.json.plan.bytes, 0);
  });
});
