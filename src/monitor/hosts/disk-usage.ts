import type { EngineWatcher } from '../engines/engine-watcher.js';

/** The parts of `GET /system/df` read here (API 1.41; null lists on an empty engine). */
export interface SystemDf {
  readonly LayersSize?: number;
  readonly Images?: readonly DfImage[] | null;
  readonly Containers?: readonly DfContainer[] | null;
  readonly Volumes?: readonly DfVolume[] | null;
  readonly BuildCache?: readonly DfBuildCache[] | null;
}
export interface DfImage {
  readonly Id: string;
  readonly RepoTags?: readonly string[] | null;
  readonly Created: number;
  readonly Size: number;
  readonly SharedSize: number;
  readonly Containers: number;
  readonly Labels?: Readonly<Record<string, string>> | null;
}
export interface DfContainer {
  readonly Id: string;
  readonly Names?: readonly string[];
  readonly Image: string;
  readonly ImageID: string;
  readonly Created: number;
  readonly State: string;
  readonly SizeRw?: number;
  readonly Labels?: Readonly<Record<string, string>> | null;
}
export interface DfVolume {
  readonly Name: string;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly UsageData?: { readonly Size: number; readonly RefCount: number } | null;
}
export interface DfBuildCache {
  readonly ID: string;
  readonly Type?: string;
  readonly Size: number;
  readonly InUse: boolean;
  readonly Shared: boolean;
  readonly LastUsedAt?: string | null;
  readonly CreatedAt?: string;
}

export interface UsageLine {
  readonly count: number;
  /** Of those, in use: images some container uses, running containers, volumes mounted, cache in use. */
  readonly active: number;
  readonly sizeBytes: number;
  /** What a prune could free, counted as `docker system df` counts it. */
  readonly reclaimableBytes: number;
}

/** `GET /api/v1/engines/{name}/disk` (docs/hosts.md): Docker's own disk use. */
export interface DiskView {
  readonly read: string;
  /** How long the engine took to answer `/system/df` (it walks every layer and volume). */
  readonly tookMs: number;
  readonly images: UsageLine;
  readonly containers: UsageLine;
  readonly volumes: UsageLine;
  readonly buildCache: UsageLine;
  readonly totalBytes: number;
  readonly reclaimableBytes: number;
  /** The largest of each, biggest first (ten each). */
  readonly largest: {
    readonly images: readonly {
      id: string;
      tags: readonly string[];
      sizeBytes: number;
      containers: number;
    }[];
    readonly containers: readonly { id: string; name: string; state: string; sizeBytes: number }[];
    readonly volumes: readonly { name: string; sizeBytes: number; refCount: number }[];
  };
}

export async function readSystemDf(watcher: EngineWatcher): Promise<{ df: SystemDf; tookMs: number }> {
  const started = performance.now();
  // Minutes on a large host: not under the ordinary call timeout.
  const df = await watcher.client.json<SystemDf>('GET', '/system/df', {
    timeout: 10 * 60_000,
    versioned: true,
  });
  return { df, tookMs: Math.round(performance.now() - started) };
}

/** The breakdown `docker system df` prints, from one answer (its own formulas, so they agree). */
export function diskView(df: SystemDf, tookMs: number, now: number): DiskView {
  const images = df.Images ?? [];
  const containers = df.Containers ?? [];
  const volumes = df.Volumes ?? [];
  const cache = df.BuildCache ?? [];
  const layers = df.LayersSize ?? 0;
  // The CLI's rule: everything but the unique size of the images some container uses.
  const usedUnique = images
    .filter((i) => i.Containers > 0 && i.Size >= 0 && i.SharedSize >= 0)
    .reduce((n, i) => n + i.Size - i.SharedSize, 0);
  const line = (count: number, active: number, size: number, reclaimable: number): UsageLine => ({
    count,
    active,
    sizeBytes: size,
    reclaimableBytes: Math.max(0, reclaimable),
  });
  const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((n, x) => n + f(x), 0);
  const view = {
    images: line(images.length, images.filter((i) => i.Containers > 0).length, layers, layers - usedUnique),
    containers: line(
      containers.length,
      containers.filter((c) => c.State === 'running').length,
      sum(containers, (c) => c.SizeRw ?? 0),
      sum(
        containers.filter((c) => c.State !== 'running'),
        (c) => c.SizeRw ?? 0,
      ),
    ),
    volumes: line(
      volumes.length,
      volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length,
      sum(volumes, (v) => Math.max(0, v.UsageData?.Size ?? 0)),
      sum(
        volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0),
        (v) => Math.max(0, v.UsageData?.Size ?? 0),
      ),
    ),
    buildCache: line(
      cache.length,
      cache.filter((b) => b.InUse).length,
      sum(cache, (b) => b.Size),
      sum(
        cache.filter((b) => !b.InUse && !b.Shared),
        (b) => b.Size,
      ),
    ),
  };
  return {
    read: new Date(now).toISOString(),
    tookMs,
    ...view,
    totalBytes:
      view.images.sizeBytes + view.containers.sizeBytes + view.volumes.sizeBytes + view.buildCache.sizeBytes,
    reclaimableBytes:
      view.images.reclaimableBytes +
      view.containers.reclaimableBytes +
      view.volumes.reclaimableBytes +
      view.buildCache.reclaimableBytes,
    largest: {
      images: [...images]
        .sort((a, b) => b.Size - a.Size)
        .slice(0, 10)
        .map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], sizeBytes: i.Size, containers: i.Containers })),
      containers: [...containers]
        .sort((a, b) => (b.SizeRw ?? 0) - (a.SizeRw ?? 0))
        .slice(0, 10)
        .map((c) => ({
          id: c.Id,
          name: (c.Names?.[0] ?? '').replace(/^\//, ''),
          state: c.State,
          sizeBytes: c.SizeRw ?? 0,
        })),
      volumes: [...volumes]
        .sort((a, b) => (b.UsageData?.Size ?? 0) - (a.UsageData?.Size ?? 0))
        .slice(0, 10)
        .map((v) => ({
          name: v.Name,
          sizeBytes: v.UsageData?.Size ?? 0,
          refCount: v.UsageData?.RefCount ?? 0,
        })),
    },
  };
}
