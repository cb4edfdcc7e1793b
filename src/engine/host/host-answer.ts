/**
 * The answer of `GET /dockgate/v1/host` (docs/hosts.md): the engine's machine as its `/proc` and
 * `statfs` say, cumulative counters as read. A contract: the monitor stores and shows these names,
 * and `dockgate/client` types them.
 */
export interface HostAnswer {
  /** When it was read (ISO 8601, UTC). */
  readonly read: string;
  readonly hostname: string | null;
  /** `uname -r`. */
  readonly kernel: string | null;
  /** `/etc/os-release` PRETTY_NAME. */
  readonly os: string | null;
  readonly uptimeSeconds: number | null;
  readonly cpu: HostCpu | null;
  readonly memory: HostMemory | null;
  readonly filesystems: readonly HostFilesystem[];
  readonly network: readonly HostInterface[];
  /** Block devices' I/O counters (`/proc/diskstats`: whole disks, not partitions, loop or ram). */
  readonly disks: readonly HostDisk[];
  /** hwmon temperature sensors (`/sys/class/hwmon`); a virtual machine usually has none. */
  readonly temperatures: readonly HostTemperature[];
  /** Pressure stall information, where the kernel has it (Linux 4.20+, `psi=1`). */
  readonly pressure?: HostPressure;
  /** What could not be read here, and why: the fields above are then null or empty, never guessed. */
  readonly unavailable: readonly HostUnavailable[];
}

export interface HostCpu {
  readonly cores: number;
  /** Every core's time since boot, in seconds (`/proc/stat`, USER_HZ ticks / 100). */
  readonly usageSeconds: {
    readonly user: number;
    readonly nice: number;
    readonly system: number;
    readonly iowait: number;
    readonly irq: number;
    readonly softirq: number;
    readonly steal: number;
    readonly idle: number;
  };
  /** The same per core, in `/proc/stat`'s order (node_exporter's `cpu` label). */
  readonly perCore: readonly HostCpu['usageSeconds'][];
  readonly load1: number;
  readonly load5: number;
  readonly load15: number;
}

export interface HostMemory {
  readonly totalBytes: number;
  /** MemAvailable: what `free` shows as available. */
  readonly availableBytes: number;
  readonly swapTotalBytes: number;
  readonly swapUsedBytes: number;
}

export interface HostFilesystem {
  readonly mount: string;
  readonly device: string;
  readonly fsType: string;
  readonly sizeBytes: number;
  /** As `df` counts it: size minus free (blocks reserved for root count as used). */
  readonly usedBytes: number;
  /** What an unprivileged writer can still use (`df`'s Available). */
  readonly availableBytes: number;
  readonly inodes: number;
  readonly inodesUsed: number;
  readonly readOnly: boolean;
  /** The filesystem that holds the engine's `DockerRootDir`. */
  readonly dockerRoot: boolean;
}

export interface HostInterface {
  readonly interface: string;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface HostDisk {
  /** The kernel's name: `sda`, `nvme0n1`, `vda`, `dm-0`. */
  readonly device: string;
  readonly reads: number;
  readonly writes: number;
  /** 512-byte sectors, as bytes. */
  readonly readBytes: number;
  readonly writtenBytes: number;
  /** Time the device had I/O in flight (its busy time). */
  readonly ioTimeSeconds: number;
}

export interface HostTemperature {
  /** The hwmon chip's `name` (`coretemp`, `k10temp`, `nvme`, `cpu_thermal`…). */
  readonly chip: string;
  /** `temp1`, `temp2`… */
  readonly sensor: string;
  /** The sensor's own label (`Package id 0`, `Composite`), when it has one. */
  readonly label: string | null;
  readonly celsius: number;
  /** The chip's critical (or else max) temperature, when it says one. */
  readonly criticalCelsius: number | null;
}

export interface PressureLine {
  /** Percent of time stalled, averaged over 10 s, 60 s and 300 s. */
  readonly avg10: number;
  readonly avg60: number;
  readonly avg300: number;
  /** Total stall time in microseconds (a counter). */
  readonly totalMicroseconds: number;
}

export interface PressureEntry {
  readonly some: PressureLine;
  /** Absent for cpu on kernels before 5.13. */
  readonly full?: PressureLine;
}

export interface HostPressure {
  readonly cpu?: PressureEntry;
  readonly memory?: PressureEntry;
  readonly io?: PressureEntry;
}

export interface HostUnavailable {
  readonly field:
    | 'hostname'
    | 'kernel'
    | 'os'
    | 'uptime'
    | 'cpu'
    | 'memory'
    | 'filesystems'
    | 'network'
    | 'disks'
    | 'temperatures'
    | 'pressure'
    | 'dockerRoot';
  readonly reason: string;
}
