import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { RUN_LABEL, runContainer, testClient, testEngine } from '../helpers/engine.js';

describe('private test engine', () => {
  const client = testClient();
  after(() => client.close());

  it('is a private dockerd when DOCKGATE_TEST_ENGINE is not set', async (t) => {
    const info = await client.json<{ DockerRootDir: string; Name: string }>('GET', '/info');
    const dir = process.env.DOCKGATE_TEST_ENGINE_DIR;
    if (process.env.DOCKGATE_TEST_ENGINE) {
      t.diagnostic(`shared engine ${process.env.DOCKGATE_TEST_ENGINE}: root ${info.DockerRootDir}`);
      return;
    }
    assert.ok(dir, 'the harness names the engine directory');
    assert.equal(info.DockerRootDir, `${dir}/data`);
  });

  it('runs a container from the busybox test image and captures stdout, stderr and exit code', async () => {
    const result = await runContainer(client, [
      'sh',
      '-c',
      'echo "hello from $(hostname)"; echo oops >&2; exit 3',
    ]);
    assert.equal(result.exitCode, 3);
    assert.match(result.stdout, /^hello from [0-9a-f]{12}\n$/);
    assert.equal(result.stderr, 'oops\n');
  });

  it('removes the container it ran', async () => {
    const { id } = await runContainer(client, ['true']);
    const left = await client.request('GET', `/containers/${id}/json`);
    left.body.resume();
    assert.equal(left.status, 404);
  });

  it('labels what it creates with the run id, so a shared engine is cleaned of this run only', async () => {
    const created = await client.json<{ Id: string }>('POST', '/containers/create', {
      body: { Image: testEngine().image, Cmd: ['true'], Labels: { [RUN_LABEL]: testEngine().runId } },
    });
    try {
      const filters = JSON.stringify({ label: [`${RUN_LABEL}=${testEngine().runId}`], id: [created.Id] });
      const labelled = await client.json<{ Id: string }[]>('GET', '/containers/json', {
        query: { all: 1, filters },
      });
      assert.deepEqual(
        labelled.map((container) => container.Id),
        [created.Id],
      );
    } finally {
      await client.json('DELETE', `/containers/${created.Id}`, { query: { force: 1 } });
    }
  });

  it('gives containers no network but loopback', async () => {
    const result = await runContainer(client, ['sh', '-c', 'ls /sys/class/net | sort | tr "\\n" " "']);
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout.trim(), 'lo');
  });
});
