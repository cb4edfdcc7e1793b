import { collectDefaultMetrics, type Registry, register } from 'prom-client';

/**
 * prom-client's process and Node.js metrics, minus the three it exports as gauges named
 * `…_total` (active handles, requests, resources), which `promtool check metrics` flags
 * ("non-counter metrics should not have _total suffix"): a scrape of dockgate lints clean.
 */
export function processMetrics(registry: Registry = register, prefix = ''): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(`${prefix}${name}`);
}
