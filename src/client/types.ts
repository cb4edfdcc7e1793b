import type { components, operations } from './generated/engine-api.js';

/**
 * Friendly names for the generated Engine API types (src/client/generated/engine-api.ts, from
 * the official spec v1.55 with the patches of spec-patches.ts). Query and body types come from
 * the spec's operations, so every option the engine documents is typed.
 */
export type Schemas = components['schemas'];
type Ops = operations;

/** The query parameters of an operation (all optional unless the spec requires them). */
export type QueryOf<K extends keyof Ops> = Ops[K] extends { parameters: { query?: infer Q } }
  ? NonNullable<Q>
  : never;
/** The JSON body of an operation. */
export type BodyOf<K extends keyof Ops> = Ops[K] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

export type ContainerSummary = Schemas['ContainerSummary'];
export type ContainerInspect = Schemas['ContainerInspectResponse'];
export type ContainerCreateBody = BodyOf<'ContainerCreate'>;
export type ContainerCreateResponse = Schemas['ContainerCreateResponse'];
export type ContainerUpdateBody = BodyOf<'ContainerUpdate'>;
export type ContainerStats = Schemas['ContainerStatsResponse'];
export type ContainerTop = Schemas['ContainerTopResponse'];
export type ContainerWait = Schemas['ContainerWaitResponse'];
export type FilesystemChange = Schemas['FilesystemChange'];
export type ExecCreateBody = BodyOf<'ContainerExec'>;
export type ExecInspect = Ops['ExecInspect']['responses'][200]['content']['application/json'];
export type ImageSummary = Schemas['ImageSummary'];
export type ImageInspect = Schemas['ImageInspect'];
export type ImageHistoryItem = Ops['ImageHistory']['responses'][200]['content']['application/json'][number];
export type ImageDeleteItem = Schemas['ImageDeleteResponseItem'];
export type Volume = Schemas['Volume'];
export type VolumeCreateBody = BodyOf<'VolumeCreate'>;
export type VolumeList = Schemas['VolumeListResponse'];
export type Network = Schemas['Network'];
export type NetworkCreateBody = BodyOf<'NetworkCreate'>;
export type NetworkCreateResponse = Schemas['NetworkCreateResponse'];
export type EventMessage = Schemas['EventMessage'];
export type SystemInfo = Schemas['SystemInfo'];
export type SystemVersion = Schemas['SystemVersion'];
export type SystemDataUsage = Ops['SystemDataUsage']['responses'][200]['content']['application/json'];
export type AuthConfig = Schemas['AuthConfig'];
/** What a prune reports: what was deleted and the space reclaimed. */
export interface PruneReport {
  readonly ContainersDeleted?: readonly string[] | null;
  readonly ImagesDeleted?: readonly ImageDeleteItem[] | null;
  readonly VolumesDeleted?: readonly string[] | null;
  readonly NetworksDeleted?: readonly string[] | null;
  readonly SpaceReclaimed?: number;
}
/** `GET`/`HEAD /containers/{id}/archive`'s `X-Docker-Container-Path-Stat` header, decoded. */
export interface PathStat {
  readonly name: string;
  readonly size: number;
  readonly mode: number;
  readonly mtime: string;
  readonly linkTarget: string;
}
