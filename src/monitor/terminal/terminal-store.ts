import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../clock.js';
import type { Sql } from '../store/sql.js';
import type { TerminalRecord } from './terminal-record.js';

export type { TerminalRecord } from './terminal-record.js';

interface Row {
  id: string;
  principal: string;
  via: TerminalRecord['via'];
  address: string;
  engine: string;
  container: string;
  container_name: string;
  cmd: string;
  exec_id: string | null;
  started_at: number;
  ended_at: number | null;
  exit_code: number | null;
  end_reason: string | null;
  bytes_in: number;
  bytes_out: number;
  record: TerminalRecord['record'];
  cast_bytes: number;
  truncated: number;
}

/**
 * Terminal sessions in the monitor's SQLite file, their transcripts as asciicast files in
 * `DATA/casts/`. Written at the start and the end of a session (not per keystroke); recordings
 * are pruned with the history's retention and a total size, oldest first.
 */
export class TerminalStore {
  readonly #sql: Sql;
  readonly #now: Clock;
  readonly dir: string;

  constructor(sql: Sql, dataDir: string, now: Clock) {
    this.#sql = sql;
    this.#now = now;
    this.dir = join(dataDir, 'casts');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  castFile(id: string): string {
    return join(this.dir, `${id}.cast`);
  }

  async started(session: {
    id: string;
    by: string;
    via: TerminalRecord['via'];
    from: string;
    engine: string;
    container: string;
    containerName: string;
    cmd: readonly string[];
    record: TerminalRecord['record'];
  }): Promise<void> {
    await this.#sql.run(
      `INSERT INTO terminals (id, principal, via, address, engine, container, container_name, cmd, started_at, record)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        session.id,
        session.by,
        session.via,
        session.from,
        session.engine,
        session.container,
        session.containerName,
        JSON.stringify(session.cmd),
        this.#now(),
        session.record,
      ],
    );
  }

  async running(id: string, execId: string, cmd: readonly string[]): Promise<void> {
    await this.#sql.run('UPDATE terminals SET exec_id = ?, cmd = ? WHERE id = ?', [
      execId,
      JSON.stringify(cmd),
      id,
    ]);
  }

  async ended(
    id: string,
    end: {
      exitCode: number | null;
      reason: string;
      bytesIn: number;
      bytesOut: number;
      castBytes: number;
      truncated: boolean;
    },
  ): Promise<void> {
    await this.#sql.run(
      `UPDATE terminals SET ended_at = ?, exit_code = ?, end_reason = ?, bytes_in = ?, bytes_out = ?, cast_bytes = ?, truncated = ?
       WHERE id = ? AND ended_at IS NULL`,
      [
        this.#now(),
        end.exitCode,
        end.reason,
        end.bytesIn,
        end.bytesOut,
        end.castBytes,
        end.truncated ? 1 : 0,
        id,
      ],
    );
  }

  async list(limit = 200): Promise<TerminalRecord[]> {
    return (
      await this.#sql.all<Row>('SELECT * FROM terminals ORDER BY started_at DESC LIMIT ?', [limit])
    ).map(fromRow);
  }

  async find(id: string): Promise<TerminalRecord | undefined> {
    const row = await this.#sql.get<Row>('SELECT * FROM terminals WHERE id = ?', [id]);
    return row === undefined ? undefined : fromRow(row);
  }

  /** Sessions a monitor that stopped hard left open: ended now, reason "monitor stopped". */
  async closeOrphans(): Promise<void> {
    await this.#sql.run(
      "UPDATE terminals SET ended_at = ?, end_reason = 'monitor stopped' WHERE ended_at IS NULL",
      [this.#now()],
    );
  }

  /** Drops records and recordings older than `keepMs`, then the oldest recordings beyond `totalBytes`. */
  async prune(keepMs: number, totalBytes: number): Promise<void> {
    const cut = this.#now() - keepMs;
    const old = await this.#sql.all<{ id: string }>('SELECT id FROM terminals WHERE started_at < ?', [cut]);
    for (const { id } of old) rmSync(this.castFile(id), { force: true });
    await this.#sql.run('DELETE FROM terminals WHERE started_at < ?', [cut]);
    const files = readdirSync(this.dir)
      .filter((f) => f.endsWith('.cast'))
      .map((f) => {
        const stat = statSync(join(this.dir, f));
        return { file: join(this.dir, f), size: stat.size, at: stat.mtimeMs };
      })
      .sort((a, b) => b.at - a.at);
    let total = 0;
    for (const f of files) {
      total += f.size;
      if (total > totalBytes) rmSync(f.file, { force: true });
    }
  }
}

function fromRow(r: Row): TerminalRecord {
  return {
    id: r.id,
    by: r.principal,
    via: r.via,
    from: r.address,
    engine: r.engine,
    container: r.container,
    containerName: r.container_name,
    cmd: JSON.parse(r.cmd) as string[],
    execId: r.exec_id,
    startedAt: new Date(r.started_at).toISOString(),
    endedAt: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
    exitCode: r.exit_code,
    endReason: r.end_reason,
    bytesIn: r.bytes_in,
    bytesOut: r.bytes_out,
    record: r.record,
    castBytes: r.cast_bytes,
    truncated: r.truncated === 1,
  };
}
