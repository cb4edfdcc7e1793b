import type { StatsFs } from 'node:fs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { stat, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type {
  HostAnswer,
  HostCpu,
  HostDisk,
  HostFilesystem,
  HostInterface,
  HostMemory,
  HostPressure,
  HostTemperature,
  HostUnavailable,
  PressureEntry,
  PressureLine,
} from './host-answer.js';

/** `/proc/stat` counts in USER_HZ, which Linux fixes at 100 for user space on every architecture. */
const USER_HZ = 100;

/** A statfs that has not answered by then is left behind (a dead NFS server never answers). */
const STATFS_TIMEOUT_MS = 1_000;

/**
 * Pseudo and read-only image filesystems, and the mount points under which only those, or
 * containers' own mounts, live — node_exporter's default exclusions, so the lists agree.
 */
const IGNORED_TYPES =
  /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$/;
/** node_exporter's default device exclusion: partitions, loop, ram and floppy devices. */
const IGNORED_DEVICES = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;
/** `/proc/diskstats` counts sectors of 512 bytes whatever the device's own sector size. */
const SECTOR_BYTES = 512;

const IGNORED_MOUNTS =
  /^\/(dev|proc|sys|run\/credentials\/.+|run\/docker\/netns\/.+|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;

/** Where the host's files are, as this process sees them. */
interface Paths {
  /** A procfs: the kernel-wide files (stat, meminfo, loadavg, uptime, pressure) are the host's in any. */
  readonly proc: string;
  /** The host's mount table and network counters; undefined with the reason when not reachable. */
  readonly mounts: string | { readonly missing: string };
  readonly netDev: string | { readonly missing: string };
  /** Prefixed to a host path to reach it here. */
  readonly root: string;
  /** A sysfs: the host's (`/host/sys`) or, in any container, the kernel's hwmon is the host's too. */
  readonly sys: string;
}

/**
 * Reads the engine's machine for `GET /dockgate/v1/host` (docs/hosts.md). `root` is where the
 * host's root filesystem is mounted in this process (`/` on the host itself; `/host` in the image,
 * from `-v /:/host:ro`): the mount table, the network counters, the hostname and os-release come
 * from there. CPU, memory, load, uptime and pressure are kernel-wide and read from any procfs.
 * Nothing missing is guessed: it is listed in `unavailable` with the mount that would supply it.
 */
export class HostReader {
  readonly #paths: Paths;
  /** Mounts whose statfs did not answer: not asked again until that call returns. */
  readonly #stuck = new Set<string>();

  constructor(options: { root?: string } = {}) {
    this.#paths = pathsFor(options.root ?? '/');
  }

  get root(): string {
    return this.#paths.root;
  }

  /** One reading; `dockerRootDir` (from the engine's `/info`) marks the filesystem that holds it. */
  async read(dockerRootDir: string | undefined): Promise<HostAnswer> {
    const read = new Date().toISOString();
    const unavailable: HostUnavailable[] = [];
    const p = this.#paths;
    const attempt = <T>(field: HostUnavailable['field'], fn: () => T | undefined, why: string): T | null => {
      try {
        const value = fn();
        if (value !== undefined) return value;
      } catch (error) {
        unavailable.push({ field, reason: `${why}: ${(error as Error).message}` });
        return null;
      }
      unavailable.push({ field, reason: why });
      return null;
    };
    const cpu = attempt('cpu', () => readCpu(p.proc), `${p.proc}/stat or loadavg not readable`);
    const memory = attempt('memory', () => readMemory(p.proc), `${p.proc}/meminfo not readable`);
    const uptime = attempt(
      'uptime',
      () => Number.parseFloat(readFileSync(join(p.proc, 'uptime'), 'utf8')),
      `${p.proc}/uptime not readable`,
    );
    const kernel = attempt(
      'kernel',
      () => readFileSync(join(p.proc, 'sys/kernel/osrelease'), 'utf8').trim(),
      'no kernel release',
    );
    const host = attempt('hostname', () => this.#hostname(), `no ${join(p.root, 'etc/hostname')}`);
    const os = attempt('os', () => osName(p.root), `no ${join(p.root, 'etc/os-release')}`);
    const pressure = readPressure(p.proc);
    if (pressure === undefined)
      unavailable.push({ field: 'pressure', reason: 'the kernel has no /proc/pressure (PSI off)' });
    let network: HostInterface[] = [];
    if (typeof p.netDev === 'string') {
      const netDev = p.netDev;
      network = attempt('network', () => parseNetDev(readFileSync(netDev, 'utf8')), `${netDev}`) ?? [];
    } else unavailable.push({ field: 'network', reason: p.netDev.missing });
    const disks =
      attempt(
        'disks',
        () => parseDiskStats(readFileSync(join(p.proc, 'diskstats'), 'utf8')),
        `${p.proc}/diskstats`,
      ) ?? [];
    const temperatures = readTemperatures(join(p.sys, 'class/hwmon'));
    if (temperatures.length === 0)
      unavailable.push({
        field: 'temperatures',
        reason: `no temperature sensor in ${join(p.sys, 'class/hwmon')} (virtual machines usually have none; on hardware, a sensor driver may not be loaded)`,
      });
    let filesystems: HostFilesystem[] = [];
    if (typeof p.mounts === 'string') {
      try {
        filesystems = await this.#filesystems(readFileSync(p.mounts, 'utf8'), dockerRootDir, unavailable);
      } catch (error) {
        unavailable.push({ field: 'filesystems', reason: `${p.mounts}: ${(error as Error).message}` });
      }
    } else unavailable.push({ field: 'filesystems', reason: p.mounts.missing });
    return {
      read,
      hostname: host,
      kernel,
      os,
      uptimeSeconds: uptime === null || Number.isNaN(uptime) ? null : uptime,
      cpu,
      memory,
      filesystems,
      network,
      disks,
      temperatures,
      ...(pressure === undefined ? {} : { pressure }),
      unavailable,
    };
  }

  #hostname(): string | undefined {
    if (this.#paths.root === '/') return hostname();
    const text = readFileSync(join(this.#paths.root, 'etc/hostname'), 'utf8').trim();
    return text === '' ? undefined : text;
  }

  async #filesystems(
    table: string,
    dockerRootDir: string | undefined,
    unavailable: HostUnavailable[],
  ): Promise<HostFilesystem[]> {
    const root = this.#paths.root;
    const here = (mount: string): string => (root === '/' ? mount : join(root, mount));
    // One entry per device (df's rule), chosen before any statfs: a bind mount of a directory
    // (its root is not "/") shows the same filesystem again; the whole one, at its shortest path, wins.
    const byDevice = new Map<string, MountEntry>();
    for (const m of parseMountInfo(table)) {
      if (IGNORED_TYPES.test(m.fsType) || IGNORED_MOUNTS.test(m.mount)) continue;
      if (dockerRootDir !== undefined && m.mount.startsWith(`${dockerRootDir}/`)) continue;
      const known = byDevice.get(m.dev);
      const better =
        known === undefined ||
        (m.root === '/' && known.root !== '/') ||
        ((m.root === '/') === (known.root === '/') && m.mount.length < known.mount.length);
      if (better) byDevice.set(m.dev, m);
    }
    const measured = await Promise.all(
      [...byDevice.values()].map(async (m) => ({ m, fs: await this.#statfs(here(m.mount)) })),
    );
    let rootDev: string | undefined;
    if (dockerRootDir === undefined)
      unavailable.push({ field: 'dockerRoot', reason: "the engine's DockerRootDir is not known" });
    else {
      try {
        rootDev = deviceNumber((await stat(here(dockerRootDir), { bigint: true })).dev);
      } catch (error) {
        unavailable.push({
          field: 'dockerRoot',
          reason: `${dockerRootDir} is not reachable here (${(error as NodeJS.ErrnoException).code ?? 'error'})${root === '/' ? '' : ` under ${root}`}`,
        });
      }
    }
    return measured
      .filter(({ fs }) => fs !== undefined && fs.blocks > 0)
      .map(({ m, fs }) => {
        const f = fs as NonNullable<typeof fs>;
        return {
          mount: m.mount,
          device: m.device,
          fsType: m.fsType,
          sizeBytes: f.blocks * f.bsize,
          usedBytes: (f.blocks - f.bfree) * f.bsize,
          availableBytes: f.bavail * f.bsize,
          inodes: f.files,
          inodesUsed: f.files - f.ffree,
          readOnly: m.readOnly,
          dockerRoot: m.dev === rootDev,
        };
      })
      .sort((a, b) => Number(b.dockerRoot) - Number(a.dockerRoot) || a.mount.localeCompare(b.mount));
  }

  /** statfs of one mount point; undefined when it cannot be read in time. */
  async #statfs(path: string): Promise<StatsFs | undefined> {
    if (this.#stuck.has(path)) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const call = statfs(path);
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STATFS_TIMEOUT_MS);
      timer.unref();
    });
    try {
      const result = await Promise.race([call, timeout]);
      if (result !== 'timeout') return result;
      this.#stuck.add(path);
      void call.then(
        () => this.#stuck.delete(path),
        () => this.#stuck.delete(path),
      );
      return undefined;
    } catch {
      return undefined; // gone since the table was read, or not permitted
    } finally {
      clearTimeout(timer);
    }
  }
}

function pathsFor(root: string): Paths {
  if (root === '/')
    return { root, proc: '/proc', sys: '/sys', mounts: '/proc/self/mountinfo', netDev: '/proc/net/dev' };
  const sys = existsSync(join(root, 'sys/class')) ? join(root, 'sys') : '/sys';
  const hostProc = join(root, 'proc');
  if (existsSync(join(hostProc, '1/mountinfo')))
    return {
      root,
      proc: hostProc,
      sys,
      // pid 1 of the host's procfs: the host's mount namespace and network namespace.
      mounts: join(hostProc, '1/mountinfo'),
      netDev: join(hostProc, '1/net/dev'),
    };
  const missing = `${hostProc} is not the host's procfs: mount the host's root with -v /:${root}:ro`;
  return { root, proc: '/proc', sys, mounts: { missing }, netDev: { missing } };
}

function readCpu(proc: string): HostCpu | undefined {
  const stat = readFileSync(join(proc, 'stat'), 'utf8');
  const total = /^cpu\s+(.*)$/m.exec(stat);
  if (total === null) return undefined;
  const perCore = [...stat.matchAll(/^cpu\d+\s+(.*)$/gm)].map((m) => usage(m[1] ?? ''));
  const load = readFileSync(join(proc, 'loadavg'), 'utf8').trim().split(/\s+/).map(Number);
  return {
    cores: perCore.length,
    usageSeconds: usage(total[1] ?? ''),
    perCore,
    load1: load[0] ?? 0,
    load5: load[1] ?? 0,
    load15: load[2] ?? 0,
  };
}

/** One `/proc/stat` cpu line's fields, in seconds. */
function usage(fields: string): HostCpu['usageSeconds'] {
  const f = fields.trim().split(/\s+/).map(Number);
  const s = (i: number): number => (f[i] ?? 0) / USER_HZ;
  return {
    user: s(0),
    nice: s(1),
    system: s(2),
    idle: s(3),
    iowait: s(4),
    irq: s(5),
    softirq: s(6),
    steal: s(7),
  };
}

function readMemory(proc: string): HostMemory | undefined {
  const text = readFileSync(join(proc, 'meminfo'), 'utf8');
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    return m === null ? undefined : Number(m[1]) * 1024;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  if (total === undefined || available === undefined) return undefined;
  const swapTotal = kb('SwapTotal') ?? 0;
  return {
    totalBytes: total,
    availableBytes: available,
    swapTotalBytes: swapTotal,
    swapUsedBytes: Math.max(0, swapTotal - (kb('SwapFree') ?? swapTotal)),
  };
}

function readPressure(proc: string): HostPressure | undefined {
  const out: { cpu?: PressureEntry; memory?: PressureEntry; io?: PressureEntry } = {};
  for (const resource of ['cpu', 'memory', 'io'] as const) {
    let text: string;
    try {
      text = readFileSync(join(proc, 'pressure', resource), 'utf8');
    } catch {
      continue;
    }
    const some = pressureLine(text, 'some');
    const full = pressureLine(text, 'full');
    if (some !== undefined) out[resource] = full === undefined ? { some } : { some, full };
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function pressureLine(text: string, kind: 'some' | 'full'): PressureLine | undefined {
  const m = new RegExp(`^${kind} avg10=([\\d.]+) avg60=([\\d.]+) avg300=([\\d.]+) total=(\\d+)`, 'm').exec(
    text,
  );
  if (m === null) return undefined;
  return {
    avg10: Number(m[1]),
    avg60: Number(m[2]),
    avg300: Number(m[3]),
    totalMicroseconds: Number(m[4]),
  };
}

function osName(root: string): string | undefined {
  for (const file of ['etc/os-release', 'usr/lib/os-release']) {
    let text: string;
    try {
      text = readFileSync(join(root, file), 'utf8');
    } catch {
      continue;
    }
    const m = /^PRETTY_NAME=(.*)$/m.exec(text);
    if (m !== null) return (m[1] ?? '').trim().replace(/^(["'])(.*)\1$/, '$2');
  }
  return undefined;
}

/** `/proc/net/dev`: every interface's cumulative bytes. */
export function parseNetDev(text: string): HostInterface[] {
  const out: HostInterface[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    out.push({ interface: line.slice(0, colon).trim(), rxBytes: f[0] ?? 0, txBytes: f[8] ?? 0 });
  }
  return out;
}

/** `/proc/diskstats` (Documentation/admin-guide/iostats.rst): whole devices' cumulative counters. */
export function parseDiskStats(text: string): HostDisk[] {
  const out: HostDisk[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const device = f[2];
    if (device === undefined || f.length < 14 || IGNORED_DEVICES.test(device)) continue;
    const n = (i: number): number => Number(f[i + 3] ?? 0);
    out.push({
      device,
      reads: n(0),
      readBytes: n(2) * SECTOR_BYTES,
      writes: n(4),
      writtenBytes: n(6) * SECTOR_BYTES,
      ioTimeSeconds: n(9) / 1000,
    });
  }
  return out;
}

/**
 * Every hwmon chip's `temp*_input` (millidegrees), with its label and critical (or max) limit.
 * A sensor that cannot be read now (a sleeping disk answers EAGAIN) is left out, not guessed.
 */
export function readTemperatures(hwmon: string): HostTemperature[] {
  const out: HostTemperature[] = [];
  const text = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  let chips: string[];
  try {
    chips = readdirSync(hwmon).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch {
    return out;
  }
  for (const chip of chips) {
    const dir = join(hwmon, chip);
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch {
      continue;
    }
    const name = text(join(dir, 'name')) ?? chip;
    const sensors = files
      .map((f) => /^(temp\d+)_input$/.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const sensor of sensors) {
      const input = text(join(dir, `${sensor}_input`));
      const milli = input === undefined || input === '' ? Number.NaN : Number(input);
      if (!Number.isFinite(milli)) continue;
      const limit = Number(
        text(join(dir, `${sensor}_crit`)) ?? text(join(dir, `${sensor}_max`)) ?? Number.NaN,
      );
      out.push({
        chip: name,
        sensor,
        label: text(join(dir, `${sensor}_label`)) || null,
        celsius: milli / 1000,
        criticalCelsius: Number.isFinite(limit) && limit > 0 ? limit / 1000 : null,
      });
    }
  }
  return out;
}

/** One line of `/proc/<pid>/mountinfo`. */
export interface MountEntry {
  /** `major:minor` of the filesystem: the same for every mount of it. */
  readonly dev: string;
  /** The directory of the filesystem mounted here (`/` unless a bind mount of a subdirectory). */
  readonly root: string;
  readonly mount: string;
  readonly fsType: string;
  /** The mount source (`/dev/sda1`, `tmpfs`…). */
  readonly device: string;
  readonly readOnly: boolean;
}

/** `/proc/<pid>/mountinfo` (proc(5)): octal escapes (`\040` for a space) decoded. */
export function parseMountInfo(text: string): MountEntry[] {
  const decode = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const [, , dev = '', root = '', mount = '', options = ''] = line.slice(0, dash).split(' ');
    const [fsType = '', source = ''] = line.slice(dash + 3).split(' ');
    out.push({
      dev,
      root: decode(root),
      mount: decode(mount),
      fsType,
      device: decode(source),
      readOnly: options.split(',').includes('ro'),
    });
  }
  return out;
}

/** A `stat` device number as `major:minor` (glibc's encoding, as mountinfo prints it). */
export function deviceNumber(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}
