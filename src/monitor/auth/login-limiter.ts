import { type Clock, systemClock } from '../../clock.js';

/** Failed sign-ins allowed per key (an address, a user name) in the window. */
export const LOGIN_FAILURES = 5;
export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Keys remembered at most: a flood of addresses cannot grow the map without end. */
const MAX_KEYS = 10_000;

/**
 * Slows password guessing: after 5 failed sign-ins from one address, or for one user name,
 * within 15 minutes, further attempts are refused with 429 (and `Retry-After`) before any
 * password is checked — so a guesser also cannot make the monitor spend CPU on argon2. A
 * success clears that address's and name's count. In memory: a restart forgets, which only
 * ever helps the owner.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, number[]>();
  readonly #now: Clock;

  constructor(now: Clock = systemClock) {
    this.#now = now;
  }

  /** Seconds until another attempt for this address and name is heard; 0 when it is now. */
  retryAfter(address: string, name: string): number {
    const wait = Math.max(this.#wait(`ip:${address}`), this.#wait(`user:${name}`));
    return wait > 0 ? Math.ceil(wait / 1000) : 0;
  }

  failed(address: string, name: string): void {
    if (this.#failures.size >= MAX_KEYS) this.#prune();
    for (const key of [`ip:${address}`, `user:${name}`]) {
      const list = this.#recent(key);
      list.push(this.#now());
      // Re-inserted: the map's order is then the order of last failure, and a flood's pruning
      // drops the keys that have been quiet longest, not a name under attack.
      this.#failures.delete(key);
      this.#failures.set(key, list);
    }
  }

  succeeded(address: string, name: string): void {
    this.#failures.delete(`ip:${address}`);
    this.#failures.delete(`user:${name}`);
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  #wait(key: string): number {
    const list = this.#recent(key);
    if (list.length < LOGIN_FAILURES) return 0;
    return (list[list.length - LOGIN_FAILURES] as number) + LOGIN_WINDOW_MS - this.#now();
  }

  #recent(key: string): number[] {
    const since = this.#now() - LOGIN_WINDOW_MS;
    return (this.#failures.get(key) ?? []).filter((t) => t > since);
  }

  #prune(): void {
    for (const key of [...this.#failures.keys()]) {
      const list = this.#recent(key);
      if (list.length === 0) this.#failures.delete(key);
      else this.#failures.set(key, list);
    }
    // Still full of fresh keys (a spread-out flood): forget the half quiet the longest.
    if (this.#failures.size >= MAX_KEYS)
      for (const key of [...this.#failures.keys()].slice(0, MAX_KEYS / 2)) this.#failures.delete(key);
  }
}
