/**
 * The history's schema, as numbered migrations: migration N brings `PRAGMA user_version` from
 * N-1 to N, inside one transaction. Append only: a released migration is never edited.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: engines, containers, the timeline, stats samples in tiers, engine periods, API tokens.
  `
  CREATE TABLE engines (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    -- The newest engine event applied: the next subscription asks since it (nanoseconds, text:
    -- beyond 2^53), and the keys seen at that instant, so a replayed event is not applied twice.
    last_event_nano TEXT,
    last_event_keys TEXT
  ) WITHOUT ROWID;

  CREATE TABLE containers (
    engine TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The last item the API showed, as JSON (src/monitor/model/container.ts).
    item TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    removed_at INTEGER,
    PRIMARY KEY (engine, id)
  ) WITHOUT ROWID;
  CREATE INDEX containers_name ON containers (engine, name);

  CREATE TABLE timeline (
    seq INTEGER PRIMARY KEY,
    engine TEXT NOT NULL,
    container TEXT NOT NULL,
    -- Engine events: the engine's timeNano; actions asked through the monitor: its clock.
    time_nano INTEGER NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    exit_code INTEGER,
    expected INTEGER,
    by TEXT,
    detail TEXT,
    -- engine|container|timeNano|action for engine events: each is stored once, whatever replays it.
    dedupe TEXT UNIQUE
  );
  CREATE INDEX timeline_container ON timeline (engine, container, time_nano);

  CREATE TABLE samples (
    -- 0: raw (one per interval), 1: one-minute, 2: one-hour rollups.
    tier INTEGER NOT NULL,
    engine TEXT NOT NULL,
    container TEXT NOT NULL,
    t INTEGER NOT NULL,
    cpu REAL,
    mem INTEGER,
    mem_limit INTEGER,
    net_rx INTEGER,
    net_tx INTEGER,
    blk_r INTEGER,
    blk_w INTEGER,
    pids INTEGER,
    PRIMARY KEY (tier, engine, container, t)
  ) WITHOUT ROWID;
  CREATE INDEX samples_time ON samples (tier, t);

  CREATE TABLE engine_periods (
    engine TEXT NOT NULL,
    status TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER,
    error TEXT
  );
  CREATE INDEX engine_periods_engine ON engine_periods (engine, since);

  CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: alerts (incidents) and every attempt to deliver their notifications.
  `
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    engine TEXT NOT NULL,
    container_id TEXT,
    container_name TEXT,
    -- What the rule watches (engine/container, engine, missing:NAME): an open one is found again.
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    resolved_at INTEGER,
    acknowledged_at INTEGER,
    count INTEGER NOT NULL,
    summary TEXT NOT NULL,
    details TEXT NOT NULL,
    last_notified_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX alerts_open ON alerts (state, rule, target);
  CREATE INDEX alerts_opened ON alerts (opened_at);

  CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL,
    notifier TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    response TEXT
  );
  CREATE INDEX deliveries_alert ON deliveries (alert_id, seq);
  `,
  // 3: the dashboard's users (argon2id password hashes) and their browser sessions.
  `
  CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE sessions (
    -- SHA-256 of the cookie's value: a copy of the file does not sign anyone in.
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX sessions_user ON sessions (user);
  `,
  // 4: terminal sessions (docs/terminal.md): who, from where, into what, how it ended; the
  // transcript is an asciicast file beside the database.
  `
  CREATE TABLE terminals (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    via TEXT NOT NULL,
    address TEXT NOT NULL,
    engine TEXT NOT NULL,
    container TEXT NOT NULL,
    container_name TEXT NOT NULL,
    cmd TEXT NOT NULL,
    exec_id TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    exit_code INTEGER,
    end_reason TEXT,
    bytes_in INTEGER NOT NULL DEFAULT 0,
    bytes_out INTEGER NOT NULL DEFAULT 0,
    record TEXT NOT NULL,
    cast_bytes INTEGER NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE INDEX terminals_started ON terminals (started_at);
  `,
  // 5: what each registry said of a tag (docs/updates.md): one row per registry/repository:tag,
  // so a restart does not ask again before the interval is over.
  `
  CREATE TABLE update_checks (
    key TEXT PRIMARY KEY,
    digest TEXT,
    error TEXT,
    reason TEXT,
    checked_at INTEGER NOT NULL,
    retry_at INTEGER
  ) WITHOUT ROWID;
  `,
  // 6: updates asked through the monitor (docs/updates.md): each step is written before the
  // engine is asked, so a monitor that died mid-update finishes it (or undoes it) at its start.
  `
  CREATE TABLE update_runs (
    id TEXT PRIMARY KEY,
    engine TEXT NOT NULL,
    name TEXT NOT NULL,
    old_id TEXT NOT NULL,
    new_id TEXT,
    image TEXT NOT NULL,
    from_digest TEXT,
    to_digest TEXT,
    step TEXT NOT NULL,
    was_running INTEGER NOT NULL,
    by TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    result TEXT,
    reason TEXT
  ) WITHOUT ROWID;
  CREATE INDEX update_runs_open ON update_runs (engine, finished_at);
  `,
  // 7: when each container, engine view and alert last changed (the writer's clock, ms), so
  // other monitors sharing a store follow what the owner of an engine sees (docs/scaling.md);
  // the engine's view as the API shows it.
  `
  ALTER TABLE containers ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX containers_changed ON containers (changed_at);
  ALTER TABLE engines ADD COLUMN view TEXT;
  ALTER TABLE engines ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE alerts ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX alerts_changed ON alerts (changed_at);
  `,
  // 8: the notification outbox (docs/alerts.md#outbox): one row per incident and transition —
  // its key is the dedupKey every payload carries — written before anything is sent, marked sent
  // after; rows a monitor claimed and never marked are sent again by the engine's next owner.
  `
  CREATE TABLE outbox (
    key TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    engine TEXT NOT NULL,
    event TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    sent_at INTEGER
  );
  CREATE INDEX outbox_unsent ON outbox (engine, claimed_at) WHERE sent_at IS NULL;
  `,
  // 9: hosts (docs/hosts.md) — each engine's machine sampled into the same tiers as containers'
  // stats (0 raw, 1 minute, 2 hour; rates per second, averaged on rollup), and the cleanups asked.
  `
  CREATE TABLE host_samples (
    tier INTEGER NOT NULL,
    engine TEXT NOT NULL,
    t INTEGER NOT NULL,
    cpu REAL,
    mem_used INTEGER,
    mem_avail INTEGER,
    swap_used INTEGER,
    root_used INTEGER,
    root_avail INTEGER,
    load1 REAL,
    net_rx REAL,
    net_tx REAL,
    psi_cpu REAL,
    psi_mem REAL,
    psi_io REAL,
    disk_read REAL,
    disk_write REAL,
    temp REAL,
    PRIMARY KEY (tier, engine, t)
  ) WITHOUT ROWID;
  CREATE TABLE host_fs_samples (
    tier INTEGER NOT NULL,
    engine TEXT NOT NULL,
    mount TEXT NOT NULL,
    t INTEGER NOT NULL,
    used INTEGER,
    avail INTEGER,
    PRIMARY KEY (tier, engine, mount, t)
  ) WITHOUT ROWID;
  CREATE TABLE prunes (
    id TEXT PRIMARY KEY,
    engine TEXT NOT NULL,
    at INTEGER NOT NULL,
    by TEXT NOT NULL,
    options TEXT NOT NULL,
    result TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX prunes_engine ON prunes (engine, at);
  `,
];
