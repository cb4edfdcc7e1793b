/** Seconds of a container's share it may save up: a burst, or reading back what it wrote while the monitor was away. */
const BURST_S = 60;

/**
 * The ingest budget (lines per second for the whole monitor) shared among the containers that
 * log, max-min fair: each second, every container's rate is what it asked for last second if the
 * budget allows, and what the quiet ones leave goes to the busy ones; a container never gets less
 * than an equal share. Each has a bucket of 60 s of its rate, full at first sight: a burst, or the
 * lines written while the monitor was away (read back at once on restart), pass; a container
 * writing 50 000 lines/s empties its bucket and then takes what the others leave, never their
 * part. What it writes beyond is dropped and counted (the collector says so in its log).
 */
export class FairShare {
  readonly #budget: number;
  /** Lines each key may still take. */
  readonly #tokens = new Map<number, number>();
  /** This second: lines asked for (kept or not) and dropped, per key. */
  readonly #asked = new Map<number, number>();
  readonly #dropped = new Map<number, number>();

  constructor(budgetPerSecond: number) {
    this.#budget = budgetPerSecond;
  }

  /** One line of `key`: may it be kept? */
  admit(key: number): boolean {
    this.#asked.set(key, (this.#asked.get(key) ?? 0) + 1);
    const tokens = this.#tokens.get(key) ?? (this.#budget / (this.#tokens.size + 1)) * BURST_S;
    if (tokens >= 1) {
      this.#tokens.set(key, tokens - 1);
      return true;
    }
    this.#tokens.set(key, tokens);
    this.#dropped.set(key, (this.#dropped.get(key) ?? 0) + 1);
    return false;
  }

  /** Ends a second: the lines dropped per key in it; each bucket refilled at its new rate. */
  tick(): Map<number, number> {
    const dropped = new Map(this.#dropped);
    // Each key's rate (lines/s) from last second's demand.
    const rates = waterFill(this.#asked, this.#budget);
    const equal = this.#equal();
    for (const [key, tokens] of this.#tokens) {
      const rate = Math.max(rates.get(key) ?? 0, equal);
      this.#tokens.set(key, Math.min(rate * BURST_S, tokens + rate));
    }
    this.#asked.clear();
    this.#dropped.clear();
    return dropped;
  }

  forget(key: number): void {
    this.#tokens.delete(key);
    this.#asked.delete(key);
    this.#dropped.delete(key);
  }

  /** An equal share of the budget among the containers seen. */
  #equal(): number {
    return this.#budget / Math.max(1, this.#tokens.size);
  }
}

/** Max-min fair shares of `budget` among demands: the smallest are met first. */
export function waterFill(demand: ReadonlyMap<number, number>, budget: number): Map<number, number> {
  const out = new Map<number, number>();
  const sorted = [...demand].sort((a, b) => a[1] - b[1]);
  let left = budget;
  for (const [i, [key, wants]] of sorted.entries()) {
    const share = left / (sorted.length - i);
    const given = Math.min(wants, share);
    out.set(key, given);
    left -= given;
  }
  // What nobody asked for goes to the busiest (its demand may grow).
  const last = sorted[sorted.length - 1];
  if (last !== undefined && left > 0) out.set(last[0], (out.get(last[0]) ?? 0) + left);
  return out;
}
