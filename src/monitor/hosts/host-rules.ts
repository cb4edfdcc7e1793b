import type { HostFilesystem, HostTemperature } from '../../engine/host/host-answer.js';
import type { HostThresholds } from '../alerts/alert-rules.js';
import { humanDuration } from '../config/duration.js';
import type { FreeSample } from './host-collector.js';
import type { HostPoint } from './host-history.js';
import type { HostView } from './host-sources.js';

/** What one host rule finds for one target now: the alert engine runs it through the tracker. */
export interface HostCondition {
  readonly kind: 'disk' | 'disk-fill' | 'host-memory' | 'host-cpu' | 'host-temperature' | 'host-network';
  /** `<engine>/host` or `<engine>/host:<mount>`: the incident's target. */
  readonly target: string;
  readonly active: boolean;
  readonly summary: string;
  readonly details: Record<string, unknown>;
}

/** What the rules read of one engine's host. */
export interface HostFacts {
  readonly engine: string;
  readonly view: HostView;
  readonly point: HostPoint | undefined;
  readonly free: readonly FreeSample[];
}

/** Without an `above`, a sensor alerts this far below the critical limit its chip states. */
export const CRITICAL_MARGIN_CELSIUS = 5;

/** A slope is fitted only over this many samples at least, spanning half the window. */
const MIN_FIT_SAMPLES = 5;

/**
 * The host rules as a pure function (docs/hosts.md#alerts): a reading in, one condition per
 * rule and target out — `disk` per watched filesystem (above `usedPercent` or below
 * `availableBytes`), `disk-fill` (free space's least-squares slope over the window reaches zero
 * within `within`), `host-memory`, `host-cpu`, `host-temperature` (the hottest sensor past its
 * limit), `host-network` (in and out together above a rate). What a reading does not have (a host read through
 * `/info` only) gives no condition, so nothing opens or resolves on a guess.
 */
export function hostConditions(t: HostThresholds, facts: HostFacts): HostCondition[] {
  const out: HostCondition[] = [];
  const { engine, view } = facts;
  for (const fs of watched(view.filesystems, t.disk.mounts)) {
    const usedPercent = percentUsed(fs);
    const low = t.disk.availableBytes !== undefined && fs.availableBytes < t.disk.availableBytes;
    out.push({
      kind: 'disk',
      target: `${engine}/host:${fs.mount}`,
      active: usedPercent > t.disk.usedPercent || low,
      summary: `${label(fs)} on ${engine} is ${usedPercent.toFixed(1)}% full (${bytes(fs.availableBytes)} free of ${bytes(fs.sizeBytes)})`,
      details: {
        mount: fs.mount,
        device: fs.device,
        dockerRoot: fs.dockerRoot,
        usedPercent: Math.round(usedPercent * 10) / 10,
        availableBytes: fs.availableBytes,
        sizeBytes: fs.sizeBytes,
        threshold: { usedPercent: t.disk.usedPercent, availableBytes: t.disk.availableBytes ?? null },
      },
    });
  }
  // A filesystem past its `disk` threshold is that incident's: `disk-fill` neither opens a second
  // message nor resolves its own (folded), until the disk is below the threshold again.
  const full = new Set(out.filter((c) => c.active).map((c) => c.details.mount));
  for (const fs of watched(view.filesystems, t.diskFill.mounts)) {
    if (full.has(fs.mount)) continue;
    const fit = fullIn(facts.free, fs.mount, t.diskFill.windowMs);
    if (fit === undefined) continue; // not enough history yet: no decision either way
    const soon = fit.secondsToFull !== null && fit.secondsToFull * 1000 <= t.diskFill.withinMs;
    out.push({
      kind: 'disk-fill',
      target: `${engine}/host:${fs.mount}`,
      active: soon,
      summary: `${label(fs)} on ${engine} will be full in ${fit.secondsToFull === null ? 'no time soon' : humanDuration(fit.secondsToFull * 1000)} at the last ${humanDuration(t.diskFill.windowMs)}'s rate (${bytes(fs.availableBytes)} free, ${bytes(-fit.bytesPerSecond * 3600)}/h)`,
      details: {
        mount: fs.mount,
        dockerRoot: fs.dockerRoot,
        availableBytes: fs.availableBytes,
        bytesPerHour: Math.round(-fit.bytesPerSecond * 3600),
        fullInSeconds: fit.secondsToFull === null ? null : Math.round(fit.secondsToFull),
      },
    });
  }
  const memory = view.memory;
  if (memory !== null && memory.totalBytes > 0) {
    const below = t.memoryBelow;
    const limit = 'bytes' in below ? below.bytes : below.fraction * memory.totalBytes;
    out.push({
      kind: 'host-memory',
      target: `${engine}/host`,
      active: memory.availableBytes < limit,
      summary: `${engine}'s host has ${bytes(memory.availableBytes)} of ${bytes(memory.totalBytes)} memory available (below ${bytes(limit)})`,
      details: {
        availableBytes: memory.availableBytes,
        totalBytes: memory.totalBytes,
        swapUsedBytes: memory.swapUsedBytes,
      },
    });
  }
  const cpu = facts.point?.cpuPercent;
  if (cpu !== null && cpu !== undefined) {
    out.push({
      kind: 'host-cpu',
      target: `${engine}/host`,
      active: cpu > t.cpuAbovePercent,
      summary: `${engine}'s host uses ${cpu}% of its CPU (above ${t.cpuAbovePercent}%)`,
      details: { cpuPercent: cpu, load1: view.cpu?.load1 ?? null, cores: view.cpu?.cores ?? null },
    });
  }
  const rx = facts.point?.netRxBytesPerSecond;
  const tx = facts.point?.netTxBytesPerSecond;
  if (rx !== null && rx !== undefined && tx !== null && tx !== undefined) {
    const total = rx + tx;
    out.push({
      kind: 'host-network',
      target: `${engine}/host`,
      active: total > t.networkAboveBytesPerSecond,
      summary: `${engine}'s host moves ${bytes(total)}/s (in ${bytes(rx)}/s, out ${bytes(tx)}/s; above ${bytes(t.networkAboveBytesPerSecond)}/s)`,
      details: {
        rxBytesPerSecond: Math.round(rx),
        txBytesPerSecond: Math.round(tx),
        aboveBytesPerSecond: t.networkAboveBytesPerSecond,
      },
    });
  }
  const hot = hottest(view.temperatures, t.temperatureAboveCelsius);
  if (hot !== undefined)
    out.push({
      kind: 'host-temperature',
      target: `${engine}/host`,
      active: hot.over,
      summary: `${engine}'s host: ${hot.sensor.chip} ${hot.sensor.label ?? hot.sensor.sensor} at ${hot.sensor.celsius} °C (limit ${hot.limit} °C)`,
      details: {
        chip: hot.sensor.chip,
        sensor: hot.sensor.sensor,
        label: hot.sensor.label,
        celsius: hot.sensor.celsius,
        limitCelsius: hot.limit,
      },
    });
  return out;
}

/**
 * The sensor nearest (or furthest past) its limit: `above` for every sensor, or else each one's
 * critical limit less the margin. Undefined when no sensor has a limit to be held to.
 */
export function hottest(
  sensors: readonly HostTemperature[],
  above: number | undefined,
): { sensor: HostTemperature; limit: number; over: boolean } | undefined {
  let best: { sensor: HostTemperature; limit: number; over: boolean } | undefined;
  for (const sensor of sensors) {
    const limit =
      above ??
      (sensor.criticalCelsius === null ? undefined : sensor.criticalCelsius - CRITICAL_MARGIN_CELSIUS);
    if (limit === undefined) continue;
    if (best === undefined || sensor.celsius - limit > best.sensor.celsius - best.limit)
      best = { sensor, limit, over: sensor.celsius > limit };
  }
  return best;
}

/** The filesystems a rule watches: `docker-root`, `*` (every writable one), or mount points. */
export function watched(filesystems: readonly HostFilesystem[], mounts: readonly string[]): HostFilesystem[] {
  return filesystems.filter(
    (fs) =>
      (mounts.includes('docker-root') && fs.dockerRoot) ||
      (mounts.includes('*') && !fs.readOnly) ||
      mounts.includes(fs.mount),
  );
}

export function percentUsed(fs: HostFilesystem): number {
  // df's Use%: used over what a user could have (used + available; root's reserve left out).
  const usable = fs.usedBytes + fs.availableBytes;
  return usable === 0 ? 0 : (fs.usedBytes / usable) * 100;
}

/**
 * Least squares over the free bytes of the last `windowMs`: the slope, and the seconds until it
 * reaches zero (null when free space is not falling). Undefined while the samples are too few or
 * span less than half the window — a slope over a minute says little about a day.
 */
export function fullIn(
  samples: readonly FreeSample[],
  mount: string,
  windowMs: number,
): { bytesPerSecond: number; secondsToFull: number | null } | undefined {
  const last = samples.at(-1);
  if (last === undefined) return undefined;
  const points: [number, number][] = [];
  for (const s of samples) {
    const free = s.free.get(mount);
    if (s.t >= last.t - windowMs && free !== undefined) points.push([(s.t - last.t) / 1000, free]);
  }
  const first = points[0];
  if (points.length < MIN_FIT_SAMPLES || first === undefined || -first[0] * 1000 < windowMs / 2)
    return undefined;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  // The fitted free space now (x = 0), run forward at the slope.
  const freeNow = my - slope * mx;
  if (slope >= 0) return { bytesPerSecond: slope, secondsToFull: null };
  return { bytesPerSecond: slope, secondsToFull: Math.max(0, freeNow / -slope) };
}

function label(fs: HostFilesystem): string {
  return fs.dockerRoot ? `the docker root's filesystem (${fs.mount})` : `filesystem ${fs.mount}`;
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${n < 0 ? '-' : ''}${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
