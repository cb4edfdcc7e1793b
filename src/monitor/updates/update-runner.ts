import { setTimeout as sleep } from 'node:timers/promises';
import type { DockerClient } from '../../client/docker-client.js';
import { EngineError } from '../../client/errors.js';
import type { ImageInspect } from '../../client/types.js';
import { type Clock, systemClock } from '../../clock.js';
import { DockgateError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { Principal } from '../auth/principal.js';
import type { UpdatesConfig } from '../config/monitor-config.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import type { ContainerItem } from '../model/container.js';
import type { History } from '../store/history.js';
import { parseImageReference } from './image-reference.js';
import { type GateSpec, type OldContainer, planRecreate, type SettingChange } from './recreate-plan.js';
import { registryAccess } from './registry-access.js';
import { type GateState, gateVerdict } from './update-gate.js';
import { UPDATE_STEPS, type UpdateJournal, type UpdateRun, type UpdateStep } from './update-journal.js';

/** What an update says while it runs (server-sent events, the dashboard's dialog). */
export interface UpdateProgress {
  readonly step:
    | 'pull'
    | 'plan'
    | 'rename'
    | 'create'
    | 'stop'
    | 'start'
    | 'gate'
    | 'cleanup'
    | 'rollback'
    | 'done'
    | 'rolled-back';
  readonly message: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** The answer of an update (a contract: docs/updates.md). */
export type UpdateOutcome =
  | {
      readonly result: 'plan';
      readonly image: string;
      readonly from: string | null;
      readonly to: string | null;
      readonly settings: readonly SettingChange[];
      readonly gate: GateSpec;
    }
  /** The image the container runs is already the tag's: nothing done. */
  | { readonly result: 'current'; readonly from: string | null; readonly to: string | null }
  | {
      readonly result: 'updated';
      readonly from: string | null;
      readonly to: string | null;
      readonly id: string;
    }
  | {
      readonly result: 'rolled-back';
      readonly reason: string;
      readonly logs: readonly string[];
      readonly from: string | null;
      readonly to: string | null;
    }
  /** The pull failed: nothing was changed. */
  | { readonly result: 'failed'; readonly reason: string };

export interface UpdateOptions {
  /** Another tag (`repo:tag`) than the one the container runs. */
  readonly image?: string | undefined;
  /** Pull and answer what would be done; change nothing. */
  readonly dryRun?: boolean | undefined;
}

/** What the updater tells the alert rules. */
export interface UpdateAlerts {
  /** The container is being replaced: its exits are the update's to report, not `died`'s. */
  hold(engine: string, id: string): void;
  release(engine: string, id: string): void;
  failed(
    container: { engine: string; id: string; name: string },
    reason: string,
    logs: readonly string[],
    detail: Record<string, unknown>,
  ): void;
  succeeded(engine: string, oldId: string): void;
}

/** The gate looks at the new container this often. */
const GATE_POLL_MS = 500;
/** Stop and start waits on top of the call timeout. */
const STOP_GRACE_MS = 15_000;
/** The suffix an old container carries while its replacement is being tried. */
export const OLD_SUFFIX = '-dockgate-old-';

/**
 * Updates a container to its tag's newest image (docs/updates.md#updating): pull through the
 * container's engine (so a gateway's policy decides every step), plan the recreate, then
 * rename the old container aside, create the new one under the name, stop the old, start the new,
 * and gate it on health; a failure at any step after the rename puts the old container back (same
 * id) and starts it. Each step is journaled before it is asked, so a monitor that stopped in the
 * middle finishes or undoes it at its next start (`recover`).
 */
export class Updater {
  readonly #watcher: (engine: string) => EngineWatcher | undefined;
  readonly #journal: UpdateJournal;
  readonly #history: History;
  readonly #alerts: UpdateAlerts;
  readonly #config: UpdatesConfig;
  readonly #logsOf: (engine: string, id: string) => Promise<string[]>;
  readonly #afterUpdate: () => void;
  readonly #log: Logger;
  readonly #now: Clock;
  /** `engine/name` of updates under way: one at a time per container. */
  readonly #busy = new Set<string>();

  constructor(options: {
    watcher: (engine: string) => EngineWatcher | undefined;
    journal: UpdateJournal;
    history: History;
    alerts: UpdateAlerts;
    config: UpdatesConfig;
    logsOf: (engine: string, id: string) => Promise<string[]>;
    /** The update checker looks again (the new container's status). */
    afterUpdate: () => void;
    log: Logger;
    now?: Clock;
  }) {
    this.#watcher = options.watcher;
    this.#journal = options.journal;
    this.#history = options.history;
    this.#alerts = options.alerts;
    this.#config = options.config;
    this.#logsOf = options.logsOf;
    this.#afterUpdate = options.afterUpdate;
    this.#log = options.log;
    this.#now = options.now ?? systemClock;
  }

  /** The journal's last updates of a container (by name: each update is a new id). */
  recent(engine: string, name: string): Promise<UpdateRun[]> {
    return this.#journal.recent(engine, name);
  }

  async update(
    item: ContainerItem,
    principal: Principal,
    options: UpdateOptions,
    progress: (p: UpdateProgress) => void = () => {},
  ): Promise<UpdateOutcome> {
    const watcher = this.#watcher(item.engine);
    if (watcher === undefined) throw new DockgateError('DG_NOT_FOUND', `no engine named ${item.engine}`);
    const key = `${item.engine}/${item.name}`;
    if (this.#busy.has(key))
      throw new DockgateError('DG_UPDATE_REFUSED', `${item.name} on ${item.engine} is being updated already`);
    this.#busy.add(key);
    try {
      return await this.#update(watcher, item, principal, options, progress);
    } finally {
      this.#busy.delete(key);
    }
  }

  async #update(
    watcher: EngineWatcher,
    item: ContainerItem,
    principal: Principal,
    options: UpdateOptions,
    progress: (p: UpdateProgress) => void,
  ): Promise<UpdateOutcome> {
    const client = watcher.client;
    const old = (await client.containers.inspect(item.id)) as unknown as OldContainer & { Image: string };
    const name = old.Name.replace(/^\//, '');
    if (name.includes(OLD_SUFFIX))
      throw new DockgateError('DG_UPDATE_REFUSED', `${name} is an old container an update set aside`);
    if (old.HostConfig.AutoRemove === true)
      throw new DockgateError(
        'DG_UPDATE_REFUSED',
        `${name} is removed when it stops (--rm): there would be no way back; recreate it yourself`,
      );
    const image = options.image ?? String(old.Config.Image ?? '');
    const ref = parseImageReference(image);
    if (ref === undefined)
      throw new DockgateError(
        'DG_UPDATE_REFUSED',
        `${name} runs "${image}", which is not an image reference`,
      );

    progress({ step: 'pull', message: `pulling ${image}` });
    try {
      await this.#pull(client, image, ref.registry, progress);
    } catch (error) {
      if (error instanceof EngineError && (error.status === 401 || error.status === 403)) throw error;
      const reason = `pull failed: ${messageOf(error)}`;
      this.#log.warn({ engine: item.engine, container: name, image, err: reason }, 'update: pull failed');
      return { result: 'failed', reason };
    }
    const [oldImage, newImage] = await Promise.all([
      client.images.inspect(old.Image).catch(() => undefined),
      client.images.inspect(image),
    ]);
    const from = digestOf(oldImage, ref.registry, ref.repository) ?? old.Image;
    const to = digestOf(newImage, ref.registry, ref.repository) ?? newImage.Id ?? null;
    const plan = planRecreate(
      old,
      (oldImage?.Config ?? {}) as Record<string, unknown>,
      (newImage.Config ?? {}) as Record<string, unknown>,
      image,
      this.#config.settleMs,
    );
    if (options.dryRun === true)
      return { result: 'plan', image, from, to, settings: plan.settings, gate: plan.gate };
    if (newImage.Id === old.Image && options.image === undefined) {
      progress({ step: 'done', message: `${name} runs the newest ${image} already` });
      return { result: 'current', from, to };
    }
    progress({
      step: 'plan',
      message: `${plan.settings.length} settings looked at`,
      detail: { settings: plan.settings },
    });

    let run = await this.#journal.begin({
      engine: item.engine,
      name,
      oldId: old.Id,
      image,
      fromDigest: from,
      toDigest: to,
      wasRunning: old.State?.Running === true,
      by: principal.name,
      startedAt: this.#now(),
    });
    this.#alerts.hold(item.engine, old.Id);
    const aside = `${name}${OLD_SUFFIX}${old.Id.slice(0, 12)}`;
    try {
      // 1. The old container steps aside (same id, new name): the way back.
      run = await this.#journal.step(run, 'renamed');
      progress({ step: 'rename', message: `${name} → ${aside}` });
      await client.containers.rename(old.Id, aside);
      // 2. The new one under the name. A refusal here (the gateway's policy, a bad setting) is
      //    answered as it is, once the old container has its name back: nothing changed.
      run = await this.#journal.step(run, 'created');
      progress({ step: 'create', message: `creating ${name} from ${image}` });
      let newId: string;
      try {
        newId = (await client.containers.create(plan.body as never, { name })).Id;
      } catch (error) {
        await client.containers.rename(old.Id, name);
        await this.#journal.finish(run, 'refused', messageOf(error), this.#now());
        throw error;
      }
      run = await this.#journal.step(run, 'created', newId);
      this.#alerts.hold(item.engine, newId);
      try {
        for (const { network, endpoint } of plan.connect)
          await client.json('POST', `/networks/${encodeURIComponent(network)}/connect`, {
            body: { Container: newId, EndpointConfig: endpoint },
          });
        // 3. Stop the old, 4. start the new (a container that was stopped stays so: nothing to gate).
        run = await this.#journal.step(run, 'stopped');
        if (run.wasRunning) {
          progress({ step: 'stop', message: `stopping ${aside}` });
          watcher.expectStop(old.Id, principal.name);
          await client.containers.stop(
            old.Id,
            { t: stopTimeout(old) },
            { timeout: stopTimeout(old) * 1000 + STOP_GRACE_MS },
          );
        }
        run = await this.#journal.step(run, 'started');
        if (run.wasRunning) {
          progress({ step: 'start', message: `starting ${name}` });
          await client.containers.start(newId);
        }
      } catch (error) {
        return await this.#rollBack(watcher, run, `${messageOf(error)}`, [], progress, principal);
      }
      const verdict = await this.#gate(client, newId, plan.gate, progress);
      if (verdict.kind === 'fail') {
        const logs = await this.#logsOf(item.engine, newId).catch(() => []);
        return await this.#rollBack(watcher, run, verdict.reason, logs, progress, principal);
      }
      run = await this.#journal.step(run, 'passed');
      await this.#finish(client, run);
      progress({ step: 'done', message: `${name} runs ${short(to)}`, detail: { from, to, id: newId } });
      return { result: 'updated', from, to, id: newId };
    } finally {
      this.#alerts.release(item.engine, old.Id);
      if (run.newId !== null) this.#alerts.release(item.engine, run.newId);
    }
  }

  /** `POST /images/create` with the registry's credentials, its layers reported as they move. */
  async #pull(
    client: DockerClient,
    image: string,
    registry: string,
    progress: (p: UpdateProgress) => void,
  ): Promise<void> {
    const access = registryAccess(this.#config)(registry);
    const auth =
      access.username === undefined
        ? undefined
        : { username: access.username, password: access.password ?? '', serveraddress: registry };
    const stream = await client.images.pull(image, auth === undefined ? {} : { auth });
    // One message per layer and status: a pull's byte counts are many and say little here.
    const seen = new Set<string>();
    for await (const message of stream) {
      const line = `${message.id ?? ''} ${message.status ?? ''}`;
      if (message.status === undefined || seen.has(line)) continue;
      seen.add(line);
      progress({
        step: 'pull',
        message: message.id === undefined ? message.status : `${message.id}: ${message.status}`,
      });
    }
  }

  /** Polls the new container until the gate decides. */
  async #gate(
    client: DockerClient,
    id: string,
    gate: GateSpec,
    progress: (p: UpdateProgress) => void,
  ): Promise<{ kind: 'pass' } | { kind: 'fail'; reason: string }> {
    if (gate.kind === 'none') return { kind: 'pass' };
    progress({
      step: 'gate',
      message:
        gate.kind === 'health'
          ? `waiting for healthy (at most ${Math.round(gate.timeoutMs / 1000)} s)`
          : `must keep running for ${Math.round(gate.settleMs / 1000)} s`,
    });
    const started = this.#now();
    let firstStart: string | undefined;
    let said = started;
    for (;;) {
      let state: GateState;
      try {
        state = (await client.containers.inspect(id)) as GateState;
      } catch (error) {
        return { kind: 'fail', reason: `the new container could not be inspected: ${messageOf(error)}` };
      }
      firstStart ??= state.State?.StartedAt;
      const elapsed = this.#now() - started;
      const verdict = gateVerdict(gate, state, firstStart, elapsed);
      if (verdict.kind !== 'wait') return verdict;
      if (this.#now() - said >= 2_000) {
        said = this.#now();
        progress({
          step: 'gate',
          message: `${state.State?.Health?.Status ?? state.State?.Status ?? 'running'} for ${Math.round(elapsed / 1000)} s`,
        });
      }
      await sleep(GATE_POLL_MS);
    }
  }

  /** The new container passed: the old one goes (its anonymous volumes stay), the timelines say so. */
  async #finish(client: DockerClient, run: UpdateRun): Promise<void> {
    await client.containers.remove(run.oldId, { v: false, force: true }).catch((error: unknown) => {
      if (!(error instanceof EngineError && error.status === 404)) throw error;
    });
    const now = this.#now();
    const detail = { from: run.fromDigest ?? '', to: run.toDigest ?? '', image: run.image };
    if (run.newId !== null)
      this.#history.addTimeline(
        run.engine,
        run.newId,
        now * 1e6,
        {
          kind: 'action',
          action: 'update',
          time: '',
          by: run.by,
          detail: { ...detail, previous: run.oldId },
        },
        null,
      );
    this.#history.addTimeline(
      run.engine,
      run.oldId,
      now * 1e6,
      {
        kind: 'action',
        action: 'update',
        time: '',
        by: run.by,
        detail: { ...detail, replacedBy: run.newId ?? '' },
      },
      null,
    );
    await this.#journal.finish(run, 'updated', null, now);
    this.#alerts.succeeded(run.engine, run.oldId);
    this.#log.info(
      { engine: run.engine, container: run.name, from: run.fromDigest, to: run.toDigest, by: run.by },
      'container updated',
    );
    this.#afterUpdate();
  }

  /** Back as it was: the new container removed, the old one under its name (same id), started. */
  async #rollBack(
    watcher: EngineWatcher,
    run: UpdateRun,
    reason: string,
    logs: readonly string[],
    progress: (p: UpdateProgress) => void,
    principal: Principal,
  ): Promise<UpdateOutcome> {
    progress({ step: 'rollback', message: `rolling back: ${reason}` });
    await this.#undo(watcher.client, run);
    const now = this.#now();
    await this.#journal.finish(run, 'rolled-back', reason, now);
    this.#history.addTimeline(
      run.engine,
      run.oldId,
      now * 1e6,
      {
        kind: 'action',
        action: 'update-failed',
        time: '',
        by: principal.name,
        detail: { reason, image: run.image, to: run.toDigest ?? '' },
      },
      null,
    );
    this.#alerts.failed({ engine: run.engine, id: run.oldId, name: run.name }, reason, logs, {
      image: run.image,
      from: run.fromDigest,
      to: run.toDigest,
    });
    this.#log.warn({ engine: run.engine, container: run.name, reason, by: run.by }, 'update rolled back');
    progress({
      step: 'rolled-back',
      message: `${run.name} is back on ${short(run.fromDigest)}: ${reason}`,
      detail: { reason, logs },
    });
    return { result: 'rolled-back', reason, logs, from: run.fromDigest, to: run.toDigest };
  }

  async #undo(client: DockerClient, run: UpdateRun): Promise<void> {
    const reached = (step: UpdateStep): boolean =>
      UPDATE_STEPS.indexOf(run.step) >= UPDATE_STEPS.indexOf(step);
    if (run.newId !== null)
      await ignoreMissing(client.containers.remove(run.newId, { force: true, v: true }));
    else if (reached('created')) {
      // Created, but the monitor stopped before it wrote the id: whatever holds the name now is the new one.
      const holder = await client.containers.inspect(run.name).catch(() => undefined);
      if (holder !== undefined && holder.Id !== run.oldId)
        await ignoreMissing(client.containers.remove(holder.Id ?? run.name, { force: true, v: true }));
    }
    const old = await client.containers.inspect(run.oldId).catch((error: unknown) => {
      if (error instanceof EngineError && error.status === 404) return undefined;
      throw error;
    });
    if (old === undefined) return;
    if (old.Name?.replace(/^\//, '') !== run.name) await client.containers.rename(run.oldId, run.name);
    if (run.wasRunning && old.State?.Running !== true) await client.containers.start(run.oldId);
  }

  /**
   * Updates of this engine a monitor began and never finished (it was stopped or killed): one
   * whose new container had passed the gate is finished (the old one removed); any other is
   * undone — never two containers running under one name, never none. Tried again until the
   * engine answers.
   */
  async recover(engine: string): Promise<void> {
    const watcher = this.#watcher(engine);
    if (watcher === undefined) return;
    for (const found of await this.#journal.unfinished(engine)) {
      const run = found;
      if (this.#busy.has(`${engine}/${run.name}`)) continue;
      this.#busy.add(`${engine}/${run.name}`);
      try {
        if (run.step === 'passed') {
          await this.#finish(watcher.client, run);
          this.#log.info({ engine, container: run.name }, 'update finished after a restart');
          continue;
        }
        const reason = 'the monitor stopped in the middle of the update';
        await this.#undo(watcher.client, run);
        const now = this.#now();
        await this.#journal.finish(run, 'rolled-back', reason, now);
        this.#history.addTimeline(
          engine,
          run.oldId,
          now * 1e6,
          {
            kind: 'action',
            action: 'update-failed',
            time: '',
            by: run.by,
            detail: { reason, image: run.image },
          },
          null,
        );
        this.#alerts.failed({ engine, id: run.oldId, name: run.name }, reason, [], { image: run.image });
        this.#log.warn({ engine, container: run.name }, 'update rolled back after a restart');
      } finally {
        this.#busy.delete(`${engine}/${run.name}`);
      }
    }
  }
}

function stopTimeout(old: OldContainer): number {
  const t = old.Config.StopTimeout;
  return typeof t === 'number' && t >= 0 ? t : 10;
}

/** The image's digest in the repository the reference names (RepoDigests), if it came from there. */
function digestOf(image: ImageInspect | undefined, registry: string, repository: string): string | null {
  for (const entry of image?.RepoDigests ?? []) {
    const ref = parseImageReference(entry);
    if (ref?.registry === registry && ref.repository === repository && ref.digest !== undefined)
      return ref.digest;
  }
  return null;
}

async function ignoreMissing(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof EngineError && error.status === 404)) throw error;
  }
}

function messageOf(error: unknown): string {
  return error instanceof EngineError ? error.engineMessage : (error as Error).message;
}

function short(digest: string | null): string {
  return digest === null ? 'an unknown image' : digest.replace(/^sha256:/, '').slice(0, 12);
}
