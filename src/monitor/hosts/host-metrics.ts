import { Counter, Gauge, type Registry } from 'prom-client';
import type { HostCollector } from './host-collector.js';
import type { HostView } from './host-sources.js';
import type { Hosts } from './hosts.js';

type Labels = Record<string, string>;
type Read = (view: HostView, c: HostCollector) => [Labels, number][];

/**
 * The hosts on `/metrics` (docs/prometheus.md#hosts): node_exporter's names, units and labels
 * (`node_cpu_seconds_total{cpu,mode}`, `node_filesystem_avail_bytes{device,fstype,mountpoint}`,
 * `node_memory_MemAvailable_bytes`, `node_load1`, …) with an `engine` label, so node_exporter's
 * dashboards and rules work with `engine` where they had `instance`; and Docker's own disk use.
 * Read at scrape time from each collector's latest reading; only hosts read through a gateway
 * have the node_ families (nothing is made up from `/info`).
 */
export function hostMetrics(registry: Registry, hosts: Hosts, owns: (engine: string) => boolean): void {
  const family = (
    type: 'gauge' | 'counter',
    name: string,
    help: string,
    labels: string[],
    read: Read,
  ): void => {
    const values = (): [Labels, number][] =>
      hosts
        .collectors()
        .filter((c) => owns(c.engine) && c.latest !== undefined)
        .flatMap((c) =>
          read(c.latest as HostView, c).map(([l, v]) => [{ engine: c.engine, ...l }, v] as [Labels, number]),
        );
    const options = { name, help, labelNames: ['engine', ...labels], registers: [registry] };
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
  const one = (v: number | null | undefined): [Labels, number][] =>
    v === null || v === undefined ? [] : [[{}, v]];
  const MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

  family('counter', 'node_cpu_seconds_total', 'Seconds the CPUs spent in each mode.', ['cpu', 'mode'], (v) =>
    (v.cpu?.perCore ?? []).flatMap((core, i) =>
      MODES.map((mode) => [{ cpu: String(i), mode }, core[mode]] as [Labels, number]),
    ),
  );
  for (const n of ['1', '5', '15'] as const)
    family('gauge', `node_load${n}`, `${n}m load average.`, [], (v) => one(v.cpu?.[`load${n}`]));
  const mem = (name: string, help: string, pick: (m: NonNullable<HostView['memory']>) => number): void =>
    family('gauge', name, help, [], (v) => one(v.memory === null ? null : pick(v.memory)));
  mem('node_memory_MemTotal_bytes', 'Memory information field MemTotal_bytes.', (m) => m.totalBytes);
  mem(
    'node_memory_MemAvailable_bytes',
    'Memory information field MemAvailable_bytes.',
    (m) => m.availableBytes,
  );
  mem('node_memory_SwapTotal_bytes', 'Memory information field SwapTotal_bytes.', (m) => m.swapTotalBytes);
  mem(
    'node_memory_SwapFree_bytes',
    'Memory information field SwapFree_bytes.',
    (m) => m.swapTotalBytes - m.swapUsedBytes,
  );
  const fsLabels = ['device', 'fstype', 'mountpoint'];
  const fs = (name: string, help: string, pick: (f: HostView['filesystems'][number]) => number): void =>
    family('gauge', name, help, fsLabels, (v) =>
      v.filesystems.map(
        (f) => [{ device: f.device, fstype: f.fsType, mountpoint: f.mount }, pick(f)] as [Labels, number],
      ),
    );
  fs('node_filesystem_size_bytes', 'Filesystem size in bytes.', (f) => f.sizeBytes);
  fs('node_filesystem_free_bytes', 'Filesystem free space in bytes.', (f) => f.sizeBytes - f.usedBytes);
  fs(
    'node_filesystem_avail_bytes',
    'Filesystem space available to non-root users in bytes.',
    (f) => f.availableBytes,
  );
  fs('node_filesystem_files', 'Filesystem total file nodes.', (f) => f.inodes);
  fs('node_filesystem_files_free', 'Filesystem total free file nodes.', (f) => f.inodes - f.inodesUsed);
  fs('node_filesystem_readonly', 'Filesystem read-only status.', (f) => (f.readOnly ? 1 : 0));
  family(
    'gauge',
    'dockgate_host_filesystem_docker_root',
    "1 for the filesystem holding the engine's DockerRootDir",
    ['mountpoint'],
    (v) =>
      v.filesystems.filter((f) => f.dockerRoot).map((f) => [{ mountpoint: f.mount }, 1] as [Labels, number]),
  );
  const net = (name: string, help: string, key: 'rxBytes' | 'txBytes'): void =>
    family('counter', name, help, ['device'], (v) =>
      v.network.map((n) => [{ device: n.interface }, n[key]] as [Labels, number]),
    );
  net('node_network_receive_bytes_total', 'Network device statistic receive_bytes.', 'rxBytes');
  net('node_network_transmit_bytes_total', 'Network device statistic transmit_bytes.', 'txBytes');
  const disk = (name: string, help: string, pick: (d: HostView['disks'][number]) => number): void =>
    family('counter', name, help, ['device'], (v) =>
      v.disks.map((d) => [{ device: d.device }, pick(d)] as [Labels, number]),
    );
  disk(
    'node_disk_reads_completed_total',
    'The total number of reads completed successfully.',
    (d) => d.reads,
  );
  disk(
    'node_disk_writes_completed_total',
    'The total number of writes completed successfully.',
    (d) => d.writes,
  );
  disk('node_disk_read_bytes_total', 'The total number of bytes read successfully.', (d) => d.readBytes);
  disk(
    'node_disk_written_bytes_total',
    'The total number of bytes written successfully.',
    (d) => d.writtenBytes,
  );
  disk('node_disk_io_time_seconds_total', 'Total seconds spent doing I/Os.', (d) => d.ioTimeSeconds);
  const temperature = (
    name: string,
    help: string,
    pick: (t: HostView['temperatures'][number]) => number | null,
  ): void =>
    family('gauge', name, help, ['chip', 'sensor'], (v) =>
      v.temperatures.flatMap((t) => {
        const value = pick(t);
        return value === null ? [] : [[{ chip: t.chip, sensor: t.sensor }, value] as [Labels, number]];
      }),
    );
  temperature('node_hwmon_temp_celsius', 'Hardware monitor for temperature (input)', (t) => t.celsius);
  temperature(
    'node_hwmon_temp_crit_celsius',
    'Hardware monitor for temperature (crit)',
    (t) => t.criticalCelsius,
  );
  family(
    'gauge',
    'node_hwmon_sensor_label',
    'Label for given chip and sensor',
    ['chip', 'sensor', 'label'],
    (v) =>
      v.temperatures
        .filter((t) => t.label !== null)
        .map((t) => [{ chip: t.chip, sensor: t.sensor, label: t.label ?? '' }, 1] as [Labels, number]),
  );
  const psi = (
    name: string,
    help: string,
    pick: (p: NonNullable<HostView['pressure']>) => number | undefined,
  ): void =>
    family('counter', name, help, [], (v) => one(v.pressure === undefined ? null : pick(v.pressure)));
  psi(
    'node_pressure_cpu_waiting_seconds_total',
    'Total time in seconds that processes have waited for CPU time',
    (p) => (p.cpu === undefined ? undefined : p.cpu.some.totalMicroseconds / 1e6),
  );
  psi(
    'node_pressure_memory_waiting_seconds_total',
    'Total time in seconds that processes have waited for memory',
    (p) => (p.memory === undefined ? undefined : p.memory.some.totalMicroseconds / 1e6),
  );
  psi(
    'node_pressure_memory_stalled_seconds_total',
    'Total time in seconds no process could make progress due to memory congestion',
    (p) => (p.memory?.full === undefined ? undefined : p.memory.full.totalMicroseconds / 1e6),
  );
  psi(
    'node_pressure_io_waiting_seconds_total',
    'Total time in seconds that processes have waited due to IO congestion',
    (p) => (p.io === undefined ? undefined : p.io.some.totalMicroseconds / 1e6),
  );
  psi(
    'node_pressure_io_stalled_seconds_total',
    'Total time in seconds no process could make progress due to IO congestion',
    (p) => (p.io?.full === undefined ? undefined : p.io.full.totalMicroseconds / 1e6),
  );
  family('gauge', 'node_boot_time_seconds', 'Node boot time, in unixtime.', [], (v) =>
    one(v.uptimeSeconds === null ? null : Math.round(Date.parse(v.read) / 1000 - v.uptimeSeconds)),
  );
  family(
    'gauge',
    'node_uname_info',
    'Labeled system information as provided by the uname system call.',
    ['nodename', 'release'],
    (v) => (v.source === 'gateway' ? [[{ nodename: v.hostname ?? '', release: v.kernel ?? '' }, 1]] : []),
  );
  family(
    'gauge',
    'node_os_info',
    'A metric with a constant 1 value labeled by OS information.',
    ['pretty_name'],
    (v) => (v.source === 'gateway' && v.os !== null ? [[{ pretty_name: v.os }, 1]] : []),
  );
  // Docker's own disk use (`/system/df`, read at most every 15 minutes).
  const TYPES = ['images', 'containers', 'volumes', 'buildCache'] as const;
  const TYPE_LABEL = {
    images: 'images',
    containers: 'containers',
    volumes: 'volumes',
    buildCache: 'build_cache',
  };
  family('gauge', 'dockgate_engine_disk_bytes', "Docker's disk use by type (system df)", ['type'], (_v, c) =>
    c.disk === undefined
      ? []
      : TYPES.map((t) => [{ type: TYPE_LABEL[t] }, c.disk?.[t].sizeBytes ?? 0] as [Labels, number]),
  );
  family(
    'gauge',
    'dockgate_engine_disk_reclaimable_bytes',
    'What a prune could free, by type (system df)',
    ['type'],
    (_v, c) =>
      c.disk === undefined
        ? []
        : TYPES.map((t) => [{ type: TYPE_LABEL[t] }, c.disk?.[t].reclaimableBytes ?? 0] as [Labels, number]),
  );
}
