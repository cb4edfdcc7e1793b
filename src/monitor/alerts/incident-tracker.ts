/**
 * One alert rule for one target (a container, an engine), as a small explicit state machine —
 * Prometheus' `inactive → pending → firing`, plus `recovering` so that resolution also waits for
 * its `for`. Pure: the caller gives the condition and the time, and gets the new tracker and what
 * to do (open an incident, resolve it, or nothing). Unit-tested transition by transition with a
 * clock the test controls.
 */
export type Phase = 'inactive' | 'pending' | 'firing' | 'recovering';

export interface Tracker {
  readonly phase: Phase;
  /** When the current phase began (ms). */
  readonly since: number;
  /** When the last incident of this rule and target resolved: the cooldown runs from there. */
  readonly lastResolvedAt: number | undefined;
}

export interface Timing {
  /** The condition must hold this long before an incident opens. */
  readonly forMs: number;
  /** …and must stay false this long before it resolves. */
  readonly resolveForMs: number;
  /** After a resolution, no new incident of this rule for this target before this much time. */
  readonly cooldownMs: number;
}

export type Effect = 'open' | 'resolve' | undefined;

export const INACTIVE: Tracker = { phase: 'inactive', since: 0, lastResolvedAt: undefined };

/** The tracker after observing `active` at `now`, and the effect of the step. */
export function step(
  t: Tracker,
  active: boolean,
  now: number,
  timing: Timing,
): { tracker: Tracker; effect: Effect } {
  switch (t.phase) {
    case 'inactive':
      if (!active) return { tracker: t, effect: undefined };
      return step({ ...t, phase: 'pending', since: now }, true, now, timing);
    case 'pending': {
      if (!active) return { tracker: { ...t, phase: 'inactive', since: now }, effect: undefined };
      const cooled = t.lastResolvedAt === undefined || now - t.lastResolvedAt >= timing.cooldownMs;
      if (now - t.since >= timing.forMs && cooled)
        return { tracker: { ...t, phase: 'firing', since: now }, effect: 'open' };
      return { tracker: t, effect: undefined };
    }
    case 'firing':
      if (active) return { tracker: t, effect: undefined };
      return step({ ...t, phase: 'recovering', since: now }, false, now, timing);
    case 'recovering':
      if (active) return { tracker: { ...t, phase: 'firing', since: now }, effect: undefined };
      if (now - t.since >= timing.resolveForMs) {
        return { tracker: { phase: 'inactive', since: now, lastResolvedAt: now }, effect: 'resolve' };
      }
      return { tracker: t, effect: undefined };
  }
}

/** A tracker for an incident that is open (restored after a restart of the monitor). */
export function firingSince(openedAt: number): Tracker {
  return { phase: 'firing', since: openedAt, lastResolvedAt: undefined };
}
