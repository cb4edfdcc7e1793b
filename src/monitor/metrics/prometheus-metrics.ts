import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ContainerItem } from '../model/container.js';
import type { LiveState } from '../state/live-state.js';

const CONTAINER_LABELS = ['engine', 'name', 'compose_project', 'compose_service'] as const;

/**
 * `GET /metrics`: the live state as Prometheus gauges, computed when scraped (nothing is kept
 * per series between scrapes, so removed containers disappear). This is how a fleet outgrows one
 * monitor: Prometheus scrapes it and federates or remote-writes (docs/monitor.md).
 */
export function monitorMetrics(state: LiveState, extra: (registry: Registry) => void = () => {}): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dockgate_monitor_' });
  const perContainer = (
    name: string,
    help: string,
    value: (item: ContainerItem) => number | null,
    more: readonly string[] = [],
    extraLabels: (item: ContainerItem) => Record<string, string> = () => ({}),
  ): void => {
    new Gauge({
      name,
      help,
      labelNames: [...CONTAINER_LABELS, ...more],
      registers: [registry],
      collect() {
        this.reset();
        for (const item of state.containers()) {
          const v = value(item);
          if (v !== null) this.set({ ...labelsOf(item), ...extraLabels(item) }, v);
        }
      },
    });
  };
  perContainer(
    'dockgate_container_state',
    'Container state (1 for its current state)',
    () => 1,
    ['state'],
    (i) => ({ state: i.state }),
  );
  perContainer(
    'dockgate_container_health',
    'Container health (1 for its current health)',
    () => 1,
    ['health'],
    (i) => ({ health: i.health }),
  );
  perContainer('dockgate_container_running', '1 when the container is running', (i) =>
    i.state === 'running' ? 1 : 0,
  );
  perContainer('dockgate_container_restart_count', "Docker's RestartCount", (i) => i.restartCount);
  perContainer('dockgate_container_exit_code', 'Exit code of the last run', (i) => i.exitCode);
  perContainer('dockgate_container_oom_killed', '1 when the last run was OOM-killed', (i) =>
    i.oomKilled ? 1 : 0,
  );
  perContainer(
    'dockgate_container_cpu_percent',
    'CPU use in percent of one core (last sample)',
    (i) => i.cpuPercent,
  );
  perContainer(
    'dockgate_container_memory_bytes',
    'Memory in use, as docker stats shows it',
    (i) => i.memoryBytes,
  );
  perContainer(
    'dockgate_container_memory_limit_bytes',
    'Memory limit (the host memory when none)',
    (i) => i.memoryLimitBytes,
  );
  perContainer(
    'dockgate_container_network_receive_bytes',
    'Bytes received, all interfaces but lo',
    (i) => i.networkRxBytes,
  );
  perContainer(
    'dockgate_container_network_transmit_bytes',
    'Bytes sent, all interfaces but lo',
    (i) => i.networkTxBytes,
  );
  perContainer(
    'dockgate_container_block_read_bytes',
    'Bytes read from block devices',
    (i) => i.blockReadBytes,
  );
  perContainer(
    'dockgate_container_block_write_bytes',
    'Bytes written to block devices',
    (i) => i.blockWriteBytes,
  );
  perContainer('dockgate_container_pids', 'Processes in the container', (i) => i.pids);
  new Gauge({
    name: 'dockgate_engine_up',
    help: '1 when the engine is up or degraded (reachable), 0 when down or connecting',
    labelNames: ['engine'],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of state.engines())
        this.set({ engine: e.name }, e.status === 'up' || e.status === 'degraded' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'dockgate_engine_status',
    help: 'Engine status (1 for its current status: up, degraded, down, connecting)',
    labelNames: ['engine', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of state.engines()) this.set({ engine: e.name, status: e.status }, 1);
    },
  });
  extra(registry);
  return registry;
}

function labelsOf(item: ContainerItem): Record<(typeof CONTAINER_LABELS)[number], string> {
  return {
    engine: item.engine,
    name: item.name,
    compose_project: item.compose?.project ?? '',
    compose_service: item.compose?.service ?? '',
  };
}

/** `dockgate_alerts_open{kind,engine}`: open incidents, from the alert store at scrape time. */
export function alertMetrics(
  registry: Registry,
  store: { openCounts(): { kind: string; engine: string; n: number }[] },
): void {
  new Gauge({
    name: 'dockgate_alerts_open',
    help: 'Open alert incidents',
    labelNames: ['kind', 'engine'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { kind, engine, n } of store.openCounts()) this.set({ kind, engine }, n);
    },
  });
}
