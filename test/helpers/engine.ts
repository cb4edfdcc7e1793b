import { DockerClient } from '../../src/client/index.js';
import { FrameSplitter } from '../../src/client/streams.js';
import { DockgateError } from '../../src/errors.js';

/** Set by test/run.ts for every test process. */
export interface TestEngineEnv {
  /** The engine under test: the private dockerd, or DOCKGATE_TEST_ENGINE. */
  readonly host: string;
  readonly image: string;
  /** Label value put on every object the tests create, so cleanup touches nothing else. */
  readonly runId: string;
}

export const RUN_LABEL = 'dockgate.test.run';

export function testEngine(): TestEngineEnv {
  const host = process.env.DOCKGATE_TEST_DOCKER_HOST;
  const image = process.env.DOCKGATE_TEST_IMAGE;
  const runId = process.env.DOCKGATE_TEST_RUN_ID;
  if (host === undefined || image === undefined || runId === undefined) {
    throw new DockgateError(
      'DG_TEST_ENGINE',
      'integration tests run through `npm test` (test/run.ts), which starts the private engine and builds the test image',
    );
  }
  return { host, image, runId };
}

export function testClient(): DockerClient {
  return new DockerClient({ engine: testEngine().host });
}

export interface RunResult {
  readonly id: string;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Creates, runs, waits for and removes a container of the test image; demuxes its logs. */
export async function runContainer(
  client: DockerClient,
  cmd: string[],
  hostConfig: Record<string, unknown> = {},
): Promise<RunResult> {
  const id = await createContainer(client, cmd, { hostConfig });
  try {
    const waited = await client.json<{ StatusCode: number }>('POST', `/containers/${id}/wait`);
    const logs = await client.request('GET', `/containers/${id}/logs`, { query: { stdout: 1, stderr: 1 } });
    const chunks: Buffer[] = [];
    for await (const chunk of logs.body) chunks.push(chunk);
    const { stdout, stderr } = demux(Buffer.concat(chunks));
    return { id, exitCode: waited.StatusCode, stdout, stderr };
  } finally {
    await removeContainer(client, id);
  }
}

/** Demultiplexes a whole multiplexed stream into its stdout and stderr text (the client's splitter). */
export function demux(data: Buffer): { stdout: string; stderr: string } {
  const frames = new FrameSplitter().push(data);
  const text = (stream: string): string =>
    Buffer.concat(frames.filter((f) => f.stream === stream).map((f) => f.data)).toString();
  return { stdout: text('stdout'), stderr: text('stderr') };
}

/** Creates (and optionally starts) a labelled container of the test image; returns its id. */
export async function createContainer(
  client: DockerClient,
  cmd: string[],
  options: { start?: boolean; config?: Record<string, unknown>; hostConfig?: Record<string, unknown> } = {},
): Promise<string> {
  const { image, runId } = testEngine();
  const created = await client.json<{ Id: string }>('POST', '/containers/create', {
    body: {
      Image: image,
      Cmd: cmd,
      Labels: { [RUN_LABEL]: runId },
      ...options.config,
      HostConfig: { NetworkMode: 'none', ...options.hostConfig },
    },
  });
  if (options.start !== false) await client.json('POST', `/containers/${created.Id}/start`);
  return created.Id;
}

export async function removeContainer(client: DockerClient, id: string): Promise<void> {
  await client.json('DELETE', `/containers/${id}`, { query: { force: 1, v: 1 } });
}

/** The engine's unix socket or TCP address, for raw connections straight to it. */
export function engineTarget(): { path: string } | { port: number; host: string } {
  const host = testEngine().host;
  if (host.startsWith('unix://')) return { path: host.slice('unix://'.length) };
  const url = new URL(host);
  return { host: url.hostname, port: Number(url.port) };
}
