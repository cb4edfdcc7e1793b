import { DockerClient } from '../../client/docker-client.js';
import { EngineError } from '../../client/errors.js';
import { jsonLines } from '../../client/streams.js';
import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import type { AlertEvent } from '../alerts/alert-engine.js';
import type { EngineConfig } from '../config/monitor-config.js';
import {
  applyEvent,
  type ContainerItem,
  type EngineEvent,
  fromCreateEvent,
  fromInspect,
  type InspectAnswer,
  splitAction,
  TIMELINE_ACTIONS,
} from '../model/container.js';
import type { EngineStatus, EngineView, LiveState } from '../state/live-state.js';
import type { History, TimelineEntry } from '../store/history.js';
import { CallLimiter } from './call-limiter.js';
import { isExpectedDie, type StopIntent, stopIntentOf } from './expected-stops.js';

export interface WatcherOptions {
  readonly log: Logger;
  readonly state: LiveState;
  readonly history: History;
  /**
   * Several monitors: every item change is written — stats too — so the monitors that do not own
   * this engine show its containers' resources (replica.ts). One monitor: lifecycle changes only.
   */
  readonly saveResources?: boolean;
  readonly callTimeoutMs: number;
  readonly maxInFlight: number;
  /** Told of each container event once it is applied (the alert rules listen here). */
  readonly onEvent?: ((event: AlertEvent) => void) | undefined;
  /** The monitor's clock: event times the engine did not give, intents, degraded periods. */
  readonly now?: Clock | undefined;
}

/** Reconnects back off from this, doubling, with jitter, up to the cap (an engine back is seen within ~10 s). */
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** A degraded engine is `up` again after this long without a timed-out call. */
const DEGRADED_FOR_MS = 30_000;
/** Inspects after a burst of events on one container are folded into one. */
const INSPECT_DEBOUNCE_MS = 50;
/** A failed inspect after an event is asked again: 1 s, 2 s, 4 s, … (30 s at most), this many times. */
const INSPECT_RETRY_MS = 1_000;
const INSPECT_RETRIES = 6;
/** Keys of recent events, to apply an event replayed across a reconnect only once. */
const RECENT_KEYS = 2_000;
/** Containers inspected at once while reconciling. */
const RECONCILE_CONCURRENCY = 4;

/**
 * One engine, watched live: one `/events` subscription drives its containers' state. On every
 * (re)connect it replays the events it missed (`since` the last one applied, `until` now), then
 * lists and inspects to reconcile what the replay could not show (dockerd keeps few events), then
 * follows live from where the replay ended — so a transition that happened while disconnected
 * lands in the history once, in order. While unreachable it retries with backoff and jitter.
 */
export class EngineWatcher {
  readonly config: EngineConfig;
  readonly client: DockerClient;
  readonly calls: CallLimiter;
  readonly #o: WatcherOptions;
  readonly #now: Clock;
  readonly #controller = new AbortController();
  readonly #recent = new Set<string>();
  readonly #intents = new Map<string, StopIntent>();
  readonly #inspecting = new Map<string, NodeJS.Timeout>();
  #view: EngineView;
  #lastNano: number | undefined;
  #degradedAt = 0;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(config: EngineConfig, options: WatcherOptions) {
    this.config = config;
    this.#o = options;
    this.#now = options.now ?? systemClock;
    this.client = new DockerClient({
      url: config.endpoint,
      ...(config.token === undefined ? {} : { token: config.token }),
    });
    this.calls = new CallLimiter({
      maxInFlight: options.maxInFlight,
      timeoutMs: options.callTimeoutMs,
      onTimeout: (what) => this.#degraded(what),
    });
    this.#view = {
      name: config.name,
      url: config.endpoint.url,
      status: 'connecting',
      since: new Date(this.#now()).toISOString(),
      containers: { running: 0, total: 0 },
      labels: config.labels,
    };
  }

  /**
   * Where the last watcher of this engine stopped — this process before a restart, or another
   * monitor before a takeover: events are replayed from there. Without it (the store away) the
   * reconcile still finds every change, as reconcile entries.
   */
  async #restore(): Promise<void> {
    try {
      const last = await this.#o.history.lastEvent(this.config.name);
      if (last !== undefined && this.#lastNano === undefined) {
        this.#lastNano = last.nano;
        for (const key of last.keys) this.#recent.add(key);
      }
    } catch (error) {
      this.#o.log.warn(
        { engine: this.name, err: (error as Error).message },
        'last event not read from the store: reconciling without a replay',
      );
    }
  }

  get view(): EngineView {
    return this.#view;
  }

  get name(): string {
    return this.config.name;
  }

  start(): void {
    this.#o.state.setEngine(this.#view);
    this.#running ??= this.#loop();
  }

  /** Stops watching; resolves once the loop has ended. */
  async stop(): Promise<void> {
    this.#controller.abort();
    this.#wake?.();
    for (const timer of this.#inspecting.values()) clearTimeout(timer);
    await this.#running?.catch(() => {});
    await this.client.close();
  }

  /** A user asked to stop, kill or restart through the monitor: the `die` that follows is expected. */
  expectStop(id: string, by: string): void {
    this.#intents.set(id, { at: this.#now(), by, signal: undefined });
  }

  /** Merges what the stats collector read into the live item. */
  setResources(id: string, resources: Partial<ContainerItem>): void {
    const item = this.#o.state.container(this.config.name, id);
    if (item === undefined || item.state === 'removed') return;
    const next = { ...item, ...resources };
    if (this.#o.state.upsert(next) && this.#o.saveResources === true) this.#o.history.saveContainer(next);
  }

  /** The stats collector chose how it reads this engine's stats. */
  setStatsPath(path: EngineView['statsPath']): void {
    const { statsPath: _old, ...rest } = this.#view;
    this.#view = { ...rest, ...(path === undefined ? {} : { statsPath: path }), gateway: path === 'gateway' };
    this.#o.state.setEngine(this.#view);
  }

  /** The log collector chose how it reads this engine's containers' logs. */
  setLogsPath(path: NonNullable<EngineView['logsPath']>): void {
    if (this.#view.logsPath === path) return;
    this.#view = { ...this.#view, logsPath: path };
    this.#o.state.setEngine(this.#view);
  }

  /** Status changes from outside the loop (the stats collector's slow calls). */
  markDegraded(reason: string): void {
    this.#degraded(reason);
  }

  async #loop(): Promise<void> {
    const signal = this.#controller.signal;
    await this.#restore();
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.#session(signal);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        const message = (error as Error).message;
        this.#setStatus('down', message);
        this.#o.log.warn({ engine: this.name, err: message }, 'engine unreachable; retrying');
      }
      if (signal.aborted) break;
      // Full jitter: a fleet of monitors does not reconnect in step.
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(failures, 10));
      await this.#sleep(failures === 0 ? BACKOFF_MIN_MS : ceiling / 2 + Math.random() * (ceiling / 2));
    }
  }

  /** One connection's life: replay, reconcile, follow; returns or throws when the stream ends. */
  async #session(signal: AbortSignal): Promise<void> {
    const version = await this.calls.run('version', (s) => this.client.system.version({ signal: s }));
    const info = await this.calls.run('info', (s) =>
      this.client.json<{ SystemTime?: string }>('GET', '/info', { signal: s }),
    );
    // Everything until this engine instant is replayed; the live stream starts from it.
    const cut = engineNano(info.SystemTime) ?? this.#now() * 1e6;
    if (this.#lastNano !== undefined) await this.#replay(this.#lastNano, cut, signal);
    await this.#reconcile(this.#lastNano !== undefined);
    this.#view = { ...this.#view, version: version.Version, apiVersion: version.ApiVersion };
    this.#setStatus('up', undefined);
    await this.#follow(cut, signal);
  }

  /** Events between the last one applied and `until` (a finite request: dockerd closes it). */
  async #replay(sinceNano: number, untilNano: number, signal: AbortSignal): Promise<void> {
    const response = await this.client.request('GET', '/events', {
      query: {
        since: nanoText(sinceNano - 1000),
        until: nanoText(untilNano),
        filters: { type: ['container'] },
      },
      signal,
      stream: true,
    });
    if (response.status !== 200) {
      const text = await bodyText(response.body);
      throw new Error(`events replay answered ${response.status}: ${text.slice(0, 200)}`);
    }
    for await (const event of jsonLines<EngineEvent>(response.body as AsyncIterable<Buffer>))
      this.#apply(event, false);
  }

  /** Follows live events until the stream ends (an error: the loop reconnects). */
  async #follow(sinceNano: number, signal: AbortSignal): Promise<void> {
    const response = await this.client.request('GET', '/events', {
      query: { since: nanoText(sinceNano), filters: { type: ['container'] } },
      signal,
      stream: true,
    });
    if (response.status !== 200) {
      const text = await bodyText(response.body);
      throw new Error(`events answered ${response.status}: ${text.slice(0, 200)}`);
    }
    for await (const event of jsonLines<EngineEvent>(response.body as AsyncIterable<Buffer>))
      this.#apply(event, true);
    if (!signal.aborted) throw new Error('the events stream ended');
  }

  /**
   * List + inspect: the engine's containers as they are now. What changed without an event the
   * replay could show (dockerd keeps only the last 256) gets a `reconcile` timeline entry; on a
   * first run (`known` false) everything is a baseline, with no entries.
   */
  async #reconcile(known: boolean): Promise<void> {
    const listed = await this.calls.run('container list', (s) =>
      this.client.json<{ Id: string }[]>('GET', '/containers/json', { query: { all: 1 }, signal: s }),
    );
    const ids = new Set(listed.map((c) => c.Id));
    const queue = [...ids];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const inspect = await this.#inspectNow(id);
        if (inspect === undefined) continue;
        const before = this.#o.state.container(this.name, id);
        const after = fromInspect(this.name, inspect, before);
        if (known && (before === undefined || before.state !== after.state)) this.#reconciled(before, after);
        this.#store(after);
      }
    };
    await Promise.all(Array.from({ length: RECONCILE_CONCURRENCY }, worker));
    for (const item of this.#o.state.containers({ engine: this.name })) {
      if (ids.has(item.id)) continue;
      if (known)
        this.#timeline(item.id, this.#now() * 1e6, { kind: 'reconcile', action: 'destroy', time: '' }, null);
      this.#store({ ...item, state: 'removed' });
    }
  }

  /** A transition seen only by comparing states: recorded with the engine's own times. */
  #reconciled(before: ContainerItem | undefined, after: ContainerItem): void {
    const ms = (iso: string | null): number => (iso === null ? this.#now() : Date.parse(iso));
    if (before === undefined) {
      this.#timeline(after.id, this.#now() * 1e6, { kind: 'reconcile', action: 'create', time: '' }, null);
    }
    if (after.state === 'running' && before?.state !== 'running') {
      this.#timeline(
        after.id,
        ms(after.startedAt) * 1e6,
        { kind: 'reconcile', action: 'start', time: '' },
        null,
      );
    } else if ((after.state === 'exited' || after.state === 'dead') && before?.state !== after.state) {
      this.#timeline(
        after.id,
        ms(after.finishedAt) * 1e6,
        {
          kind: 'reconcile',
          action: 'die',
          time: '',
          ...(after.exitCode === null ? {} : { exitCode: after.exitCode }),
        },
        null,
      );
    } else if (after.state === 'paused') {
      this.#timeline(after.id, this.#now() * 1e6, { kind: 'reconcile', action: 'pause', time: '' }, null);
    }
  }

  /** One engine event: once, in order — into the live state at once, the timeline, then an inspect. */
  #apply(event: EngineEvent, live: boolean): void {
    if (event.Type !== undefined && event.Type !== 'container') return;
    const id = event.Actor?.ID;
    if (id === undefined || typeof event.timeNano !== 'number') return;
    const key = `${event.timeNano}|${id}|${event.Action}`;
    if (this.#recent.has(key)) return;
    this.#remember(key, event.timeNano);
    const [action, detail] = splitAction(event.Action);
    if (!TIMELINE_ACTIONS.has(action)) return; // exec_*, attach, top, archive-path: not state
    const known = this.#o.state.container(this.name, id);
    let item = known ?? (action === 'destroy' ? undefined : fromCreateEvent(this.name, event));
    const entry = this.#entry(id, action, detail, event);
    if (item !== undefined) {
      item = applyEvent(item, event);
      this.#store(item);
    }
    this.#timeline(id, event.timeNano, entry, key);
    this.#o.onEvent?.({
      engine: this.name,
      id,
      action,
      exitCode: entry.exitCode,
      expected: entry.expected === true,
      live,
    });
    if (action !== 'destroy') this.#inspectSoon(id);
  }

  /** The timeline entry of an event: exit code and `expected` on die, the signal on kill. */
  #entry(id: string, action: string, detail: string | undefined, event: EngineEvent): TimelineEntry {
    const attrs = event.Actor.Attributes ?? {};
    const time = new Date(Math.floor(event.timeNano / 1e6)).toISOString();
    switch (action) {
      case 'kill':
      case 'stop': {
        const intent = stopIntentOf(action, attrs.signal, this.#intents.get(id), this.#now());
        if (intent !== undefined) this.#intents.set(id, intent);
        return {
          kind: 'event',
          action,
          time,
          ...(attrs.signal === undefined ? {} : { detail: { signal: attrs.signal } }),
        };
      }
      case 'die': {
        const code = Number(attrs.exitCode);
        const intent = this.#intents.get(id);
        const expected = isExpectedDie(intent, this.#now());
        this.#intents.delete(id);
        return {
          kind: 'event',
          action,
          time,
          ...(Number.isInteger(code) ? { exitCode: code } : {}),
          expected,
          ...(expected && intent?.by !== undefined ? { by: intent.by } : {}),
        };
      }
      case 'start':
        this.#intents.delete(id);
        return { kind: 'event', action, time };
      case 'health_status':
        return {
          kind: 'event',
          action,
          time,
          ...(detail === undefined ? {} : { detail: { status: detail } }),
        };
      case 'rename':
        return {
          kind: 'event',
          action,
          time,
          ...(attrs.name === undefined ? {} : { detail: { name: attrs.name.replace(/^\//, '') } }),
        };
      default:
        return { kind: 'event', action, time };
    }
  }

  #timeline(id: string, timeNano: number, entry: TimelineEntry, key: string | null): void {
    this.#o.history.addTimeline(this.name, id, timeNano, entry, key === null ? null : `${this.name}|${key}`);
  }

  /**
   * After events settle, the engine's own view fills in what events do not say (an OOM kill, the
   * exit code's details). An inspect that fails — dockerd 20.10 can hang on an exiting container
   * for a while — is asked again with backoff, so the state does not stay as the event left it.
   */
  #inspectSoon(id: string, attempt = 0): void {
    const pending = this.#inspecting.get(id);
    if (pending !== undefined) clearTimeout(pending);
    const delay =
      attempt === 0 ? INSPECT_DEBOUNCE_MS : Math.min(INSPECT_RETRY_MS * 2 ** (attempt - 1), 30_000);
    const timer = setTimeout(() => {
      this.#inspecting.delete(id);
      void this.#inspectNow(id, true).then((inspect) => {
        if (inspect === 'failed') {
          if (attempt < INSPECT_RETRIES && !this.#controller.signal.aborted && !this.#inspecting.has(id))
            this.#inspectSoon(id, attempt + 1);
          return;
        }
        if (inspect === undefined) return;
        // An event that came while this inspect was under way scheduled another: this answer
        // predates it and would overwrite what the event said (an `oom` → oomKilled false again,
        // until the next inspect, which dockerd 20.10 can hold up on an exiting container).
        if (this.#inspecting.has(id)) return;
        this.#store(fromInspect(this.name, inspect, this.#o.state.container(this.name, id)));
      });
    }, delay);
    timer.unref();
    this.#inspecting.set(id, timer);
  }

  /** Inspect, bounded and timed; undefined when the container is gone, or (`failed`) the engine did not answer. */
  async #inspectNow(id: string): Promise<InspectAnswer | undefined>;
  async #inspectNow(id: string, tellFailure: true): Promise<InspectAnswer | undefined | 'failed'>;
  async #inspectNow(id: string, tellFailure = false): Promise<InspectAnswer | undefined | 'failed'> {
    try {
      return await this.calls.run('inspect', (s) =>
        this.client.json<InspectAnswer>('GET', `/containers/${id}/json`, { signal: s }),
      );
    } catch (error) {
      if (error instanceof EngineError && error.status === 404) return undefined;
      this.#o.log.debug({ engine: this.name, id, err: (error as Error).message }, 'inspect failed');
      return tellFailure ? 'failed' : undefined;
    }
  }

  #store(item: ContainerItem): void {
    if (this.#o.state.upsert(item))
      this.#o.history.saveContainer(item, item.state === 'removed' ? this.#now() : null);
  }

  #remember(key: string, nano: number): void {
    this.#recent.add(key);
    if (this.#recent.size > RECENT_KEYS) {
      const oldest = this.#recent.values().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
    if (this.#lastNano === undefined || nano >= this.#lastNano) {
      this.#lastNano = nano;
      const keys = [...this.#recent].filter((k) => k.startsWith(`${nano}|`));
      this.#o.history.setLastEvent(this.name, this.config.endpoint.url, nano, keys);
    }
  }

  #degraded(reason: string): void {
    this.#degradedAt = this.#now();
    if (this.#view.status === 'up' || (this.#view.status === 'degraded' && this.#view.error !== reason)) {
      this.#setStatus('degraded', reason);
    }
  }

  /** A degraded engine whose calls answer again for a while is up again (checked by the stats collector). */
  recover(): void {
    if (this.#view.status === 'degraded' && this.#now() - this.#degradedAt > DEGRADED_FOR_MS)
      this.#setStatus('up', undefined);
  }

  #setStatus(status: EngineStatus, error: string | undefined): void {
    const changed = this.#view.status !== status;
    const since = changed ? new Date(this.#now()).toISOString() : this.#view.since;
    const { error: _dropped, ...rest } = this.#view;
    this.#view = { ...rest, status, since, ...(error === undefined ? {} : { error }) };
    if (changed) this.#o.history.enginePeriod(this.name, status, Date.parse(since), error);
    this.#o.state.setEngine(this.#view);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** dockerd's `since`/`until`: "seconds.nanoseconds". */
export function nanoText(nano: number): string {
  const seconds = Math.floor(nano / 1e9);
  const rest = Math.max(0, Math.round(nano - seconds * 1e9));
  return `${seconds}.${String(rest).padStart(9, '0').slice(0, 9)}`;
}

/** An RFC 3339 time with nanoseconds (`/info`'s SystemTime) as nanoseconds since the epoch. */
export function engineNano(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
  const nanos = Number(fraction.padEnd(9, '0').slice(0, 9));
  return Math.floor(ms / 1000) * 1e9 + nanos;
}

/** An error answer's text (small: the engine's JSON message). */
export async function bodyText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
