/**
 * Per-identity request rate (token bucket) and concurrency (requests in flight). State is kept
 * by identity name, so a policy reload does not reset anyone's budget.
 */
export class Limits {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #inflight = new Map<string, number>();

  /** Takes one request from the identity's bucket; false when it is empty. */
  take(name: string, rate: { readonly perSecond: number; readonly burst: number }): boolean {
    const now = performance.now();
    const bucket = this.#buckets.get(name) ?? { tokens: rate.burst, at: now };
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond);
    bucket.at = now;
    this.#buckets.set(name, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /**
   * Claims a slot; returns its release, or undefined when `max` are in flight. Without a limit
   * nothing is counted (the proxy path does no work for a feature that is off); a limit added by
   * a reload counts the requests that start after it.
   */
  enter(name: string, max: number | undefined): (() => void) | undefined {
    if (max === undefined) return NO_SLOT;
    const now = this.#inflight.get(name) ?? 0;
    if (max !== undefined && now >= max) return undefined;
    this.#inflight.set(name, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#inflight.get(name) ?? 1) - 1;
      if (left === 0) this.#inflight.delete(name);
      else this.#inflight.set(name, left);
    };
  }
}

const NO_SLOT = (): void => {};
