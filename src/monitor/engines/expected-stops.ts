/**
 * Whether a container's `die` was asked for. A user's stop or kill — through the monitor, or seen
 * as a `kill` (a terminating signal) or `stop` event before the `die` — makes the exit expected,
 * so alerts can tell it from a crash. `docker stop` sends `kill` (SIGTERM, then SIGKILL after
 * its timeout), then the `die`, then `stop`; `docker kill` sends `kill` then `die`.
 */
export interface StopIntent {
  /** When it was asked or seen (ms). */
  readonly at: number;
  /** Who asked through the monitor; undefined when only an engine event said so. */
  readonly by: string | undefined;
  readonly signal: string | undefined;
}

/** Signals a process is expected to survive (reload, job control): a kill with one is no stop. */
const NOT_TERMINATING = new Set([
  '1',
  'HUP',
  'SIGHUP',
  '10',
  'USR1',
  'SIGUSR1',
  '12',
  'USR2',
  'SIGUSR2',
  '28',
  'WINCH',
  'SIGWINCH',
  '18',
  'CONT',
  'SIGCONT',
  '19',
  'STOP',
  'SIGSTOP',
  '20',
  'TSTP',
  'SIGTSTP',
  '17',
  'CHLD',
  'SIGCHLD',
]);

/** How long after a stop or kill its `die` still counts as asked for (`docker stop -t` beyond this is rare). */
export const INTENT_WINDOW_MS = 10 * 60_000;

/** The intent a `kill` or `stop` event records; an earlier intent asked through the monitor keeps its `by`. */
export function stopIntentOf(
  action: string,
  signal: string | undefined,
  previous: StopIntent | undefined,
  now: number,
): StopIntent | undefined {
  if (action === 'kill' && signal !== undefined && NOT_TERMINATING.has(signal.toUpperCase())) return previous;
  return { at: now, by: previous?.by, signal };
}

export function isExpectedDie(intent: StopIntent | undefined, now: number): boolean {
  return intent !== undefined && now - intent.at <= INTENT_WINDOW_MS;
}
