import type { Sql } from '../store/sql.js';
import type { Fence } from '../store/writer.js';

/** The channel other monitors LISTEN on; the payload is engine names only (ids, never data). */
export const CHANGES_CHANNEL = 'dockgate_changes';

/**
 * Fencing for the store's writer (docs/scaling.md): a write about an engine carries the lease term
 * it was made under; each commit first reads the engines whose lease this monitor still holds with
 * that term, and every other write is dropped. A monitor paused past its lease and resumed writes
 * nothing for the engines it lost.
 *
 * The read takes no lock (not `FOR SHARE`): a monitor stopped in the middle of a commit (SIGSTOP,
 * a paused VM) would hold it, and PostgreSQL cannot always tell such a session to end (mid-message
 * it is not "idle in transaction"), so a takeover could wait forever. The price is a window of
 * the one commit under way at the moment of a takeover: its writes may land just after the new
 * owner's first ones — timeline entries and samples are keyed (stored once), the outbox row key
 * is unique, and an item overwritten by that commit is written again at the owner's next change.
 */
export function leaseFence(self: string, terms: ReadonlyMap<string, number>): Fence {
  return {
    term: (engine) => terms.get(engine),
    async valid(tx: Sql, engines: readonly string[]) {
      // Owner and term, not the expiry: a lease that lapsed while the store was away and that no
      // other monitor took still has this term, and the writes queued meanwhile are this
      // monitor's alone (any takeover raises the term).
      const rows = await tx.all<{ engine: string; term: number }>(
        `SELECT engine, term FROM engine_leases WHERE owner = ? AND engine = ANY(string_to_array(?, ','))`,
        [self, engines.join(',')],
      );
      return new Map(rows.map((r) => [r.engine, Number(r.term)]));
    },
    async wake(tx: Sql, engines: readonly string[]) {
      // Sent at commit, to every monitor listening: they read what changed (replica.ts).
      await tx.run('SELECT pg_notify(?, ?)', [CHANGES_CHANNEL, engines.join(',')]);
    },
  };
}
