/**
 * The one source of "now" for everything that decides by time (history tiers, retention,
 * sessions, alert windows, delivery times). Production passes `systemClock`; unit tests pass a
 * clock they set, so no test depends on the day it runs (issue 21: a test that pinned a date
 * but let the store read the wall clock passed the day it was written and failed a day later).
 */
export type Clock = () => number;

/** Milliseconds since the epoch, from the system. */
export const systemClock: Clock = () => Date.now();

/** A clock a test sets and moves by hand. */
export function manualClock(start: number): Clock & { set(ms: number): void; advance(ms: number): void } {
  let now = start;
  const clock = (() => now) as Clock & { set(ms: number): void; advance(ms: number): void };
  clock.set = (ms) => {
    now = ms;
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}
