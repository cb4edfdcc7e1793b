/**
 * The log store's schema (`logs.db`, beside monitor.db: its own file, so a fleet's log writes
 * never wait on the history's writer, and its size is the logs' alone). Numbered migrations, as
 * the history's (store/migrations.ts): append only.
 *
 * A line's id is its engine time: `ms * 2048 + n` (n counts lines within one millisecond).
 * The full-text index returns rowids in order, so "newest first" is the index's own order and a
 * page stops after `limit` hits; a line collected late (after a restart) still sorts where it was
 * written; age retention is a range delete. 2^53 / 2048 ms is the year 2109.
 */
export const LOG_MIGRATIONS: readonly string[] = [
  // 1: sources (one per container incarnation), lines, the word index.
  `
  CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    engine TEXT NOT NULL,
    container TEXT NOT NULL,
    name TEXT NOT NULL,
    project TEXT,
    service TEXT,
    image TEXT,
    -- The last line stored: the engine's time (ms + ns within it) and how many lines had exactly
    -- that time (resume asks since it, inclusive, and skips that many): no gap, no duplicate.
    resume_ms INTEGER,
    resume_sub INTEGER,
    resume_count INTEGER NOT NULL DEFAULT 0,
    lines INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    gaps INTEGER NOT NULL DEFAULT 0,
    -- Why nothing is collected ("not collected: driver none").
    note TEXT,
    UNIQUE (engine, container)
  );
  CREATE INDEX sources_name ON sources (name);

  -- Lines not yet sealed into a chunk (the last seconds of each container): whole rows.
  CREATE TABLE open_lines (
    id INTEGER PRIMARY KEY,
    source INTEGER NOT NULL,
    -- 0 stdout, 1 stderr, 2 dockgate's own note (a gap, dropped lines).
    stream INTEGER NOT NULL,
    -- Nanoseconds within the millisecond.
    sub INTEGER NOT NULL,
    text TEXT NOT NULL
  );
  CREATE INDEX open_lines_source ON open_lines (source, id);

  -- Sealed lines: up to 128 of one container's lines, compressed together (log-chunks.ts).
  CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    source INTEGER NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    n INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    data BLOB NOT NULL
  );
  CREATE INDEX chunks_source ON chunks (source, last);
  CREATE INDEX chunks_last ON chunks (last);
  -- Where a sealed line is (the index gives line ids).
  CREATE TABLE lines (
    id INTEGER PRIMARY KEY,
    source INTEGER NOT NULL,
    chunk INTEGER NOT NULL
  );

  -- Words (letters, digits, _), no positions (detail=none: phrases are checked on the
  -- candidates), no copy of the text (contentless). Deleted rows are tombstones that merges
  -- reclaim (contentless_delete); 'delete' entries (the other way) doubled the index until merged.
  CREATE VIRTUAL TABLE lines_fts USING fts5 (
    text, content='', contentless_delete=1, detail=none,
    tokenize="unicode61 tokenchars '_'"
  );
  `,
];
