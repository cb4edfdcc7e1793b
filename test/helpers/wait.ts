import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it holds. The deadline only bounds a failure: a test waits for the
 * condition it needs, never for a fixed time a loaded machine can outrun (issue 9). The default
 * is generous for that reason; a passing run never waits for it.
 */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  {
    timeout = 30_000,
    interval = 25,
    what = 'condition',
  }: { timeout?: number; interval?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeout} ms`);
    await sleep(interval);
  }
}
