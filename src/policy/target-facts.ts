import type { DockerClient } from '../client/docker-client.js';
import { EngineError } from '../client/errors.js';
import { closeBody, jsonLines } from '../client/streams.js';
import type { Logger } from '../log/logger.js';
import { type GoObject, parseGoJson } from './go-json.js';
import type { ContainerFacts, EngineDefaults } from './host-escapes.js';
import {
  type TargetCheck,
  type TargetFacts,
  UNCHECKED_VOLUMES_LABEL,
  type VolumeFacts,
} from './references.js';

export interface TargetInspectorOptions {
  /** How long a container's facts are trusted without an event saying they changed (backstop). */
  readonly ttlMs?: number;
  /**
   * Follow the engine's container events to drop facts that changed (default). Without it the
   * TTL alone bounds how stale a fact can be.
   */
  readonly watchEvents?: boolean;
  /** Per engine call; a lookup that takes longer refuses (fail closed). */
  readonly timeoutMs?: number;
}

/** A lookup's answer: the target's facts, or it does not exist (the engine will answer that itself). */
export type TargetLookup =
  | { readonly kind: 'found'; readonly facts: TargetFacts }
  | { readonly kind: 'volume'; readonly volume: VolumeFacts }
  | { readonly kind: 'missing' };

/**
 * Container events that change what a name resolves to or what a container holds; volume events
 * (`create`, `destroy`) that change what a volume name is.
 */
const CHANGING = ['create', 'destroy', 'rename', 'update'];
const DEFAULT_TTL_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 5_000;
const RESUBSCRIBE_MAX_MS = 5_000;

interface Entry {
  readonly facts: Omit<TargetFacts, 'exec'>;
  readonly at: number;
}

/**
 * What the engine says of the containers requests reach into (issue 10), resolved as dockerd
 * resolves them (full id, name with or without `/`, unique prefix: the engine's own inspect does
 * it). Facts are cached per reference while one `/events` subscription says nothing changed;
 * while it is down nothing is cached, and a TTL bounds staleness even if an event is lost.
 * Concurrent lookups of one reference share one engine call. A failure throws: the caller refuses.
 */
export class TargetInspector {
  readonly #engine: DockerClient;
  readonly #log: Logger;
  readonly #ttl: number;
  readonly #timeout: number;
  readonly #watch: boolean;
  readonly #cache = new Map<string, Entry>();
  /** Volumes that exist, by name (a volume's driver and options never change while it exists). */
  readonly #volumes = new Map<string, { readonly volume: VolumeFacts; readonly at: number }>();
  readonly #inflight = new Map<string, Promise<TargetLookup>>();
  #defaults: Promise<EngineDefaults> | undefined;
  /** True while the events subscription is established (the cache may be used). */
  #watching = false;
  #events: AbortController | undefined;
  #closed = false;

  constructor(engine: DockerClient, log: Logger, options: TargetInspectorOptions = {}) {
    this.#engine = engine;
    this.#log = log;
    this.#ttl = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#watch = options.watchEvents ?? true;
  }

  /** The facts of a check's target. Throws when the engine cannot tell (the request is refused). */
  async lookup(check: TargetCheck): Promise<TargetLookup> {
    if (check.kind === 'exec') return this.#exec(check.ref);
    if (check.kind === 'volume') return this.#volume(check.ref);
    return this.#container(check.ref);
  }

  /**
   * The facts of a container check when they are cached and trusted now, without waiting: the
   * common case (exec after exec into one container) stays on the synchronous proxy path.
   */
  cached(check: TargetCheck): TargetLookup | undefined {
    if (check.kind === 'exec') return undefined;
    const cached = check.kind === 'volume' ? this.#volumes.get(check.ref) : this.#cache.get(check.ref);
    if (cached === undefined || !(this.#watching || !this.#watch) || Date.now() - cached.at >= this.#ttl)
      return undefined;
    return 'volume' in cached
      ? { kind: 'volume', volume: cached.volume }
      : { kind: 'found', facts: cached.facts };
  }

  /** Stops following events. */
  close(): void {
    this.#closed = true;
    this.#events?.abort();
    this.#cache.clear();
    this.#volumes.clear();
  }

  /**
   * A named volume: its driver and options, or missing — a volume that does not exist is created
   * plain by the engine (never cached: someone may create it a moment later; the `start` check
   * judges what the engine really mounted).
   */
  async #volume(name: string): Promise<TargetLookup> {
    this.#subscribe();
    const cached = this.cached({ kind: 'volume', ref: name, via: '' });
    if (cached !== undefined) return cached;
    const watchingBefore = this.#watching;
    const volume = await this.#get<{ Name?: string; Driver?: string; Options?: unknown }>(
      `/volumes/${encodeURIComponent(name)}`,
    );
    if (volume === undefined) return { kind: 'missing' };
    const facts: VolumeFacts = {
      name: volume.Name ?? name,
      driver: volume.Driver ?? 'local',
      options: goOptions(volume.Options),
    };
    if ((watchingBefore && this.#watching) || !this.#watch)
      this.#volumes.set(name, { volume: facts, at: Date.now() });
    return { kind: 'volume', volume: facts };
  }

  async #exec(ref: string): Promise<TargetLookup> {
    const inspect = await this.#get<{
      ContainerID?: string;
      ProcessConfig?: { privileged?: boolean; user?: string };
    }>(`/exec/${encodeURIComponent(ref)}/json`);
    if (inspect === undefined || inspect.ContainerID === undefined) return { kind: 'missing' };
    const container = await this.#container(inspect.ContainerID);
    if (container.kind !== 'found') return { kind: 'missing' };
    const exec = parseGoJson(
      JSON.stringify({ Privileged: inspect.ProcessConfig?.privileged, User: inspect.ProcessConfig?.user }),
    ) as GoObject;
    return { kind: 'found', facts: { ...container.facts, exec } };
  }

  #container(ref: string): Promise<TargetLookup> {
    this.#subscribe();
    const cached = this.cached({ kind: 'container', ref, via: '' });
    if (cached !== undefined) return Promise.resolve(cached);
    let pending = this.#inflight.get(ref);
    if (pending === undefined) {
      pending = this.#inspect(ref).finally(() => this.#inflight.delete(ref));
      this.#inflight.set(ref, pending);
    }
    return pending;
  }

  async #inspect(ref: string): Promise<TargetLookup> {
    const watchingBefore = this.#watching;
    const inspect = await this.#get<{
      Id: string;
      Name: string;
      HostConfig?: unknown;
      Mounts?: ContainerFacts['mounts'] | null;
      Config?: { Labels?: Record<string, string> | null };
    }>(`/containers/${encodeURIComponent(ref)}/json`);
    if (inspect === undefined) return { kind: 'missing' };
    const mounts = inspect.Mounts ?? [];
    const volumes = new Map<string, { driver: string; options: GoObject | null }>();
    for (const mount of mounts) {
      if (mount.Type !== 'volume' || mount.Name === undefined) continue;
      const volume = await this.#get<{ Driver?: string; Options?: unknown }>(
        `/volumes/${encodeURIComponent(mount.Name)}`,
      );
      if (volume === undefined) continue;
      volumes.set(mount.Name, { driver: volume.Driver ?? 'local', options: goOptions(volume.Options) });
    }
    const facts: Omit<TargetFacts, 'exec'> = {
      id: inspect.Id,
      name: inspect.Name.replace(/^\//, ''),
      container: {
        hostConfig: parseGoJson(JSON.stringify(inspect.HostConfig ?? {})) as GoObject,
        mounts,
        volumes,
        defaults: await this.#engineDefaults(),
        uncheckedVolumes: (inspect.Config?.Labels?.[UNCHECKED_VOLUMES_LABEL] ?? '')
          .split(',')
          .filter(Boolean),
      },
    };
    // Cache only what was read while the subscription was up from before the read: an event
    // that arrived during the read is then known to have been seen.
    if ((watchingBefore && this.#watching) || !this.#watch) this.#cache.set(ref, { facts, at: Date.now() });
    return { kind: 'found', facts };
  }

  #engineDefaults(): Promise<EngineDefaults> {
    this.#defaults ??= this.#engine
      .json<{ DefaultRuntime?: string; CgroupVersion?: string }>('GET', '/info', { timeout: this.#timeout })
      .then((info) => ({ runtime: info.DefaultRuntime ?? 'runc', cgroupVersion: info.CgroupVersion ?? '1' }))
      .catch((error: unknown) => {
        this.#defaults = undefined; // try again next time
        throw error;
      });
    return this.#defaults;
  }

  /** GET a JSON answer; undefined when the object does not exist or the reference is ambiguous. */
  async #get<T>(path: string): Promise<T | undefined> {
    try {
      return await this.#engine.json<T>('GET', path, { timeout: this.#timeout });
    } catch (error) {
      // 404: no such object; 400/409: an ambiguous prefix. The engine answers the request the
      // same way, so nothing is reached: let it through to get the engine's own message.
      if (error instanceof EngineError && [400, 404, 409].includes(error.status)) return undefined;
      throw error;
    }
  }

  /** One container-events subscription, started on first use and resumed after a break. */
  #subscribe(): void {
    if (!this.#watch || this.#closed || this.#events !== undefined) return;
    const controller = new AbortController();
    this.#events = controller;
    void this.#follow(controller.signal);
  }

  async #follow(signal: AbortSignal): Promise<void> {
    let delay = 250;
    while (!signal.aborted) {
      try {
        const response = await this.#engine.request('GET', '/events', {
          query: { filters: { type: ['container', 'volume'], event: CHANGING } },
          signal,
          stream: true,
        });
        if (response.status !== 200) {
          closeBody(response.body);
          throw new Error(`events answered ${response.status}`);
        }
        this.#watching = true;
        delay = 250;
        for await (const event of jsonLines<{ Type?: string; Action?: string; Actor?: { ID?: string } }>(
          response.body as AsyncIterable<Buffer>,
        )) {
          if (event.Type === 'volume') {
            if (event.Actor?.ID !== undefined) this.#volumes.delete(event.Actor.ID);
          } else this.#invalidate(event.Actor?.ID, event.Action);
        }
      } catch (error) {
        if (signal.aborted) return;
        this.#log.warn(
          { err: (error as Error).message },
          'container events for target checks broke; retrying',
        );
      } finally {
        // Whatever happened while not subscribed is unknown: nothing cached survives.
        this.#watching = false;
        this.#cache.clear();
        this.#volumes.clear();
      }
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      delay = Math.min(delay * 2, RESUBSCRIBE_MAX_MS);
    }
  }

  #invalidate(id: string | undefined, action: string | undefined): void {
    for (const [ref, entry] of this.#cache) {
      // A new or renamed container can change what any name or prefix resolves to.
      const byName = action === 'create' || action === 'rename' ? ref !== entry.facts.id : false;
      if (entry.facts.id === id || byName) this.#cache.delete(ref);
    }
  }
}

/** A volume's `Options` as the Go reader reads them (null when it has none). */
function goOptions(options: unknown): GoObject | null {
  return options === undefined || options === null
    ? null
    : (parseGoJson(JSON.stringify(options)) as GoObject);
}
