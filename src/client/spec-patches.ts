/**
 * The one place where the official Engine API spec is corrected before types are generated
 * (scripts/gen-engine-types.ts). Every patch says why.
 *
 * Required fields. The spec leaves `required` out of most response schemas, which would make
 * every field of every answer optional in the generated types — `container.Id` typed
 * `string | undefined`. We declare required the fields that dockerd has always sent (API 1.41
 * through 1.55, checked against dockerd 20.10 in the client's tests); everything else stays
 * optional, as the spec says. Request bodies are untouched: their fields are optional by design.
 *
 * A required field is also non-null: the spec marks some of them `x-nullable` (`ContainerState`,
 * which `ContainerInspectResponse.State` refers to; `ContainerInspectResponse.Created`), which made
 * `inspect.State` `{…} | null` for a strict consumer (issue 11) although dockerd always sends both.
 * The mark is removed from the field and from the definition it refers to.
 *
 * `ImageInspect.Created` stays optional: since API 1.44 the spec says it is omitted when the image
 * does not record it (images from the containerd store), so a consumer must check it.
 */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  ContainerSummary: [
    'Id',
    'Names',
    'Image',
    'ImageID',
    'Command',
    'Created',
    'Ports',
    'Labels',
    'State',
    'Status',
    'HostConfig',
    'NetworkSettings',
    'Mounts',
  ],
  ContainerInspectResponse: [
    'Id',
    'Created',
    'Path',
    'Args',
    'State',
    'Image',
    'Name',
    'RestartCount',
    'Driver',
    'HostConfig',
    'Mounts',
    'Config',
    'NetworkSettings',
  ],
  ContainerState: [
    'Status',
    'Running',
    'Paused',
    'Restarting',
    'OOMKilled',
    'Dead',
    'Pid',
    'ExitCode',
    'Error',
    'StartedAt',
    'FinishedAt',
  ],
  SystemVersion: [
    'Version',
    'ApiVersion',
    'MinAPIVersion',
    'GitCommit',
    'GoVersion',
    'Os',
    'Arch',
    'KernelVersion',
  ],
  EventMessage: ['Type', 'Action', 'Actor', 'time', 'timeNano'],
  EventActor: ['ID', 'Attributes'],
  Network: [
    'Name',
    'Id',
    'Created',
    'Scope',
    'Driver',
    'EnableIPv6',
    'IPAM',
    'Internal',
    'Attachable',
    'Ingress',
    'Options',
    'Labels',
  ],
  ImageInspect: ['Id', 'RepoTags', 'RepoDigests', 'Architecture', 'Os', 'Size', 'RootFS'],
  ContainerTopResponse: ['Titles', 'Processes'],
  VolumeListResponse: ['Volumes', 'Warnings'],
};

type Spec = Record<string, unknown> & { definitions?: Record<string, Record<string, unknown>> };

/** Returns the spec with the patches applied (the input is not modified). */
export function patchSpec(input: Record<string, unknown>): Record<string, unknown> {
  const spec = structuredClone(input) as Spec;
  const definitions = spec.definitions ?? {};
  for (const [name, fields] of Object.entries(REQUIRED)) {
    const schema = definitions[name];
    if (schema === undefined) throw new Error(`spec patch: no definition ${name}`);
    const properties = (schema.properties ?? {}) as Record<string, unknown>;
    for (const field of fields) {
      const property = properties[field] as Record<string, unknown> | undefined;
      if (property === undefined) throw new Error(`spec patch: ${name} has no property ${field}`);
      delete property['x-nullable'];
      const target = referenced(definitions, property);
      if (target !== undefined) delete target['x-nullable'];
    }
    delete schema['x-nullable'];
    schema.required = [...new Set([...((schema.required as string[] | undefined) ?? []), ...fields])];
  }
  return spec;
}

/** The definition a property refers to (`$ref`, or the first of an `allOf`), if any. */
function referenced(
  definitions: Record<string, Record<string, unknown>>,
  property: Record<string, unknown>,
): Record<string, unknown> | undefined {
  const allOf = property.allOf as { $ref?: string }[] | undefined;
  const ref = (property.$ref as string | undefined) ?? allOf?.[0]?.$ref;
  return ref === undefined ? undefined : definitions[ref.slice(ref.lastIndexOf('/') + 1)];
}
