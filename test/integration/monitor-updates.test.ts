import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContainerItem } from '../../src/monitor/model/container.js';
import { createContainer, removeContainer, testClient, testEngine } from '../helpers/engine.js';
import { type MonitorProcess, monitorToken, startMonitor } from '../helpers/monitor-process.js';
import { type PrivateRegistry, pushImage, startPrivateRegistry } from '../helpers/private-registry.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 26, knowing: a container's image against a real registry (Debian's docker-registry on
 * 127.0.0.1, anonymous and htpasswd), the tag asked with a HEAD of its manifest, the answer
 * compared with the image's RepoDigests on the engine.
 */
const client = testClient();
const containers: string[] = [];
const newData = (): string => mkdtempSync(join(tmpdir(), 'dockgate-updates-'));

/** Builds `FROM test image` with APP_VERSION=version, tags it `tag`, pushes it; its digest. */
const pushVersion = (
  tag: string,
  version: number,
  auth?: { username: string; password: string },
): Promise<string> => pushImage(client, tag, [`ENV APP_VERSION=${version}`], auth);

async function check(monitor: MonitorProcess, token: string): Promise<ContainerItem[]> {
  const answer = await fetch(`${monitor.url}/api/v1/updates/check`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(answer.status, 200);
  return (await answer.json()) as ContainerItem[];
}

async function item(monitor: MonitorProcess, id: string): Promise<ContainerItem> {
  const list = (await (await fetch(`${monitor.url}/api/v1/containers`)).json()) as ContainerItem[];
  const found = list.find((c) => c.id === id);
  assert.ok(found, id);
  return found;
}

function configFile(registries: string, extra = ''): string {
  const file = join(newData(), 'monitor.yaml');
  writeFileSync(
    file,
    `version: 1\nengines:\n  - name: local\n    url: ${testEngine().host}\nregistries:\n${registries}${extra}`,
  );
  return file;
}

interface AlertItem {
  kind: string;
  state: string;
  container: { id: string } | null;
  details: { available?: string };
}

after(async () => {
  for (const id of containers) await removeContainer(client, id).catch(() => {});
});

describe('update checks (anonymous registry)', () => {
  let registry: PrivateRegistry & { remove(): Promise<void> };
  let monitor: MonitorProcess;
  let token: string;
  before(async () => {
    registry = await startPrivateRegistry();
    const data = newData();
    token = await monitorToken(data, 'ops', 'operator');
    monitor = await startMonitor([
      '--config',
      configFile(
        `  - host: ${registry.host}\n    insecure: true\n`,
        'alerts:\n  update-available:\n    enabled: true\n',
      ),
      '--data',
      data,
    ]);
  });
  after(async () => {
    await monitor.stop();
    await registry.remove();
  });

  it('current, then outdated when the tag moves; local, pinned; GET /api/v1/updates lists the outdated', async () => {
    const tag = `${registry.host}/dockgate-test/app:stable`;
    const v1 = await pushVersion(tag, 1);
    const running = await createContainer(client, ['sleep', '300'], { config: { Image: tag } });
    const pinned = await createContainer(client, ['sleep', '300'], {
      config: { Image: `${registry.host}/dockgate-test/app@${v1}` },
    });
    const local = await createContainer(client, ['sleep', '300']);
    containers.push(running, pinned, local);
    assert.deepEqual(await check(monitor, token), []);
    const current = await item(monitor, running);
    assert.equal(current.update.status, 'current');
    assert.equal(current.update.current, v1);
    assert.equal(current.update.available, v1);
    assert.ok(current.update.checkedAt !== null);
    assert.equal((await item(monitor, pinned)).update.status, 'pinned');
    assert.equal((await item(monitor, local)).update.status, 'local', 'an imported image: no registry asked');

    const v2 = await pushVersion(tag, 2);
    assert.notEqual(v2, v1);
    const outdated = await check(monitor, token);
    assert.deepEqual(
      outdated.map((c) => c.id),
      [running],
    );
    assert.deepEqual(outdated[0]?.update, {
      status: 'outdated',
      checkedAt: outdated[0]?.update.checkedAt,
      current: v1,
      available: v2,
    });
    const listed = (await (await fetch(`${monitor.url}/api/v1/updates`)).json()) as ContainerItem[];
    assert.deepEqual(
      listed.map((c) => c.id),
      [running],
    );
    // One HEAD per tag per check, whatever the number of containers running it.
    const before = registry.requests(/manifests\/stable/);
    await check(monitor, token);
    assert.equal(registry.requests(/manifests\/stable/) - before, 1);
    // update-available: one incident for the new digest, not one per check.
    const updateAlerts = async (): Promise<AlertItem[]> =>
      ((await (await fetch(`${monitor.url}/api/v1/alerts`)).json()) as AlertItem[]).filter(
        (a) => a.kind === 'update-available',
      );
    await waitFor(async () => (await updateAlerts()).length === 1, { what: 'an update-available alert' });
    await check(monitor, token);
    await new Promise((r) => setTimeout(r, 2000));
    const alerts = await updateAlerts();
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]?.container?.id, running);
    assert.equal(alerts[0]?.state, 'open');
    assert.equal(alerts[0]?.details.available, v2);
  });

  it('a viewer may look, not ask: POST /api/v1/updates/check is for operators', async () => {
    const answer = await fetch(`${monitor.url}/api/v1/updates/check`, { method: 'POST' });
    assert.equal(answer.status, 403);
  });

  it('registry down: unknown, with the error', async () => {
    const tag = `${registry.host}/dockgate-test/down:v`;
    await pushVersion(tag, 1);
    const id = await createContainer(client, ['sleep', '300'], { config: { Image: tag } });
    containers.push(id);
    await registry.stop();
    try {
      await check(monitor, token);
      const down = await item(monitor, id);
      assert.equal(down.update.status, 'unknown');
      assert.match(down.update.error ?? '', /127\.0\.0\.1/);
    } finally {
      await registry.start();
    }
  });
});

describe('update checks (htpasswd registry)', () => {
  it('the right password: current; a wrong one: unknown, "unauthorized", not asked again before the interval', async () => {
    const auth = { username: 'ci', password: 'right-password' };
    const registry = await startPrivateRegistry(auth);
    const tag = `${registry.host}/dockgate-test/private:v`;
    try {
      await pushVersion(tag, 1, auth);
      const id = await createContainer(client, ['sleep', '300'], { config: { Image: tag } });
      containers.push(id);
      for (const [password, expected] of [
        ['right-password', 'current'],
        ['wrong-password', 'unknown'],
      ] as const) {
        const data = newData();
        const token = await monitorToken(data, 'ops', 'operator');
        const monitor = await startMonitor(
          [
            '--config',
            configFile(
              `  - host: ${registry.host}\n    insecure: true\n    username: ci\n    passwordEnv: REGISTRY_PASSWORD\n`,
            ),
            '--data',
            data,
          ],
          { REGISTRY_PASSWORD: password },
        );
        try {
          await check(monitor, token);
          const checked = await item(monitor, id);
          assert.equal(checked.update.status, expected, JSON.stringify(checked.update));
          if (expected === 'unknown') {
            assert.match(checked.update.error ?? '', /unauthorized/);
            const asked = registry.requests(/manifests\/v/);
            await check(monitor, token);
            await check(monitor, token);
            assert.equal(registry.requests(/manifests\/v/), asked, 'no request storm');
          }
        } finally {
          await monitor.stop();
        }
      }
    } finally {
      await registry.remove();
    }
  });
});
