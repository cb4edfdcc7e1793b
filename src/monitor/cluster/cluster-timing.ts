/** Lease timing (docs/scaling.md): a dead monitor's engines are taken within ttl + interval. */
export interface ClusterTiming {
  /** How long a lease lasts unrenewed (the database's clock). */
  readonly leaseTtlMs: number;
  /** How often leases are renewed and the fair share looked at. */
  readonly intervalMs: number;
  /** Follow other monitors by polling alone (no LISTEN: PgBouncer in transaction mode). */
  readonly pollOnly: boolean;
  /** How often changes are read without a wake-up. */
  readonly pollMs: number;
}

export const CLUSTER_DEFAULTS: ClusterTiming = {
  leaseTtlMs: 10_000,
  intervalMs: 2_000,
  pollOnly: false,
  pollMs: 1_000,
};
