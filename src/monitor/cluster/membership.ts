import { fairShare } from './fair-share.js';
import type { Held, LeaseStore } from './lease-store.js';

/** What the membership tells the monitor: start or stop watching an engine. */
export interface OwnershipEvents {
  /** This monitor holds the engine's lease now, with `term` (each write carries it). */
  acquired(engine: string, term: number): void;
  /** It does not any more (lost, given back, or about to expire unrenewed): stop watching it. */
  lost(engine: string): void;
}

export interface MembershipOptions {
  /** Engines every monitor is configured with (the same list everywhere). */
  readonly engines: () => readonly string[];
  /** How often leases are renewed and the share looked at. */
  readonly intervalMs: number;
  /** A monitor not seen for this long is not counted in the share. */
  readonly staleMs: number;
  /** Stop trusting a lease this long before it could have expired. */
  readonly marginMs: number;
}

/**
 * One monitor's part in sharing engines (docs/scaling.md): every interval it sends a heartbeat,
 * renews the leases it holds, gives back those beyond its fair share, takes free or expired
 * ones up to it, and stops acting on any lease it could not renew before its trust window ends —
 * before another monitor can have taken it (so two never watch one engine at once). Ownership
 * changes are told through `events`.
 */
export class Membership {
  readonly #store: LeaseStore;
  readonly #self: string;
  readonly #options: MembershipOptions;
  readonly #events: OwnershipEvents;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(store: LeaseStore, self: string, options: MembershipOptions, events: OwnershipEvents) {
    this.#store = store;
    this.#self = self;
    this.#options = options;
    this.#events = events;
  }

  /** Engines this monitor holds now. */
  owned(): string[] {
    return [...this.#held.keys()].sort();
  }

  /** The first round now (what this monitor takes is known when it returns), then one per interval. */
  async start(): Promise<void> {
    this.#round = this.round().catch(() => this.#expireUntrusted());
    await this.#round;
    this.#schedule(this.#options.intervalMs);
  }

  /** Stops the rounds: nothing more is taken or renewed; what is held stays until `stop`. */
  async pause(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#round?.catch(() => {});
  }

  /** Stops; `release`: give every lease back at once (a clean shutdown), else let them expire. */
  async stop(release = true): Promise<void> {
    await this.pause();
    for (const [engine, held] of this.#held) {
      this.#held.delete(engine);
      this.#events.lost(engine);
      if (release) await this.#store.release(held).catch(() => {});
    }
  }

  /** One round now (tests, and the timer). */
  async round(): Promise<void> {
    this.#expireUntrusted();
    await this.#store.heartbeat();
    for (const [engine, held] of [...this.#held]) {
      const renewed = await this.#store.renew(held).catch(() => undefined);
      if (renewed === undefined) this.#drop(engine);
      else this.#held.set(engine, renewed);
    }
    const engines = this.#options.engines();
    const instances = (await this.#store.instances(this.#options.staleMs)).map((i) => i.id);
    const leases = await this.#store.leases();
    const { acquire, release } = fairShare(this.#self, instances, engines, leases);
    for (const engine of release) {
      const held = this.#held.get(engine);
      if (held === undefined) continue;
      this.#drop(engine);
      await this.#store.release(held);
    }
    for (const engine of acquire) {
      if (this.#stopped) return;
      // One lease another monitor still has locked (it stopped mid-commit) does not stop the round.
      const held = await this.#store.acquire(engine).catch(() => undefined);
      if (held === undefined) continue;
      this.#held.set(engine, held);
      this.#events.acquired(engine, held.term);
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#round = this.round()
        .catch(() => this.#expireUntrusted()) // the store away: leases lapse by the clock
        .finally(() => this.#schedule(this.#options.intervalMs));
    }, ms);
    this.#timer.unref();
  }

  /** Leases whose trust window (less the margin) has passed without a renewal. */
  #expireUntrusted(): void {
    const now = performance.now();
    for (const [engine, held] of [...this.#held])
      if (now >= held.trustUntil - this.#options.marginMs) this.#drop(engine);
  }

  #drop(engine: string): void {
    if (!this.#held.delete(engine)) return;
    this.#events.lost(engine);
  }
}
