import { Counter, Gauge, Registry } from 'prom-client';
import { processMetrics } from '../../metrics/process-metrics.js';
import type { MetricsCompat } from '../config/monitor-config.js';
import type { ContainerItem } from '../model/container.js';
import type { LiveState } from '../state/live-state.js';
import type { ContainerCounters, CounterSet } from './container-counters.js';

/** cAdvisor's label names (`id`: see docs/prometheus.md), and dockgate's. */
const CADVISOR_LABELS = ['name', 'image', 'id', 'engine', 'compose_project', 'compose_service'] as const;
/** dockgate's own gauges of before 0.x keep their labels (dashboards read them). */
const LEGACY_LABELS = ['engine', 'name', 'compose_project', 'compose_service'] as const;

type Value = (item: ContainerItem, set: CounterSet | undefined) => number | null | undefined;

/**
 * `GET /metrics` (docs/prometheus.md): the live state and the counters, computed when scraped —
 * nothing is kept per series between scrapes, so a removed container's series are gone at the
 * next scrape, and no sample carries a timestamp. `compat` picks the names: cAdvisor's (raw
 * counters and gauges in base units, so existing dashboards and rules work unchanged) plus what
 * cAdvisor has no name for (`dockgate_container_info` for every container, stopped ones too, exits
 * counted from events…); `dockgate`: the monitor's earlier gauges (percent, last sample) plus the
 * same extras; `both`.
 */
export function monitorMetrics(
  state: LiveState,
  counters: ContainerCounters,
  compat: MetricsCompat,
  extra: (registry: Registry) => void = () => {},
  /** Several monitors: each exports the engines it owns, so `sum without(instance)` is continuous. */
  owns: (engine: string) => boolean = () => true,
): Registry {
  const registry = new Registry();
  processMetrics(registry, 'dockgate_monitor_');
  // prom-client calls every family's collect() in one synchronous pass per scrape: the container
  // list is taken once for that pass (and the counters of removed containers dropped once).
  let snapshot: ContainerItem[] | undefined;
  const containers = (): ContainerItem[] => {
    if (snapshot === undefined) {
      snapshot = state.containers().filter((item) => owns(item.engine));
      counters.retain((engine, id) => state.container(engine, id) !== undefined);
      setImmediate(() => {
        snapshot = undefined;
      });
    }
    return snapshot;
  };
  /** One metric family over every container, its values read at scrape time. */
  const family = (
    type: 'gauge' | 'counter',
    name: string,
    help: string,
    labels: readonly string[],
    value: Value,
    labelsOf: (item: ContainerItem) => Record<string, string>,
  ): void => {
    const options = { name, help, labelNames: [...labels], registers: [registry] };
    const values = (): [Record<string, string>, number][] =>
      containers().flatMap((item) => {
        const v = value(item, counters.get(item.engine, item.id));
        return v === null || v === undefined ? [] : [[labelsOf(item), v] as [Record<string, string>, number]];
      });
    if (type === 'gauge')
      new Gauge({
        ...options,
        collect() {
          this.reset();
          for (const [l, v] of values()) this.set(l, v);
        },
      });
    else
      new Counter({
        ...options,
        collect() {
          this.reset();
          for (const [l, v] of values()) this.inc(l, v);
        },
      });
  };
  const gauge = (...args: Parameters<typeof family> extends [unknown, ...infer R] ? R : never): void =>
    family('gauge', ...args);
  const counter = (...args: Parameters<typeof family> extends [unknown, ...infer R] ? R : never): void =>
    family('counter', ...args);
  const running = (item: ContainerItem): boolean => item.state === 'running' || item.state === 'paused';
  /** A stats counter of a running container (cAdvisor exports running containers only). */
  const stat =
    (read: (s: NonNullable<CounterSet['sample']>, item: ContainerItem) => number | null | undefined): Value =>
    (item, set) =>
      running(item) && set?.sample !== undefined ? read(set.sample, item) : null;

  if (compat !== 'dockgate') {
    const c = (name: string, help: string, value: Value, more: Record<string, string> = {}): void =>
      counter(name, help, [...CADVISOR_LABELS, ...Object.keys(more)], value, (i) => ({
        ...cadvisorLabels(i),
        ...more,
      }));
    const g = (name: string, help: string, value: Value): void =>
      gauge(name, help, CADVISOR_LABELS, value, cadvisorLabels);
    c(
      'container_cpu_usage_seconds_total',
      'Cumulative CPU time consumed, in seconds',
      stat((s) => s.cpuNs / 1e9),
      { cpu: 'total' },
    );
    c(
      'container_cpu_cfs_periods_total',
      'Number of elapsed enforcement period intervals (containers with a CPU limit)',
      stat((s) => s.cpuPeriods),
    );
    c(
      'container_cpu_cfs_throttled_periods_total',
      'Number of throttled period intervals',
      stat((s) => s.cpuThrottledPeriods),
    );
    g(
      'container_memory_working_set_bytes',
      'Current working set in bytes (usage minus inactive page cache, as docker stats shows)',
      stat((s) => s.memoryBytes),
    );
    g(
      'container_memory_usage_bytes',
      'Current memory usage in bytes, page cache included',
      stat((s) => s.memoryUsageBytes),
    );
    g(
      'container_spec_memory_limit_bytes',
      "Memory limit in bytes (the host's memory when the container has none, as docker stats)",
      stat((s) => s.memoryLimitBytes),
    );
    c(
      'container_network_receive_bytes_total',
      'Cumulative bytes received, all interfaces but lo (none for host networking)',
      stat((s) => s.netRxBytes),
    );
    c(
      'container_network_transmit_bytes_total',
      'Cumulative bytes transmitted, all interfaces but lo (none for host networking)',
      stat((s) => s.netTxBytes),
    );
    c(
      'container_fs_reads_bytes_total',
      'Cumulative bytes read from block devices',
      stat((s) => s.blockReadBytes),
    );
    c(
      'container_fs_writes_bytes_total',
      'Cumulative bytes written to block devices',
      stat((s) => s.blockWriteBytes),
    );
    g(
      'container_pids',
      'Number of processes in the container',
      stat((s) => s.pids),
    );
    g(
      'container_start_time_seconds',
      'Start time of the container since the unix epoch in seconds',
      (item) => (running(item) && item.startedAt !== null ? Date.parse(item.startedAt) / 1000 : null),
    );
    g(
      'container_last_seen',
      'Last time the container was seen running by the monitor (its last stats sample), unix seconds',
      stat((s) => s.at / 1000),
    );
  }

  // What cAdvisor lacks: every container, stopped ones included, and exits counted from events.
  gauge(
    'dockgate_container_info',
    'Every container the monitor knows, with its state and health (always 1)',
    [...CADVISOR_LABELS, 'state', 'health', 'restart_policy'],
    () => 1,
    (i) => ({ ...cadvisorLabels(i), state: i.state, health: i.health, restart_policy: i.restartPolicy }),
  );
  gauge(
    'dockgate_container_exit_code',
    'Exit code of the last run (containers that have run and stopped)',
    CADVISOR_LABELS,
    (i) => (i.state === 'running' ? null : i.exitCode),
    cadvisorLabels,
  );
  counter(
    'dockgate_container_restarts_total',
    'Starts after a die seen while the monitor ran (a restart policy, autoheal, a person)',
    CADVISOR_LABELS,
    (_i, set) => set?.restarts ?? 0,
    cadvisorLabels,
  );
  counter(
    'dockgate_container_oom_kills_total',
    'OOM kills seen while the monitor ran (the oom event)',
    CADVISOR_LABELS,
    (_i, set) => set?.oomKills ?? 0,
    cadvisorLabels,
  );
  new Counter({
    name: 'dockgate_container_exits_total',
    help: 'Exits seen while the monitor ran; expected="true" when a stop or kill was asked before',
    labelNames: [...CADVISOR_LABELS, 'expected'],
    registers: [registry],
    collect() {
      this.reset();
      for (const item of containers()) {
        const set = counters.get(item.engine, item.id);
        this.inc({ ...cadvisorLabels(item), expected: 'true' }, set?.exitsExpected ?? 0);
        this.inc({ ...cadvisorLabels(item), expected: 'false' }, set?.exitsUnexpected ?? 0);
      }
    },
  });

  if (compat !== 'cadvisor') legacyGauges(registry, containers);

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

/**
 * The monitor's gauges from before the cAdvisor names (`--metrics-compat dockgate|both`): last
 * samples and percentages, kept so dashboards built on them go on working.
 */
function legacyGauges(registry: Registry, containers: () => ContainerItem[]): void {
  const legacy = (name: string, help: string, value: (item: ContainerItem) => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames: [...LEGACY_LABELS],
      registers: [registry],
      collect() {
        this.reset();
        for (const item of containers()) {
          const v = value(item);
          if (v !== null) this.set(legacyLabels(item), v);
        }
      },
    });
  };
  legacy('dockgate_container_running', '1 when the container is running', (i) =>
    i.state === 'running' ? 1 : 0,
  );
  legacy('dockgate_container_engine_restarts', "Docker's RestartCount", (i) => i.restartCount);
  legacy('dockgate_container_oom_killed', '1 when the last run was OOM-killed', (i) => (i.oomKilled ? 1 : 0));
  legacy(
    'dockgate_container_cpu_percent',
    'CPU use in percent of one core (last sample)',
    (i) => i.cpuPercent,
  );
  legacy('dockgate_container_memory_bytes', 'Memory in use, as docker stats shows it', (i) => i.memoryBytes);
  legacy(
    'dockgate_container_memory_limit_bytes',
    'Memory limit (the host memory when none)',
    (i) => i.memoryLimitBytes,
  );
  legacy('dockgate_container_pids', 'Processes in the container', (i) => i.pids);
}

/** `id` is `/docker/<full id>`: the cgroupfs path cAdvisor shows for a Docker container. */
function cadvisorLabels(item: ContainerItem): Record<(typeof CADVISOR_LABELS)[number], string> {
  return {
    name: item.name,
    image: item.image,
    id: `/docker/${item.id}`,
    engine: item.engine,
    compose_project: item.compose?.project ?? '',
    compose_service: item.compose?.service ?? '',
  };
}

function legacyLabels(item: ContainerItem): Record<(typeof LEGACY_LABELS)[number], string> {
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
