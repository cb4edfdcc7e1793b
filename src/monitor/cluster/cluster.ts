import type { Sql as PgClient } from 'postgres';
import type { Logger } from '../../log/logger.js';
import type { Alert } from '../alerts/alert-store.js';
import type { LiveState } from '../state/live-state.js';
import type { Sql } from '../store/sql.js';
import type { Writer } from '../store/writer.js';
import type { Instance } from './cluster-routes.js';
import type { ClusterTiming } from './cluster-timing.js';
import { leaseFence } from './lease-fence.js';
import { LeaseStore } from './lease-store.js';
import { Membership, type OwnershipEvents } from './membership.js';
import { Replica } from './replica.js';

/** What `GET /api/v1/cluster` answers (docs/scaling.md). */
export interface ClusterView {
  readonly self: string;
  readonly store: 'sqlite' | 'postgres';
  readonly instances: readonly {
    readonly id: string;
    readonly host: string;
    readonly pid: number;
    readonly listen: string;
    readonly lastSeen: string;
    readonly engines: readonly string[];
  }[];
  readonly leases: readonly {
    readonly engine: string;
    readonly owner: string | null;
    readonly term: number;
    readonly expiresAt: string | null;
  }[];
}

/**
 * This monitor among several on one PostgreSQL store: its membership (heartbeat, leases, fair
 * share), the fence its writer's commits carry, and the replica that shows the engines others
 * own. `owns(engine)` is the one answer the rest of the monitor asks: watch it, evaluate its
 * alert rules, export its metrics — or follow it from the store.
 */
export class Cluster {
  readonly #terms = new Map<string, number>();
  readonly #leases: LeaseStore;
  readonly #membership: Membership;
  readonly #replica: Replica;
  readonly #writer: Writer;
  readonly #self: Instance;
  readonly #timing: ClusterTiming;

  constructor(options: {
    pg: PgClient;
    sql: Sql;
    writer: Writer;
    self: Instance;
    listen: string;
    engines: () => readonly string[];
    state: LiveState;
    publishAlert: (alert: Alert) => void;
    log: Logger;
    timing: ClusterTiming;
    events: OwnershipEvents;
  }) {
    const { self, timing } = options;
    this.#self = self;
    this.#timing = timing;
    this.#writer = options.writer;
    this.#leases = new LeaseStore(
      options.pg,
      { id: self.id, host: self.host, pid: self.pid, listen: options.listen },
      timing.leaseTtlMs,
    );
    this.#membership = new Membership(
      this.#leases,
      self.id,
      {
        engines: options.engines,
        intervalMs: timing.intervalMs,
        staleMs: timing.leaseTtlMs,
        // Stop acting a renewal interval before the lease could expire unrenewed.
        marginMs: timing.intervalMs,
      },
      {
        acquired: (engine, term) => {
          this.#terms.set(engine, term);
          options.log.info({ engine, term }, 'cluster: this monitor watches the engine now');
          options.events.acquired(engine, term);
        },
        lost: (engine) => {
          this.#terms.delete(engine);
          options.log.info({ engine }, 'cluster: another monitor watches the engine now');
          options.events.lost(engine);
        },
      },
    );
    this.#replica = new Replica({
      sql: options.sql,
      listen: timing.pollOnly ? undefined : options.pg,
      state: options.state,
      owns: (engine) => this.owns(engine),
      engines: options.engines,
      publishAlert: options.publishAlert,
      log: options.log,
      pollMs: timing.pollMs,
    });
  }

  owns(engine: string): boolean {
    return this.#terms.has(engine);
  }

  /** The lease term this monitor holds `engine` with (its writes and outbox rows carry it). */
  term(engine: string): number | undefined {
    return this.#terms.get(engine);
  }

  /** Engines this monitor holds now. */
  owned(): string[] {
    return this.#membership.owned();
  }

  async start(): Promise<void> {
    this.#writer.setFence(leaseFence(this.#self.id, this.#terms));
    await this.#replica.start();
    await this.#membership.start();
  }

  /** Stops taking leases (the writes of the engines it watches still count until `release`). */
  async pause(): Promise<void> {
    await this.#membership.pause();
  }

  /** Gives every lease back (a clean stop: the others take the engines at once) and stops following. */
  async stop(): Promise<void> {
    await this.#membership.stop(true);
    await this.#replica.stop();
  }

  async view(): Promise<ClusterView> {
    const [instances, leases] = await Promise.all([
      this.#leases.instances(this.#timing.leaseTtlMs),
      this.#leases.leases(),
    ]);
    return {
      self: this.#self.id,
      store: 'postgres',
      instances: instances.map((i) => ({
        id: i.id,
        host: i.host,
        pid: i.pid,
        listen: i.listen,
        lastSeen: i.lastSeen.toISOString(),
        engines: leases.filter((l) => l.owner === i.id && l.live).map((l) => l.engine),
      })),
      leases: leases.map((l) => ({
        engine: l.engine,
        owner: l.live ? l.owner : null,
        term: l.term,
        expiresAt: l.expiresAt.toISOString(),
      })),
    };
  }

  /** The listen URL of the monitor that owns `engine` now, if another one does. */
  async ownerOf(engine: string): Promise<{ id: string; listen: string } | undefined> {
    const view = await this.view();
    const owner = view.leases.find((l) => l.engine === engine)?.owner;
    const instance = view.instances.find((i) => i.id === owner);
    return instance === undefined || instance.id === this.#self.id
      ? undefined
      : { id: instance.id, listen: instance.listen };
  }
}
