import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../clock.js';
import type { Db } from '../store/database.js';
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
  readonly #db: Db;
  readonly #now: Clock;
  readonly dir: string;

  constructor(db: Db, dataDir: string, now: Clock) {
    this.#db = db;
    this.#now = now;
    this.dir = join(dataDir, 'casts');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  castFile(id: string): string {
    return join(this.dir, `${id}.cast`);
  }

  started(session: {
    id: string;
    by: string;
    via: TerminalRecord['via'];
    from: string;
    engine: string;
    container: string;
    containerName: string;
    cmd: readonly string[];
    record: TerminalRecord['record'];
  }): void {
    this.#db
      .prepare(
        `INSERT INTO terminals (id, principal, via, address, engine, container, container_name, cmd, started_at, record)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
      );
  }

  running(id: string, execId: string, cmd: readonly string[]): void {
    this.#db
      .prepare('UPDATE terminals SET exec_id = ?, cmd = ? WHERE id = ?')
      .run(execId, JSON.stringify(cmd), id);
  }

  ended(
    id: string,
    end: {
      exitCode: number | null;
      reason: string;
      bytesIn: number;
      bytesOut: number;
      castBytes: number;
      truncated: boolean;
    },
  ): void {
    this.#db
      .prepare(
        `UPDATE terminals SET ended_at = ?, exit_code = ?, end_reason = ?, bytes_in = ?, bytes_out = ?, cast_bytes = ?, truncated = ?
         WHERE id = ? AND ended_at IS NULL`,
      )
      .run(
        this.#now(),
        end.exitCode,
        end.reason,
        end.bytesIn,
        end.bytesOut,
        end.castBytes,
        end.truncated ? 1 : 0,
        id,
      );
  }

  list(limit = 200): TerminalRecord[] {
    return (
      this.#db.prepare('SELECT * FROM terminals ORDER BY started_at DESC LIMIT ?').all(limit) as Row[]
    ).map(fromRow);
  }

  find(id: string): TerminalRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM terminals WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /** Sessions a monitor that stopped hard left open: ended now, reason "monitor stopped". */
  closeOrphans(): void {
    this.#db
      .prepare("UPDATE terminals SET ended_at = ?, end_reason = 'monitor stopped' WHERE ended_at IS NULL")
      .run(this.#now());
  }

  /** Drops records and recordings older than `keepMs`, then the oldest recordings beyond `totalBytes`. */
  prune(keepMs: number, totalBytes: number): void {
    const cut = this.#now() - keepMs;
    const old = this.#db.prepare('SELECT id FROM terminals WHERE started_at < ?').all(cut) as {
      id: string;
    }[];
    for (const { id } of old) rmSync(this.castFile(id), { force: true });
    this.#db.prepare('DELETE FROM terminals WHERE started_at < ?').run(cut);
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
