/**
 * The ingest budget (lines per second for the whole monitor) shared among the containers that
 * log, max-min fair: each second, every container may take what it asked for last second if the
 * budget allows, and what the quiet ones leave goes to the busy ones; a container never gets less
 * than an equal share. A container writing 50 000 lines/s thus takes what the others leave, never
 * their part; what it writes beyond is dropped and counted (the collector says so in its log).
 */
export class FairShare {
  readonly #budget: number;
  /** This second: lines admitted and dropped, per key. */
  readonly #used = new Map<number, number>();
  readonly #dropped = new Map<number, number>();
  /** This second's allowance per key, from last second's demand. */
  #allowance = new Map<number, number>();

  constructor(budgetPerSecond: number) {
    this.#budget = budgetPerSecond;
  }

  /** One line of `key`: may it be kept? */
  admit(key: number): boolean {
    const used = this.#used.get(key) ?? 0;
    if (used < this.#limit(key)) {
      this.#used.set(key, used + 1);
      return true;
    }
    this.#dropped.set(key, (this.#dropped.get(key) ?? 0) + 1);
    return false;
  }

  /** Ends a second: the lines dropped per key in it; allowances for the next from its demand. */
  tick(): Map<number, number> {
    const demand = new Map<number, number>();
    for (const [key, used] of this.#used) demand.set(key, used + (this.#dropped.get(key) ?? 0));
    const dropped = new Map(this.#dropped);
    this.#allowance = waterFill(demand, this.#budget);
    this.#used.clear();
    this.#dropped.clear();
    return dropped;
  }

  forget(key: number): void {
    this.#used.delete(key);
    this.#dropped.delete(key);
    this.#allowance.delete(key);
  }

  #limit(key: number): number {
    const equal = this.#budget / Math.max(1, this.#allowance.size + (this.#allowance.has(key) ? 0 : 1));
    return Math.max(this.#allowance.get(key) ?? 0, equal);
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
