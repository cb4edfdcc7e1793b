/** A value bound to a `?` placeholder. */
export type Param = string | number | null;

/**
 * The one interface the monitor's stores talk to (history, alerts, users, sessions, tokens,
 * terminals, updates): SQL text with `?` placeholders in the dialect SQLite and PostgreSQL share
 * (`ON CONFLICT … DO UPDATE`, `CAST(… AS BIGINT)`, camelCase aliases double-quoted), so each store
 * is written once and behaves the same on both backends (docs/scaling.md). Integers come back as
 * numbers on both (PostgreSQL's int8 and numeric are parsed as such: the values are counts, sizes
 * and times in ms, far below 2^53 — nanosecond times lose their last digits exactly as in SQLite).
 */
export interface Sql {
  readonly kind: 'sqlite' | 'postgres';
  all<T>(text: string, params?: readonly Param[]): Promise<T[]>;
  get<T>(text: string, params?: readonly Param[]): Promise<T | undefined>;
  /** The number of rows written. */
  run(text: string, params?: readonly Param[]): Promise<number>;
  /** `fn`'s statements in one transaction: all or none. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
