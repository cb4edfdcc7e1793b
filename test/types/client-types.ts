/**
 * Type tests of the public client API. Not run: `npm run typecheck` (part of `npm test`) compiles
 * them, and each `@ts-expect-error` fails the build if the mistake it marks stops being an error.
 */
import type { ContainerSummary, DockerClient, EventMessage, Session } from '../../src/client/index.js';

export async function typeTests(docker: DockerClient): Promise<void> {
  // Answers: always-present fields are required (spec-patches.ts), so no `?.` is needed.
  const [first]: ContainerSummary[] = await docker.containers.list({
    all: true,
    filters: { label: ['a=b'] },
  });
  if (first !== undefined) {
    const id: string = first.Id;
    const names: readonly string[] = first.Names;
    void [id, names];
  }
  const inspect = await docker.containers.inspect('x');
  const tty: boolean | undefined = inspect.Config.Tty;
  // State and Created are never null (issue 11); the packed-package test reads every promised field.
  const exitCode: number = inspect.State.ExitCode;
  const created: string = inspect.Created;
  void [tty, exitCode, created];
  // Requests: optional fields stay optional; unknown options are refused.
  await docker.containers.create({ Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  // @ts-expect-error Cmd is a list of strings
  await docker.containers.create({ Image: 'busybox', Cmd: 42 });
  // @ts-expect-error an option the engine does not have
  await docker.containers.list({ everything: true });
  // Streams are typed async iterables.
  for await (const event of docker.system.events()) {
    const type: EventMessage['Type'] = event.Type;
    const action: string = event.Action;
    void [type, action];
  }
  for await (const frame of docker.containers.logs('x', { follow: true, tail: '10' })) {
    const stream: 'stdin' | 'stdout' | 'stderr' = frame.stream;
    const data: Buffer = frame.data;
    void [stream, data];
  }
  // Sessions: a Duplex with stderr and an exit code.
  const session: Session = await docker.exec.start('x');
  const code: number = await session.exitCode;
  session.stderr.resume();
  void code;
  // @ts-expect-error an exit code is a number
  const wrong: string = await session.exitCode;
  void wrong;
}
