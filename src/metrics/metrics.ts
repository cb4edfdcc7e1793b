import cluster from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Histogram, register } from 'prom-client';
import type { AccessEntry } from '../gateway/access-log.js';
import { processMetrics } from './process-metrics.js';

/**
 * The gateway's Prometheus metrics (prom-client, on its global registry so that with --workers
 * the primary can gather every worker's through prom-client's AggregatorRegistry).
 */
export class GatewayMetrics {
  readonly #requests = new Counter({
    name: 'dockgate_requests_total',
    help: 'Requests by route class, decision and status',
    labelNames: ['route', 'decision', 'status'] as const,
  });
  readonly #duration = new Histogram({
    name: 'dockgate_request_duration_seconds',
    help: 'Time from request head to the end of the answer (streams: until they end), by route class',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
  });
  readonly #open = new Gauge({
    name: 'dockgate_open_streams',
    help: 'Requests forwarded whose answer (or hijacked stream) is still open',
  });
  readonly #upstreamErrors = new Counter({
    name: 'dockgate_upstream_errors_total',
    help: 'Exchanges the gateway answered or cut because the engine failed (unreachable, closed, protocol)',
  });
  readonly #reloads = new Counter({
    name: 'dockgate_policy_reloads_total',
    help: 'Policy reloads by result',
    labelNames: ['result'] as const,
  });
  readonly #generation = new Gauge({
    name: 'dockgate_policy_generation',
    help: 'Generation of the policy in force (1 at start)',
  });

  constructor(connections: () => number) {
    // A worker answers the primary's metrics requests only once prom-client's cluster listener
    // is installed, which constructing an AggregatorRegistry does.
    if (cluster.isWorker) new AggregatorRegistry();
    processMetrics();
    new Gauge({
      name: 'dockgate_connections',
      help: 'Client connections open',
      collect() {
        this.set(connections());
      },
    });
    this.#generation.set(1);
  }

  /** One access entry: counts and timings. */
  observe(entry: AccessEntry): void {
    const route = entry.audit?.route ?? 'other';
    this.#requests.inc({ route, decision: entry.audit?.decision ?? 'allow', status: String(entry.status) });
    this.#duration.observe({ route }, entry.ms / 1000);
    if (entry.error !== undefined && entry.status >= 502 && entry.audit?.decision !== 'deny')
      this.#upstreamErrors.inc();
  }

  open(delta: 1 | -1): void {
    this.#open.inc(delta);
  }

  reloaded(ok: boolean, generation: number): void {
    this.#reloads.inc({ result: ok ? 'ok' : 'rejected' });
    if (ok) this.#generation.set(generation);
  }
}

export { register };
