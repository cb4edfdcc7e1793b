import { randomUUID } from 'node:crypto';
import { EngineError } from '../../client/errors.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import type { Principal } from '../auth/principal.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import type { History } from '../store/history.js';
import type { Sql } from '../store/sql.js';
import { type DiskView, diskView, readSystemDf } from './disk-usage.js';
import { type PruneItem, type PruneOptions, type PrunePlan, planPrune } from './prune-plan.js';

/** The answer of a cleanup (docs/hosts.md#cleanup). */
export interface PruneOutcome {
  readonly id?: string;
  readonly engine: string;
  readonly dryRun: boolean;
  /** What goes (dry run) or went: the same lists either way. */
  readonly plan: PrunePlan;
  /** Real runs: what the engine refused, with its message (in use since the plan, a child image…). */
  readonly failed?: readonly { kind: string; id: string; name: string; error: string }[];
  /** Real runs: Docker's disk use before and after, so the bytes freed are measured, not assumed. */
  readonly reclaimedBytes?: number;
  readonly disk?: DiskView;
  readonly by?: string;
}

const SQL = {
  add: 'INSERT INTO prunes (id, engine, at, "by", options, result) VALUES (?, ?, ?, ?, ?, ?)',
  recent: `SELECT id, at, "by", options, result FROM prunes WHERE engine = ? ORDER BY at DESC LIMIT ?`,
} as const;

/**
 * Cleanups asked through the monitor (admins): a plan from one `/system/df` (prune-plan.ts), then
 * — unless a dry run — each listed object removed by name, never by the engine's own prune
 * endpoints, so what goes is exactly what the plan said (the engine's prune would take whatever
 * matches at that moment). Images are untagged tag by tag without force: an image a container
 * took up meanwhile is refused by the engine, not removed. Recorded with who asked, in the store
 * and as an audit line; each removed container gets a line in its timeline.
 */
export class Pruner {
  readonly #sql: Sql;
  readonly #history: History;
  readonly #log: Logger;
  readonly #now: Clock;

  constructor(sql: Sql, history: History, log: Logger, now: Clock) {
    this.#sql = sql;
    this.#history = history;
    this.#log = log;
    this.#now = now;
  }

  async prune(watcher: EngineWatcher, options: PruneOptions, principal: Principal): Promise<PruneOutcome> {
    const before = await readSystemDf(watcher);
    const plan = planPrune(before.df, options, this.#now());
    const dryRun = options.dryRun !== false;
    if (dryRun) return { engine: watcher.name, dryRun, plan };
    const failed: { kind: string; id: string; name: string; error: string }[] = [];
    const attempt = async (
      kind: string,
      item: PruneItem,
      remove: () => Promise<unknown>,
    ): Promise<boolean> => {
      try {
        await remove();
        return true;
      } catch (error) {
        if (error instanceof EngineError && error.status === 404) return true; // gone already
        failed.push({ kind, id: item.id, name: item.name, error: (error as Error).message });
        return false;
      }
    };
    const client = watcher.client;
    for (const c of plan.containers) {
      const removed = await attempt('container', c, () =>
        client.containers.remove(c.id, { v: false, force: false }),
      );
      if (removed)
        this.#history.addTimeline(
          watcher.name,
          c.id,
          this.#now() * 1e6,
          {
            time: new Date(this.#now()).toISOString(),
            kind: 'action',
            action: 'remove',
            by: principal.name,
            detail: { via: 'prune' },
          },
          null,
        );
    }
    for (const image of plan.images) {
      await attempt('image', image, async () => {
        // Tag by tag, then the id: without force an image in use is refused, never untagged.
        for (const tag of image.tags) await client.images.remove(tag, { force: false });
        if (image.tags.length === 0) await client.images.remove(image.id, { force: false });
      });
    }
    for (const v of plan.volumes) await attempt('volume', v, () => client.volumes.remove(v.id));
    if (plan.buildCache.length > 0) {
      const item = { id: 'build-cache', name: 'build cache', bytes: 0 };
      await attempt('buildCache', item, () =>
        client.json('POST', '/build/prune', {
          query: {
            filters: JSON.stringify(options.olderThan === undefined ? {} : { until: [options.olderThan] }),
          },
          timeout: 10 * 60_000,
          versioned: true,
        }),
      );
    }
    const after = await readSystemDf(watcher);
    const disk = diskView(after.df, after.tookMs, this.#now());
    const was = diskView(before.df, before.tookMs, this.#now());
    const id = randomUUID();
    const outcome: PruneOutcome = {
      id,
      engine: watcher.name,
      dryRun,
      plan,
      failed,
      reclaimedBytes: Math.max(0, was.totalBytes - disk.totalBytes),
      disk,
      by: principal.name,
    };
    await this.#sql.run(SQL.add, [
      id,
      watcher.name,
      this.#now(),
      principal.name,
      JSON.stringify(options),
      JSON.stringify({ plan, failed, reclaimedBytes: outcome.reclaimedBytes }),
    ]);
    this.#log.info(
      {
        engine: watcher.name,
        by: principal.name,
        via: principal.via,
        options,
        containers: plan.containers.length,
        images: plan.images.length,
        volumes: plan.volumes.length,
        buildCache: plan.buildCache.length,
        failed: failed.length,
        reclaimedBytes: outcome.reclaimedBytes,
      },
      'engine prune',
    );
    return outcome;
  }

  /** The last cleanups of an engine, newest first. */
  async recent(engine: string, limit = 10): Promise<unknown[]> {
    const rows = await this.#sql.all<{ id: string; at: number; by: string; options: string; result: string }>(
      SQL.recent,
      [engine, limit],
    );
    return rows.map((r) => {
      const result = JSON.parse(r.result) as { plan: PrunePlan; failed: unknown[]; reclaimedBytes: number };
      return {
        id: r.id,
        time: new Date(Number(r.at)).toISOString(),
        by: r.by,
        options: JSON.parse(r.options) as unknown,
        removed: {
          containers: result.plan.containers.length,
          images: result.plan.images.length,
          volumes: result.plan.volumes.length,
          buildCache: result.plan.buildCache.length,
        },
        failed: result.failed.length,
        reclaimedBytes: result.reclaimedBytes,
      };
    });
  }
}
