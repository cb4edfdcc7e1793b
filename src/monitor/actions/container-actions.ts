import { EngineError } from '../../client/errors.js';
import type { Logger } from '../../log/logger.js';
import type { Principal } from '../auth/principal.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import type { ContainerItem } from '../model/container.js';
import type { History } from '../store/history.js';

export const ACTIONS = ['start', 'stop', 'restart', 'kill', 'pause', 'unpause', 'remove'] as const;
export type Action = (typeof ACTIONS)[number];

/** Options an action takes from the query string. */
export interface ActionOptions {
  /** stop, restart: seconds before SIGKILL. */
  readonly t?: number | undefined;
  /** kill: the signal (KILL by default). */
  readonly signal?: string | undefined;
  /** remove: a running container too; its anonymous volumes too. */
  readonly force?: boolean | undefined;
  readonly volumes?: boolean | undefined;
}

/** Answer of an action: `changed` false when the engine said there was nothing to do (304). */
export interface ActionResult {
  readonly ok: true;
  readonly changed: boolean;
}

/**
 * A container action asked through the monitor: recorded in the container's timeline with who
 * asked (an `action` entry named like Docker's event), stop/kill/restart marked so that the
 * `die` they cause is expected, sent through the engine the container lives on, and written to
 * the audit log whatever the outcome.
 */
export async function runAction(
  watcher: EngineWatcher,
  history: History,
  log: Logger,
  item: ContainerItem,
  action: Action,
  options: ActionOptions,
  principal: Principal,
): Promise<ActionResult> {
  const { client } = watcher;
  const id = item.id;
  if (
    action === 'stop' ||
    action === 'kill' ||
    action === 'restart' ||
    (action === 'remove' && options.force === true)
  ) {
    watcher.expectStop(id, principal.name);
  }
  const eventName = action === 'remove' ? 'destroy' : action;
  history.addTimeline(
    item.engine,
    id,
    Date.now() * 1e6,
    { kind: 'action', action: eventName, time: '', by: principal.name },
    null,
  );
  const audit = {
    engine: item.engine,
    container: id,
    name: item.name,
    action,
    by: principal.name,
    role: principal.role,
  };
  try {
    const run = (
      path: string,
      query: Record<string, string | number | boolean | undefined>,
      method = 'POST',
    ): Promise<void> =>
      watcher.calls.run(`${action} ${item.name}`, (signal) =>
        client.json(method, path, { query, signal, versioned: true }),
      );
    const path = `/containers/${id}`;
    // A stop waits for the container: allow its grace period on top of the call timeout.
    const grace = (options.t ?? 10) * 1000;
    switch (action) {
      case 'start':
        await run(`${path}/start`, {});
        break;
      case 'stop':
      case 'restart':
        await watcher.calls.run(
          `${action} ${item.name}`,
          (signal) =>
            client.json('POST', `${path}/${action}`, { query: { t: options.t }, signal, versioned: true }),
          grace + 15_000,
        );
        break;
      case 'kill':
        await run(`${path}/kill`, { signal: options.signal });
        break;
      case 'pause':
      case 'unpause':
        await run(`${path}/${action}`, {});
        break;
      case 'remove':
        await run(path, { force: options.force === true, v: options.volumes === true }, 'DELETE');
        break;
    }
    log.info({ ...audit, result: 'ok' }, 'container action');
    return { ok: true, changed: true };
  } catch (error) {
    if (error instanceof EngineError && error.status === 304) {
      log.info({ ...audit, result: 'unchanged' }, 'container action');
      return { ok: true, changed: false };
    }
    log.warn({ ...audit, result: 'failed', err: (error as Error).message }, 'container action');
    // The engine's own refusal (409 "is not running", 404…) reaches the caller with its status.
    throw error;
  }
}
