import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import type { UpdatesConfig } from '../config/monitor-config.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import type { ContainerItem, UpdateInfo } from '../model/container.js';
import type { LiveState } from '../state/live-state.js';
import { type ImageReference, parseImageReference } from './image-reference.js';
import { registryAccess } from './registry-access.js';
import { RegistryClient } from './registry-client.js';
import type { TagCheck, UpdateStore } from './update-store.js';

/** How often the fleet's images are looked at (the registry is asked per tag only per interval). */
const ROUND_MS = 5 * 60_000;
/** The first round, once the engines are watched. */
const FIRST_ROUND_MS = 5_000;

interface Classified {
  readonly item: ContainerItem;
  /** Known without a registry (pinned, local), or the tag to ask about. */
  readonly outcome:
    | UpdateInfo
    | { readonly ref: ImageReference; readonly key: string; readonly current: string[] };
}

/**
 * Which containers run an outdated image (docs/updates.md). Each round lists every watched
 * engine's containers and images (two calls per engine), sorts the containers into pinned (a
 * digest reference), local (an image with no digest for its repository: built or imported here —
 * no registry is asked, whatever its name looks like) and tags to check; each tag is asked of its
 * registry once per interval for the whole fleet (`HEAD` of the manifest), and the answer is kept
 * in the store so a restart does not ask again. A registry that refused (wrong password) is not
 * asked again before the interval is over; one that said 429 not before its Retry-After.
 */
export class UpdateChecker {
  readonly #engines: () => readonly EngineWatcher[];
  readonly #state: LiveState;
  readonly #store: UpdateStore;
  readonly #config: UpdatesConfig;
  readonly #log: Logger;
  readonly #now: Clock;
  readonly registry: RegistryClient;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(options: {
    engines: () => readonly EngineWatcher[];
    state: LiveState;
    store: UpdateStore;
    config: UpdatesConfig;
    log: Logger;
    now?: Clock;
  }) {
    this.#engines = options.engines;
    this.#state = options.state;
    this.#store = options.store;
    this.#config = options.config;
    this.#log = options.log;
    this.#now = options.now ?? systemClock;
    this.registry = new RegistryClient((registry) => registryAccess(this.#config)(registry), this.#now);
  }

  start(): void {
    if (!this.#config.check) return;
    this.#schedule(FIRST_ROUND_MS);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  /** One round now (`force`: every tag asked again, whatever the interval); joins one under way. */
  async check(force = false): Promise<void> {
    while (this.#round !== undefined) await this.#round.catch(() => {});
    this.#round = this.#check(force).finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  /** The containers whose image's tag moved. */
  outdated(): ContainerItem[] {
    return this.#state.containers({}).filter((c) => c.update.status === 'outdated' && c.state !== 'removed');
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.check()
        .catch((error: unknown) => this.#log.warn({ err: (error as Error).message }, 'update check failed'))
        .finally(() => this.#schedule(ROUND_MS));
    }, ms);
    this.#timer.unref();
  }

  async #check(force: boolean): Promise<void> {
    const classified: Classified[] = [];
    for (const watcher of this.#engines()) {
      try {
        classified.push(...(await this.#classify(watcher)));
      } catch (error) {
        this.#log.debug(
          { engine: watcher.name, err: (error as Error).message },
          'update check: engine not listed',
        );
      }
    }
    // One question per tag for the whole fleet.
    const asked = new Map<string, TagCheck | undefined>();
    for (const { outcome } of classified) {
      if (!('key' in outcome) || asked.has(outcome.key)) continue;
      asked.set(outcome.key, await this.#tag(outcome.ref, outcome.key, force));
    }
    for (const { item, outcome } of classified) {
      const update = 'key' in outcome ? judge(outcome.current, asked.get(outcome.key)) : outcome;
      const now = this.#state.container(item.engine, item.id);
      if (now === undefined || now.state === 'removed' || sameUpdate(now.update, update)) continue;
      this.#state.upsert({ ...now, update });
    }
  }

  async #classify(watcher: EngineWatcher): Promise<Classified[]> {
    const [containers, images] = await Promise.all([
      watcher.calls.run('list for updates', (signal) =>
        watcher.client.json<{ Id: string; ImageID: string }[]>('GET', '/containers/json', {
          query: { all: true },
          signal,
        }),
      ),
      watcher.calls.run('images for updates', (signal) =>
        watcher.client.json<{ Id: string; RepoDigests: string[] | null }[]>('GET', '/images/json', {
          query: { digests: true },
          signal,
        }),
      ),
    ]);
    const digests = new Map(images.map((i) => [i.Id, i.RepoDigests ?? []]));
    const out: Classified[] = [];
    for (const c of containers) {
      const item = this.#state.container(watcher.name, c.Id);
      if (item === undefined) continue;
      out.push({ item, outcome: classify(item.image, digests.get(c.ImageID) ?? []) });
    }
    return out;
  }

  /** The tag's last answer, asked again when due. */
  async #tag(ref: ImageReference, key: string, force: boolean): Promise<TagCheck | undefined> {
    const now = this.#now();
    const last = await this.#store.get(key);
    const waited = last === undefined ? Number.POSITIVE_INFINITY : now - last.checkedAt;
    // A registry that refused the credentials, or asked to wait, is not asked again before the
    // interval (or its Retry-After) is over, even on demand: no request storm.
    const due =
      last === undefined ||
      (last.retryAt !== null
        ? now >= last.retryAt
        : last.reason === 'unauthorized'
          ? waited >= this.#config.intervalMs
          : force || waited >= this.#config.intervalMs);
    if (!due) return last;
    const answer = await this.registry.digest(ref);
    const check: TagCheck =
      answer.kind === 'digest'
        ? { key, digest: answer.digest, error: null, reason: null, checkedAt: now, retryAt: null }
        : {
            key,
            // The last digest known is kept; the status says the check failed (unknown, why).
            digest: last?.digest ?? null,
            error: answer.message,
            reason: answer.reason,
            checkedAt: now,
            retryAt: answer.retryAfterMs === undefined ? null : now + Math.max(answer.retryAfterMs, 60_000),
          };
    await this.#store.put(check);
    if (answer.kind === 'error')
      this.#log.info(
        { tag: key, reason: answer.reason, err: answer.message },
        'update check: registry refused',
      );
    return check;
  }
}

/** What can be said without a registry; otherwise the tag to ask about. */
export function classify(image: string, repoDigests: readonly string[]): Classified['outcome'] {
  const ref = parseImageReference(image);
  const base = { checkedAt: null, available: null } as const;
  if (ref === undefined) return { ...base, status: 'local', current: null };
  if (ref.digest !== undefined) return { ...base, status: 'pinned', current: ref.digest };
  const current = repoDigests
    .map((entry) => parseImageReference(entry))
    .filter((d) => d?.registry === ref.registry && d.repository === ref.repository && d.digest !== undefined)
    .map((d) => d?.digest as string);
  if (current.length === 0) return { ...base, status: 'local', current: null };
  return { ref, key: `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`, current };
}

function judge(current: readonly string[], check: TagCheck | undefined): UpdateInfo {
  const mine = current[0] ?? null;
  if (check === undefined) return { status: 'unknown', checkedAt: null, current: mine, available: null };
  const checkedAt = new Date(check.checkedAt).toISOString();
  if (check.error !== null)
    return { status: 'unknown', checkedAt, current: mine, available: check.digest, error: check.error };
  if (check.digest === null) return { status: 'unknown', checkedAt, current: mine, available: null };
  const status = current.includes(check.digest) ? 'current' : 'outdated';
  return { status, checkedAt, current: status === 'current' ? check.digest : mine, available: check.digest };
}

function sameUpdate(a: UpdateInfo, b: UpdateInfo): boolean {
  return (
    a.status === b.status &&
    a.checkedAt === b.checkedAt &&
    a.current === b.current &&
    a.available === b.available &&
    a.error === b.error
  );
}
