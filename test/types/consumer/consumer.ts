/**
 * A consumer of the packed `dockgate` package (issue 11), compiled by
 * test/integration/client-package.test.ts in a fresh project (`strict`, `module: nodenext`)
 * against the `npm pack` output, then run against the test engine. It reads every field
 * docs/client.md promises as always sent the way a user would: no `?.`, no `!`. At run time
 * `present()` checks that the engine really sent each one.
 */
import {
  BadRequestError,
  ConflictError,
  ConnectionError,
  DockerClient,
  EngineError,
  ForbiddenError,
  isAbortError,
  isTimeoutError,
  NotFoundError,
  NotModifiedError,
  ProgressError,
  ServerError,
  UnauthorizedError,
  UpgradeError,
} from 'dockgate/client';

const missing: string[] = [];
function present(name: string, value: unknown): void {
  if (value === null || value === undefined) missing.push(name);
}

const docker = new DockerClient({ url: process.env.CONSUMER_DOCKER_HOST ?? '' });
const image = process.env.CONSUMER_IMAGE ?? '';
const labels = { [process.env.CONSUMER_LABEL ?? 'consumer']: 'yes' };

// Every error class the docs list is importable and is a class.
const classes = [
  BadRequestError,
  ConflictError,
  ConnectionError,
  EngineError,
  ForbiddenError,
  NotFoundError,
  NotModifiedError,
  ProgressError,
  ServerError,
  UnauthorizedError,
  UpgradeError,
];
for (const Class of classes) present(`class ${Class.name}`, Class.prototype);

const { Id } = await docker.containers.create({
  Image: image,
  Cmd: ['true'],
  Labels: labels,
  HostConfig: { NetworkMode: 'none' },
});
const volume = await docker.volumes.create({ Labels: labels });
try {
  // Container inspect and its state.
  const inspect = await docker.containers.inspect(Id);
  const state = inspect.State;
  const exitCode: number = state.ExitCode;
  const status: string = state.Status;
  const running: boolean = state.Running;
  const oom: boolean = state.OOMKilled;
  const inspected: Record<string, unknown> = {
    Id: inspect.Id,
    Created: inspect.Created.length,
    Path: inspect.Path,
    Args: inspect.Args.length,
    Image: inspect.Image,
    Name: inspect.Name,
    RestartCount: inspect.RestartCount,
    Driver: inspect.Driver,
    HostConfig: inspect.HostConfig,
    Mounts: inspect.Mounts.length,
    Config: inspect.Config,
    NetworkSettings: inspect.NetworkSettings,
    'State.Paused': state.Paused,
    'State.Restarting': state.Restarting,
    'State.Dead': state.Dead,
    'State.Pid': state.Pid,
    'State.Error': state.Error,
    'State.StartedAt': state.StartedAt.length,
    'State.FinishedAt': state.FinishedAt.length,
    'State.ExitCode': exitCode,
    'State.Status': status,
    'State.Running': running,
    'State.OOMKilled': oom,
  };
  for (const [name, value] of Object.entries(inspected)) present(`inspect.${name}`, value);

  // Container list.
  const [listed] = await docker.containers.list({ all: true, filters: { id: [Id] } });
  if (listed === undefined) missing.push('the created container in the list');
  else {
    const item: Record<string, unknown> = {
      Id: listed.Id,
      Names: listed.Names.length,
      Image: listed.Image,
      ImageID: listed.ImageID,
      Command: listed.Command,
      Created: listed.Created,
      Ports: listed.Ports.length,
      Labels: Object.keys(listed.Labels).length,
      State: listed.State,
      Status: listed.Status,
      HostConfig: listed.HostConfig,
      NetworkSettings: listed.NetworkSettings,
      Mounts: listed.Mounts.length,
    };
    for (const [name, value] of Object.entries(item)) present(`list.${name}`, value);
  }

  // Version.
  const version = await docker.system.version();
  for (const [name, value] of Object.entries({
    Version: version.Version.length,
    ApiVersion: version.ApiVersion.length,
    MinAPIVersion: version.MinAPIVersion.length,
    GitCommit: version.GitCommit.length,
    GoVersion: version.GoVersion.length,
    Os: version.Os.length,
    Arch: version.Arch.length,
    KernelVersion: version.KernelVersion.length,
  }))
    present(`version.${name}`, value);

  // Events: the create above, replayed.
  const until = String(Math.ceil(Date.now() / 1000) + 1);
  for await (const event of docker.system.events({ since: '0', until, filters: { container: [Id] } })) {
    const type: string = event.Type;
    const action: string = event.Action;
    const actor: string = event.Actor.ID;
    const attributes: number = Object.keys(event.Actor.Attributes).length;
    const time: number = event.time;
    const nano: number = event.timeNano;
    for (const [name, value] of Object.entries({ type, action, actor, attributes, time, nano }))
      present(`event.${name}`, value);
  }

  // Networks.
  for (const network of await docker.networks.list()) {
    const fields: Record<string, unknown> = {
      Name: network.Name.length,
      Id: network.Id.length,
      Created: network.Created.length,
      Scope: network.Scope.length,
      Driver: network.Driver.length,
      EnableIPv6: network.EnableIPv6,
      IPAM: network.IPAM,
      Internal: network.Internal,
      Attachable: network.Attachable,
      Ingress: network.Ingress,
      Options: Object.keys(network.Options).length,
      Labels: Object.keys(network.Labels).length,
    };
    for (const [name, value] of Object.entries(fields)) present(`network.${name}`, value);
  }

  // Volumes.
  const volumes = await docker.volumes.list({ filters: { name: [volume.Name] } });
  present('volumes.Warnings', volumes.Warnings.length);
  for (const item of volumes.Volumes) {
    const fields: Record<string, unknown> = {
      Name: item.Name.length,
      Driver: item.Driver.length,
      Mountpoint: item.Mountpoint.length,
      Labels: Object.keys(item.Labels).length,
      Scope: item.Scope.length,
      Options: Object.keys(item.Options).length,
    };
    for (const [name, value] of Object.entries(fields)) present(`volume.${name}`, value);
  }
  const inspectedVolume = await docker.volumes.inspect(volume.Name);
  present('volume inspect.Options', Object.keys(inspectedVolume.Options).length);

  // Image inspect (Created is optional since API 1.44: the consumer checks it).
  const img = await docker.images.inspect(image);
  const created: string = img.Created ?? 'not recorded';
  for (const [name, value] of Object.entries({
    Id: img.Id.length,
    RepoTags: img.RepoTags.length,
    RepoDigests: img.RepoDigests.length,
    Architecture: img.Architecture.length,
    Os: img.Os.length,
    Size: img.Size,
    RootFS: img.RootFS.Type.length,
    created,
  }))
    present(`image.${name}`, value);

  // Aborts and timeouts are told apart with the exported predicates.
  const controller = new AbortController();
  controller.abort();
  const aborted = await docker.system.ping({ signal: controller.signal }).catch((error: unknown) => error);
  if (!isAbortError(aborted)) missing.push('isAbortError(an aborted call)');
  const timedOut = await docker.containers
    .wait(Id, { condition: 'next-exit' }, { timeout: 50 })
    .catch((error: unknown) => error);
  if (!isTimeoutError(timedOut)) missing.push(`isTimeoutError(a timed-out call): ${String(timedOut)}`);
} finally {
  await docker.containers.remove(Id, { force: true });
  await docker.volumes.remove(volume.Name);
  await docker.close();
}

if (missing.length > 0) {
  process.stderr.write(`not sent: ${missing.join(', ')}\n`);
  process.exit(1);
}
process.stdout.write('every promised field present\n');
