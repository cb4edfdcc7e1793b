import { randomUUID } from 'node:crypto';
import type { Sql } from '../store/sql.js';

/**
 * An update's steps, in order. Each is written before the engine is asked to do it, so a monitor
 * that stopped in the middle knows, at its next start, how far it may have got (update-recovery.ts).
 */
export const UPDATE_STEPS = ['pulled', 'renamed', 'created', 'stopped', 'started', 'passed'] as const;
export type UpdateStep = (typeof UPDATE_STEPS)[number];
export type UpdateResult = 'updated' | 'rolled-back' | 'refused' | 'failed';

export interface UpdateRun {
  readonly id: string;
  readonly engine: string;
  readonly name: string;
  readonly oldId: string;
  readonly newId: string | null;
  readonly image: string;
  readonly fromDigest: string | null;
  readonly toDigest: string | null;
  readonly step: UpdateStep;
  readonly wasRunning: boolean;
  readonly by: string;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly result: UpdateResult | null;
  readonly reason: string | null;
}

interface Row {
  id: string;
  engine: string;
  name: string;
  old_id: string;
  new_id: string | null;
  image: string;
  from_digest: string | null;
  to_digest: string | null;
  step: string;
  was_running: number;
  by: string;
  started_at: number;
  finished_at: number | null;
  result: string | null;
  reason: string | null;
}

/** The update journal, in the monitor's store. Writes are synchronous: a step is on disk before it is done. */
export class UpdateJournal {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async begin(
    run: Omit<UpdateRun, 'id' | 'newId' | 'step' | 'finishedAt' | 'result' | 'reason'>,
  ): Promise<UpdateRun> {
    const full: UpdateRun = {
      ...run,
      id: randomUUID(),
      newId: null,
      step: 'pulled',
      finishedAt: null,
      result: null,
      reason: null,
    };
    await this.#sql.run(
      `INSERT INTO update_runs (id, engine, name, old_id, new_id, image, from_digest, to_digest, step,
         was_running, "by", started_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)`,
      [
        full.id,
        full.engine,
        full.name,
        full.oldId,
        full.image,
        full.fromDigest,
        full.toDigest,
        full.step,
        full.wasRunning ? 1 : 0,
        full.by,
        full.startedAt,
      ],
    );
    return full;
  }

  async step(run: UpdateRun, step: UpdateStep, newId?: string): Promise<UpdateRun> {
    const next = { ...run, step, newId: newId ?? run.newId };
    await this.#sql.run('UPDATE update_runs SET step = ?, new_id = ? WHERE id = ?', [
      step,
      next.newId,
      run.id,
    ]);
    return next;
  }

  async finish(run: UpdateRun, result: UpdateResult, reason: string | null, at: number): Promise<UpdateRun> {
    await this.#sql.run('UPDATE update_runs SET finished_at = ?, result = ?, reason = ? WHERE id = ?', [
      at,
      result,
      reason,
      run.id,
    ]);
    return { ...run, finishedAt: at, result, reason };
  }

  /** Updates of this engine a monitor began and never finished. */
  async unfinished(engine: string): Promise<UpdateRun[]> {
    return (
      await this.#sql.all<Row>(
        'SELECT * FROM update_runs WHERE engine = ? AND finished_at IS NULL ORDER BY started_at',
        [engine],
      )
    ).map(fromRow);
  }

  /** The last updates, newest first (a container's page shows its own). */
  async recent(engine: string, name: string, limit = 20): Promise<UpdateRun[]> {
    return (
      await this.#sql.all<Row>(
        'SELECT * FROM update_runs WHERE engine = ? AND name = ? ORDER BY started_at DESC LIMIT ?',
        [engine, name, limit],
      )
    ).map(fromRow);
  }
}

function fromRow(row: Row): UpdateRun {
  return {
    id: row.id,
    engine: row.engine,
    name: row.name,
    oldId: row.old_id,
    newId: row.new_id,
    image: row.image,
    fromDigest: row.from_digest,
    toDigest: row.to_digest,
    step: row.step as UpdateStep,
    wasRunning: row.was_running === 1,
    by: row.by,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    result: row.result as UpdateResult | null,
    reason: row.reason,
  };
}
