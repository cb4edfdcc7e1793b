import { z } from 'zod';
import { DockgateError } from '../../errors.js';
import { parseDuration } from '../config/duration.js';
import type { SystemDf } from './disk-usage.js';

/** The label that keeps a container, image or volume out of every cleanup. */
export const KEEP_LABEL = 'dockgate.keep';

/** The body of `POST /api/v1/engines/{name}/prune` (docs/hosts.md#cleanup). */
export const pruneBody = z
  .object({
    images: z.enum(['dangling', 'unused']).optional(),
    buildCache: z.boolean().optional(),
    containers: z.literal('exited').optional(),
    /** Volumes only when asked: `true` the anonymous ones no container uses, `all` named ones too. */
    volumes: z.union([z.boolean(), z.literal('all')]).optional(),
    olderThan: z.string().max(32).optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();
export type PruneOptions = z.output<typeof pruneBody>;

export interface PruneItem {
  readonly id: string;
  /** A container's name, an image's tags, a volume's name. */
  readonly name: string;
  readonly bytes: number;
}

/** What a cleanup removes: the same lists for a dry run and for the real one. */
export interface PrunePlan {
  readonly containers: readonly PruneItem[];
  readonly images: readonly (PruneItem & { readonly tags: readonly string[] })[];
  readonly volumes: readonly PruneItem[];
  readonly buildCache: readonly PruneItem[];
  /** Their bytes, as `/system/df` counts each (an image's own layers, a container's writable layer). */
  readonly bytes: number;
}

/** A container whose state keeps its image: running, restarting, paused… anything not stopped. */
const STOPPED = new Set(['exited', 'dead']);

/**
 * The cleanup as a value, from one `/system/df` answer (which lists every container with its
 * state and labels, every image with its use, every volume with its references): exited
 * containers first, then images no remaining container uses — so an image that a running or
 * restarting container uses is never listed, and nothing labelled `dockgate.keep=true` is — then
 * volumes (only when asked) and build cache. `olderThan` is on the object's creation time (the
 * build cache's last use), as docker's `until` filter.
 */
export function planPrune(df: SystemDf, options: PruneOptions, now: number): PrunePlan {
  const cutoff = options.olderThan === undefined ? now : now - olderThanMs(options.olderThan);
  const old = (createdSeconds: number): boolean => createdSeconds * 1000 <= cutoff;
  const kept = (labels: Readonly<Record<string, string>> | null | undefined): boolean =>
    labels?.[KEEP_LABEL] === 'true';
  const containers = (df.Containers ?? []).filter(
    (c) => options.containers === 'exited' && STOPPED.has(c.State) && !kept(c.Labels) && old(c.Created),
  );
  const going = new Set(containers.map((c) => c.Id));
  const remaining = (df.Containers ?? []).filter((c) => !going.has(c.Id));
  const usedImages = new Set(remaining.flatMap((c) => [c.ImageID, c.Image]));
  const images =
    options.images === undefined
      ? []
      : (df.Images ?? []).filter((i) => {
          const tags = (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
          if (usedImages.has(i.Id) || tags.some((t) => usedImages.has(t))) return false;
          if (kept(i.Labels) || !old(i.Created)) return false;
          return options.images === 'unused' || tags.length === 0;
        });
  const volumes =
    options.volumes === undefined || options.volumes === false
      ? []
      : (df.Volumes ?? []).filter(
          (v) =>
            v.UsageData?.RefCount === 0 &&
            !kept(v.Labels) &&
            // Anonymous volumes carry this label since Docker 23; before, a 64-hex name says so.
            (options.volumes === 'all' ||
              v.Labels?.['com.docker.volume.anonymous'] !== undefined ||
              /^[0-9a-f]{64}$/.test(v.Name)),
        );
  const buildCache =
    options.buildCache !== true
      ? []
      : (df.BuildCache ?? []).filter(
          (b) => !b.InUse && Date.parse(b.LastUsedAt ?? b.CreatedAt ?? '1970-01-01T00:00:00Z') <= cutoff,
        );
  const plan = {
    containers: containers.map((c) => ({
      id: c.Id,
      name: (c.Names?.[0] ?? '').replace(/^\//, ''),
      bytes: c.SizeRw ?? 0,
    })),
    images: images.map((i) => {
      const tags = (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
      return { id: i.Id, name: tags.join(', ') || '<none>', tags, bytes: Math.max(0, i.Size - i.SharedSize) };
    }),
    volumes: volumes.map((v) => ({ id: v.Name, name: v.Name, bytes: Math.max(0, v.UsageData?.Size ?? 0) })),
    buildCache: buildCache.map((b) => ({ id: b.ID, name: b.Type ?? 'cache', bytes: b.Size })),
  };
  const sum = (xs: readonly PruneItem[]): number => xs.reduce((n, x) => n + x.bytes, 0);
  return {
    ...plan,
    bytes: sum(plan.containers) + sum(plan.images) + sum(plan.volumes) + sum(plan.buildCache),
  };
}

function olderThanMs(text: string): number {
  try {
    return parseDuration(text, 'olderThan');
  } catch (error) {
    throw new DockgateError('DG_BAD_QUERY', (error as Error).message);
  }
}
