/**
 * The log store's schema (`logs.db`, beside monitor.db: its own file, so a fleet's log writes
 * never wait on the history's writer, and its size is the logs' alone). Numbered migrations, as
 * the history's (store/migrations.ts): append only.
 *
 * A line's rowid is its engine time: `ms * 2048 + n` (n counts lines within one millisecond).
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

  CREATE TABLE lines (
    id INTEGER PRIMARY KEY,
    source INTEGER NOT NULL,
    -- 0 stdout, 1 stderr, 2 dockgate's own marker (a gap, dropped lines).
    stream INTEGER NOT NULL,
    -- Nanoseconds within the millisecond.
    sub INTEGER NOT NULL,
    text TEXT NOT NULL
  );
  CREATE INDEX lines_source ON lines (source, id);

  -- Words (letters, digits, _), no positions (detail=none: a third of the size; phrases are
  -- checked on the candidates), no copy of the text (contentless, deletable).
  CREATE VIRTUAL TABLE lines_fts USING fts5 (
    text, content='', contentless_delete=1, detail=none,
    tokenize="unicode61 tokenchars '_'"
  );
  `,
];
