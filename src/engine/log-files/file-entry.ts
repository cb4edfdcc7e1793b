/**
 * One entry of a container's log as a logging driver stored it on the host, and the times the
 * Engine API prints: RFC 3339 in UTC with exactly nine fraction digits (moby's
 * `RFC3339NanoFixed`), so that text order is time order and a `since` compares as text.
 */
export interface FileLogEntry {
  readonly stream: 'stdout' | 'stderr';
  /** `2026-12-07T13:27:13.123456789Z`. */
  readonly time: string;
  /** The bytes the engine's logs endpoint sends for it (a complete line ends with `\n`). */
  readonly text: Buffer;
}

/** The formats dockerd writes to files the gateway (or a monitor on the host) can read. */
export type FileLogFormat = 'json-file' | 'local';

export const FILE_LOG_DRIVERS: ReadonlySet<string> = new Set<FileLogFormat>(['json-file', 'local']);

const FIXED_LENGTH = '2026-12-07T13:27:13.123456789Z'.length;
const ZEROS = '000000000';

/**
 * Go marshals times as RFC 3339 with trailing fraction zeros cut (`…13.12345Z`, `…13Z`); the API
 * prints all nine digits. Another zone than `Z` (dockerd writes UTC) is converted through Date.
 */
export function fixedTime(goTime: string): string {
  if (goTime.length === FIXED_LENGTH && goTime.endsWith('Z')) return goTime;
  const zone = goTime.search(/(Z|[+-]\d\d:\d\d)$/);
  if (zone < 19) throw new Error(`not an RFC 3339 time: ${goTime}`);
  const dot = goTime.indexOf('.', 19);
  const fraction = dot === -1 || dot > zone ? '' : goTime.slice(dot + 1, zone);
  const base = goTime.slice(0, 19);
  if (goTime[zone] === 'Z') return `${base}.${(fraction + ZEROS).slice(0, 9)}Z`;
  const utc = new Date(`${base}${goTime.slice(zone)}`).toISOString().slice(0, 19);
  return `${utc}.${(fraction + ZEROS).slice(0, 9)}Z`;
}

/** Nanoseconds since the epoch (the `local` driver's `time_nano`) as the API prints them. */
export function nanosTime(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n;
  const rest = nanos - seconds * 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}.${String(rest).padStart(9, '0')}Z`;
}

/**
 * The Engine API's `since`/`until` for logs: Unix seconds with an optional fraction
 * (`1733577600.123456789`), as the docker CLI sends them. Undefined for anything else.
 */
export function unixParamTime(param: string): string | undefined {
  const match = /^(\d{1,12})(?:\.(\d{1,9}))?$/.exec(param);
  if (match === null) return undefined;
  const base = new Date(Number(match[1]) * 1000).toISOString().slice(0, 19);
  return `${base}.${((match[2] ?? '') + ZEROS).slice(0, 9)}Z`;
}

/** A fixed time moved by whole milliseconds (for a search margin; the fraction's tail is kept). */
export function shiftTime(time: string, ms: number): string {
  const moved = new Date(Date.parse(`${time.slice(0, 23)}Z`) + ms).toISOString();
  return `${moved.slice(0, 23)}${time.slice(23)}`;
}
