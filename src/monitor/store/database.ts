import { mkdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { DockgateError } from '../../errors.js';
import { databaseFile } from '../config/monitor-config.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/**
 * Opens (creating on first run) the monitor's SQLite file in `dataDir`, in WAL mode, and brings
 * its schema up to date. WAL with `synchronous = NORMAL`: a crash loses at most the last
 * transactions (the writer commits every 250 ms), never the file; readers (the API, `token`
 * commands) do not block the one writer.
 */
export function openDatabase(
  dataDir: string,
  options: { readonly?: boolean; file?: string; migrations?: readonly string[] } = {},
): Db {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new DockgateError('DG_CONFIG_INVALID', `--data ${dataDir}: ${(error as Error).message}`);
  }
  let db: Db;
  try {
    db = new Database(options.file ?? databaseFile(dataDir), { readonly: options.readonly === true });
  } catch (error) {
    throw new DockgateError('DG_CONFIG_INVALID', `--data ${dataDir}: ${(error as Error).message}`);
  }
  // A second process (a token command) waits for the writer instead of failing at once.
  db.pragma('busy_timeout = 5000');
  if (options.readonly !== true) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db, options.migrations);
  }
  return db;
}

/** Applies the migrations the file has not seen, each in its own transaction. */
export function migrate(db: Db, migrations: readonly string[] = MIGRATIONS): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `the data directory was written by a newer dockgate (schema ${current}, this one knows ${migrations.length})`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
