import { createHash } from 'node:crypto';

/** One engine's lease as the store has it. */
export interface LeaseView {
  readonly engine: string;
  readonly owner: string | null;
  /** False once its expiry (the database's clock) has passed. */
  readonly live: boolean;
}

/** What one monitor should do with leases this round (a decision as a value). */
export interface ShareDecision {
  /** Free or expired engines to try to take, best first. */
  readonly acquire: readonly string[];
  /** Engines held beyond this monitor's share, to give back. */
  readonly release: readonly string[];
}

/**
 * Fair share (docs/scaling.md): with `instances` live monitors and `engines` engines, each takes
 * at most ⌈engines / instances⌉ and gives back what it holds beyond that, so 10 engines on 2
 * monitors split 5/5, go 10/0 when one dies and come back to 5/5. Which free engines a monitor
 * prefers is rendezvous hashing (highest hash of engine + instance first): two monitors racing
 * for free engines mostly want different ones, and an engine tends to go back to the same
 * monitor after a restart. Releases give back the engines this monitor ranks lowest.
 */
export function fairShare(
  self: string,
  instances: readonly string[],
  engines: readonly string[],
  leases: readonly LeaseView[],
): ShareDecision {
  const live = new Set(instances);
  live.add(self);
  const share = Math.ceil(engines.length / live.size);
  const byEngine = new Map(leases.map((l) => [l.engine, l]));
  const mine = engines.filter((e) => {
    const lease = byEngine.get(e);
    return lease?.owner === self && lease.live;
  });
  const rank = (engine: string): string =>
    createHash('sha256').update(`${engine}\u0000${self}`).digest('hex');
  const byPreference = (a: string, b: string): number => rank(b).localeCompare(rank(a));
  if (mine.length > share) {
    return { acquire: [], release: [...mine].sort(byPreference).slice(share) };
  }
  const free = engines.filter((e) => {
    const lease = byEngine.get(e);
    return lease === undefined || lease.owner === null || !lease.live || !live.has(lease.owner);
  });
  return { acquire: free.sort(byPreference).slice(0, share - mine.length), release: [] };
}
