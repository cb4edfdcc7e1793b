/**
 * dockerode (with docker-modem) through the gateway, compared with dockerode straight to the
 * engine: exec with and without `hijack: true`, demuxed output, followProgress.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { pack } from 'tar-stream';
import { parseEngineUrl } from '../../src/engine/endpoint.js';
import { RUN_LABEL, testEngine } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

function directDocker(): Docker {
  const endpoint = parseEngineUrl(testEngine().host);
  if (endpoint.kind === 'unix') return new Docker({ socketPath: endpoint.path });
  if (endpoint.kind === 'tcp') return new Docker({ host: endpoint.host, port: endpoint.port });
  throw new Error('unsupported test engine');
}

/** Collects a demuxed exec/attach stream until it ends. */
function collect(docker: Docker, stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  docker.modem.demuxStream(stream, stdout, stderr);
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve({ stdout: out, stderr: err }));
    stream.on('close', () => resolve({ stdout: out, stderr: err }));
    stream.on('error', reject);
  });
}

interface Scenario {
  readonly name: string;
  readonly run: (docker: Docker, container: Docker.Container) => Promise<unknown>;
  readonly expected: unknown;
}

const scenarios: Scenario[] = [
  {
    name: 'exec without hijack (legacy 200 raw stream), demuxed',
    run: async (docker, container) => {
      const exec = await container.exec({
        Cmd: ['sh', '-c', 'echo o; sleep 0.5; echo e >&2'],
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = await exec.start({});
      const output = await collect(docker, stream);
      const { ExitCode } = await exec.inspect();
      return { ...output, ExitCode };
    },
    expected: { stdout: 'o\n', stderr: 'e\n', ExitCode: 0 },
  },
  {
    name: 'exec with hijack: true and stdin',
    run: async (docker, container) => {
      const exec = await container.exec({
        Cmd: ['sh', '-c', 'head -c 6; echo; echo done'],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
      });
      const stream = (await exec.start({ hijack: true, stdin: true })) as NodeJS.ReadWriteStream;
      const output = collect(docker, stream);
      stream.write('abcdef');
      return output;
    },
    expected: { stdout: 'abcdef\ndone\n', stderr: '' },
  },
  {
    name: 'attach and wait',
    run: async (docker) => {
      const container = await docker.createContainer({
        Image: testEngine().image,
        Cmd: ['sh', '-c', 'sleep 0.5; echo attached; exit 4'],
        Labels: { [RUN_LABEL]: testEngine().runId },
        HostConfig: { NetworkMode: 'none' },
      });
      try {
        const stream = await container.attach({ stream: true, stdout: true, stderr: true });
        const output = collect(docker, stream);
        await container.start();
        const waited = (await container.wait()) as { StatusCode: number };
        return { ...(await output), StatusCode: waited.StatusCode };
      } finally {
        await container.remove({ force: true });
      }
    },
    expected: { stdout: 'attached\n', stderr: '', StatusCode: 4 },
  },
  {
    name: 'followProgress over a build with an in-band error',
    run: async (docker) => {
      const tar = pack();
      tar.entry(
        { name: 'Dockerfile' },
        `FROM ${testEngine().image}\nLABEL ${RUN_LABEL}=${testEngine().runId}\nRUN echo progress-line\nRUN exit 3\n`,
      );
      tar.finalize();
      const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, {
        t: 'dockgate-test/dockerode-fails:1',
        forcerm: true,
      });
      const events = await new Promise<{ stream?: string; errorDetail?: { code?: number } }[]>(
        (resolve, reject) =>
          docker.modem.followProgress(stream, (error: Error | null, output: unknown[]) =>
            error ? reject(error) : resolve(output as { stream?: string; errorDetail?: { code?: number } }[]),
          ),
      );
      return {
        sawProgress: events.some((event) => event.stream?.includes('progress-line') === true),
        errorCode: events.find((event) => event.errorDetail)?.errorDetail?.code,
      };
    },
    expected: { sawProgress: true, errorCode: 3 },
  },
  {
    name: 'list, inspect and filter containers',
    run: async (docker, container) => {
      const info = await container.inspect();
      const listed = await docker.listContainers({ filters: { id: [info.Id] } });
      return { listed: listed.length, running: info.State.Running, image: info.Config.Image };
    },
    expected: { listed: 1, running: true, image: 'dockgate-test/busybox:1' },
  },
];

describe('dockerode conformance through the gateway', () => {
  let gateway: TestGateway;
  const direct = directDocker();
  let viaGateway: Docker;
  let container: Docker.Container;

  before(async () => {
    gateway = await startGateway();
    viaGateway = new Docker({ host: '127.0.0.1', port: gateway.port });
    container = await direct.createContainer({
      Image: testEngine().image,
      Cmd: ['sleep', '600'],
      Labels: { [RUN_LABEL]: testEngine().runId },
      HostConfig: { NetworkMode: 'none' },
    });
    await container.start();
  });
  after(async () => {
    await container.remove({ force: true });
    await gateway.stop();
  });

  for (const { name, run, expected } of scenarios) {
    it(`${name}: the same through the gateway as direct`, async () => {
      const viaEngine = await run(direct, container);
      assert.deepEqual(viaEngine, expected);
      const through = await run(viaGateway, viaGateway.getContainer(container.id));
      assert.deepEqual(through, viaEngine);
    });
  }
});
