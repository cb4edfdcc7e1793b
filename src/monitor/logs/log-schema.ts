/**
 * The log store's schema (`logs.db`, beside monitor.db: its own file, so a fleet's log writes
 * never wait on the history's writer, and its size is the logs' alone). Numbered migrations, as
 * the history's (store/migrations.ts): append only.
 *
 * A line is (source, id): its id is its engine time, `ms * 2048 + n`, increasing within its
 * source (n counts its lines within one millisecond). Lines sort by id, then source: a line
 * collected late (after a restart) sorts where it was written, and "newest first" follows the
 * chunks' keys, the order in which the full-text index returns them. 2^53 / 2048 ms is the year 2109.
 */
export const LOG_MIGRATIONS: readonly string[] = [
  // 1: sources (one per container incarnation), chunks of lines, the word index over chunks.
  `
  CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    engine TEXT NOT NULL,
    container TEXT NOT NULL,
    name TEXT NOT NULL,
    project TEXT,
    service TEXT,
    image TEXT,
    -- As of the last sealed line: the engine's time (ms + ns within it) and how many lines had
    -- exactly that time (resume asks since it, inclusive, and skips that many): no gap, no duplicate.
    resume_ms INTEGER,
    resume_sub INTEGER,
    resume_count INTEGER NOT NULL DEFAULT 0,
    -- The last line id given: a source's ids increase.
    last_id INTEGER NOT NULL DEFAULT 0,
    lines INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    gaps INTEGER NOT NULL DEFAULT 0,
    -- Why nothing is collected ("not collected: driver none").
    note TEXT,
    UNIQUE (engine, container)
  );
  CREATE INDEX sources_name ON sources (name);

  -- Up to 128 of one container's lines within 5 s, compressed together (log-chunks.ts). The key
  -- (rowid) is the newest line's id (one more if another container's chunk has it): chunks sort
  -- by time, and the index's candidates come in that order.
  CREATE TABLE chunks (
    source INTEGER NOT NULL,
    first INTEGER NOT NULL,
    -- Lines and bytes of text (dockgate's own notes aside), for the counters.
    n INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    data BLOB NOT NULL
  );
  CREATE INDEX chunks_source ON chunks (source);

  -- Words (letters, digits, _) of each chunk's lines, no positions (detail=none), no copy of
  -- the text (contentless): the index finds chunks, the query's test decides line by line.
  -- Deletes are tombstones that merges reclaim (contentless_delete).
  CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    text, content='', contentless_delete=1, detail=none,
    tokenize="unicode61 tokenchars '_'"
  );
  `,
];
