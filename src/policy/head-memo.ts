import { decideHead, type HeadOutcome } from './decide.js';
import type { Profile } from './profile.js';

/** Entries kept per profile; past it the memo starts over (a flood of distinct paths costs nothing more). */
const MAX_ENTRIES = 1024;
/** Longer targets are decided every time: the memo holds short, repeated ones (health checks, lists). */
const MAX_TARGET = 256;

/**
 * `decideHead` remembered per profile. The head stage is a pure function of the profile (never
 * changed in place: a reload compiles new ones), the method, the target and whether a body
 * follows; clients that hammer the same few requests (`/_ping`, `/containers/json`, `/events`)
 * skip normalising and matching rules every time. Everything that depends on the caller or the
 * moment — rate limits, tokens, owners, targets — is decided after it, as before.
 */
export class HeadMemo {
  readonly #byProfile = new WeakMap<Profile, Map<string, HeadOutcome>>();
  readonly #learning: boolean;

  constructor(learning: boolean) {
    this.#learning = learning;
  }

  decide(profile: Profile, method: string, target: string, hasBody: boolean): HeadOutcome {
    if (target.length > MAX_TARGET) return decideHead(profile, method, target, hasBody, this.#learning);
    let memo = this.#byProfile.get(profile);
    if (memo === undefined) {
      memo = new Map();
      this.#byProfile.set(profile, memo);
    }
    const key = `${hasBody ? 'B' : '-'}${method} ${target}`;
    let outcome = memo.get(key);
    if (outcome === undefined) {
      outcome = decideHead(profile, method, target, hasBody, this.#learning);
      if (memo.size >= MAX_ENTRIES) memo.clear();
      memo.set(key, outcome);
    }
    return outcome;
  }
}
