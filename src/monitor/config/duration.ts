import { DockgateError } from '../../errors.js';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration as people write it on a command line or in YAML: `500ms`, `2s`, `10s`, `1m`, `1h`,
 * `7d` (one unit; a bare number is refused: seconds or milliseconds would be a guess).
 * `what` names the option or key in the error; `zero`: `0s` is allowed (off).
 */
export function parseDuration(text: string, what: string, zero = false): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `${what}: "${text}" is not a duration (use 500ms, 10s, 1m, 1h, 7d)`,
    );
  }
  const ms = Number(match[1]) * (UNITS[match[2] as string] as number);
  if (zero && ms === 0) return 0;
  if (!(ms > 0)) throw new DockgateError('DG_CONFIG_INVALID', `${what}: must be more than 0`);
  return ms;
}

/** The other way, for people: 65_000 → "1m 5s", 11_520_000 → "3h 12m". */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
}
