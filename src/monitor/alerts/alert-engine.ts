import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import { humanDuration } from '../config/duration.js';
import { type HostCondition, type HostFacts, hostConditions } from '../hosts/host-rules.js';
import type { Stored } from '../logs/log-store.js';
import type { ContainerItem } from '../model/container.js';
import type { DeliveryQueue } from '../notify/delivery.js';
import type { EngineView, LiveState } from '../state/live-state.js';
import { type AlertKind, type AlertRules, globRegex, inScope, type Rule } from './alert-rules.js';
import type { Alert, AlertStore } from './alert-store.js';
import { firingSince, INACTIVE, step, type Tracker } from './incident-tracker.js';

/** An engine event as the watcher hands it on (after applying it to the state). */
export interface AlertEvent {
  readonly engine: string;
  readonly id: string;
  readonly action: string;
  readonly exitCode: number | undefined;
  readonly expected: boolean;
  /** False for events replayed after a reconnect: what happened while away is not a new alert. */
  readonly live: boolean;
}

/** What the engine remembers per container between events. */
interface Watch {
  /** Restarts (a start after a die) within the loop window, oldest first. */
  restarts: number[];
  exitCodes: number[];
  /** A die has been seen and no start since. */
  down: boolean;
  /** Since when it has been running (ms), undefined while not running. */
  runningSince: number | undefined;
  lastOomAt: number | undefined;
  /** A crash held back because the restart policy will restart it: a loop, or one "restarted" died. */
  held: { at: number; exitCode: number; logs: string[] } | undefined;
  seenRestartCount: number | undefined;
  restartsSinceSync: number;
  /** The registry digest an `update-available` incident is open for. */
  updateDigest: string | undefined;
}

const TICK_MS = 1_000;
/** An OOM kill is followed by its die: the die is part of the oom alert. */
const OOM_DIE_MS = 5_000;

const POLICY_RESTARTS = new Set(['always', 'unless-stopped', 'on-failure']);

/**
 * The alert rules at work (docs/alerts.md): engine events (die, oom, start) and the live state
 * (health, resources, engines) go in; incidents come out — opened once, updated in place,
 * resolved once, stored in SQLite, announced on the stream and through the notifiers. Level rules
 * (unhealthy, engine-down, missing, cpu, memory) and every resolution go through the pure state
 * machine of `incident-tracker.ts`; a crash folds into an open restart loop; a crash that the
 * restart policy will restart is held until it is a loop or the container has run stably.
 */
export class AlertEngine {
  readonly #rules: AlertRules;
  readonly #store: AlertStore;
  readonly #delivery: DeliveryQueue;
  readonly #state: LiveState;
  readonly #log: Logger;
  readonly #logsOf: (engine: string, id: string) => Promise<string[]>;
  readonly #publish: (alert: Alert) => void;
  readonly #trackers = new Map<string, Tracker>();
  readonly #watches = new Map<string, Watch>();
  readonly #missing: { entry: string; test: (item: ContainerItem) => boolean }[];
  readonly #now: Clock;
  /** Open log incidents: when their pattern last matched (they resolve after the quiet period). */
  readonly #logMatches = new Map<string, number>();
  /** `engine/id` of containers an update is replacing or trying: the update reports on them. */
  readonly #updating = new Set<string>();
  readonly #owns: (engine: string) => boolean;
  readonly #hosts: (engine: string) => HostFacts | undefined;
  /** Each engine's host conditions for its last reading. */
  readonly #hostConditions = new Map<string, { read: string; conditions: readonly HostCondition[] }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    rules: AlertRules;
    store: AlertStore;
    delivery: DeliveryQueue;
    state: LiveState;
    log: Logger;
    logsOf: (engine: string, id: string) => Promise<string[]>;
    publish: (alert: Alert) => void;
    /** The monitor's clock (tests pass one they control). */
    now?: Clock;
    /** Engines whose rules this monitor evaluates (several monitors: those it owns). */
    owns?: (engine: string) => boolean;
    /** Each engine's host as last read (hosts/): the disk, disk-fill, host-memory, host-cpu and host-temperature rules. */
    hosts?: (engine: string) => HostFacts | undefined;
  }) {
    this.#owns = options.owns ?? (() => true);
    this.#hosts = options.hosts ?? (() => undefined);
    this.#now = options.now ?? systemClock;
    this.#rules = options.rules;
    this.#store = options.store;
    this.#delivery = options.delivery;
    this.#state = options.state;
    this.#log = options.log;
    this.#logsOf = options.logsOf;
    this.#publish = options.publish;
    this.#missing = options.rules.missing.map((entry) => {
      if (entry.startsWith('label:')) {
        const label = entry.slice('label:'.length);
        const eq = label.indexOf('=');
        return {
          entry,
          test: (item: ContainerItem) =>
            eq < 0 ? label in item.labels : item.labels[label.slice(0, eq)] === label.slice(eq + 1),
        };
      }
      const re = globRegex(entry, 'alerts.missing.containers');
      return { entry, test: (item: ContainerItem) => re.test(item.name) };
    });
    // Open incidents survive a restart of the monitor: their trackers are firing, nothing is resent.
    for (const { alert, target } of this.#store.openIncidents()) {
      this.#trackers.set(`${alert.rule}|${target}`, firingSince(Date.parse(alert.openedAt)));
    }
  }

  /**
   * This monitor owns `engine` now (several monitors, docs/scaling.md): its open incidents are
   * taken over as the last owner left them — firing, nothing sent again — and its rules run here.
   */
  async adopt(engine: string, lead = false): Promise<void> {
    for (const { alert, target } of await this.#store.adopt(engine, lead))
      this.#trackers.set(`${alert.rule}|${target}`, firingSince(Date.parse(alert.openedAt)));
  }

  /** Another monitor owns `engine` now: what was tracked of it here is that one's. */
  forget(engine: string, lead = false): void {
    this.#store.forget(engine, lead);
    const mine = (target: string): boolean =>
      target === engine || target.startsWith(`${engine}/`) || (lead && target.startsWith('missing:'));
    for (const key of [...this.#trackers.keys()])
      if (mine(key.slice(key.indexOf('|') + 1))) this.#trackers.delete(key);
    for (const key of [...this.#watches.keys()]) if (key.startsWith(`${engine}/`)) this.#watches.delete(key);
    for (const key of [...this.#logMatches.keys()]) if (mine(key)) this.#logMatches.delete(key);
    this.#hostConditions.delete(engine);
  }

  start(): void {
    this.#timer = setInterval(() => {
      // One bad tick (a write the disk refused) is logged; the rules go on at the next one.
      try {
        this.tick(this.#now());
      } catch (error) {
        this.#log.error({ err: (error as Error).message }, 'alert rules: a tick failed');
      }
    }, TICK_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** An engine event the watcher applied. */
  onEvent(event: AlertEvent): void {
    const item = this.#state.container(event.engine, event.id);
    const watch = this.#watch(event.engine, event.id);
    const now = this.#now();
    switch (event.action) {
      case 'start':
        if (watch.down) {
          watch.restarts.push(now);
          watch.restartsSinceSync++;
        }
        watch.down = false;
        watch.runningSince = now;
        if (item !== undefined && event.live && this.#engineUp(event.engine))
          this.#checkLoop(item, watch, now);
        return;
      case 'oom':
        watch.lastOomAt = now;
        if (item === undefined || !event.live || !this.#engineUp(event.engine)) return;
        if (this.#updating.has(`${event.engine}/${event.id}`)) return;
        if (this.#foldIntoLoop(item, watch, { oom: true })) return;
        this.#openOnce(
          this.#rules.rules.oom,
          item,
          `${item.name} on ${item.engine} was killed: out of memory`,
          {
            memoryLimitBytes: item.memoryLimitBytes,
          },
        );
        return;
      case 'die': {
        watch.down = true;
        watch.runningSince = undefined;
        if (event.exitCode !== undefined) watch.exitCodes = [...watch.exitCodes.slice(-9), event.exitCode];
        if (item === undefined || !event.live || !this.#engineUp(event.engine)) return;
        if (event.expected || event.exitCode === 0) return;
        if (this.#updating.has(`${event.engine}/${event.id}`)) return;
        if (watch.lastOomAt !== undefined && now - watch.lastOomAt < OOM_DIE_MS) return; // the oom alert says it
        if (this.#foldIntoLoop(item, watch, { exitCode: event.exitCode })) return;
        const rule = this.#rules.rules.died;
        if (!rule.enabled || !inScope(rule, item)) return;
        const code = event.exitCode ?? -1;
        if (POLICY_RESTARTS.has(item.restartPolicy)) {
          // The policy restarts it: wait — a loop if it keeps crashing, one "restarted" died if not.
          watch.held = { at: now, exitCode: code, logs: [] };
          void this.#logsOf(item.engine, item.id)
            .then((logs) => {
              if (watch.held !== undefined) watch.held.logs = logs;
            })
            .catch((error: unknown) => this.#failed(error));
          return;
        }
        void this.#logsOf(item.engine, item.id)
          .then((logs) =>
            this.#openOnce(rule, item, `${item.name} on ${item.engine} exited with code ${code}`, {
              exitCode: code,
              logs,
            }),
          )
          .catch((error: unknown) => this.#failed(error));
        return;
      }
      case 'destroy':
        this.#removed(event.engine, event.id, now);
        return;
      default:
        return;
    }
  }

  /** Time-driven transitions: `for` elapsed, resolutions, held crashes, reminders. */
  /**
   * New lines in the kept logs against the `log` rules: the first match opens one incident per
   * container and pattern (with that line), later ones are counted into it (with the last line);
   * it resolves after the rule's quiet period without a match.
   */
  onLogLines(batch: readonly Stored[]): void {
    if (this.#rules.logs.length === 0) return;
    const now = this.#now();
    for (const { source, line } of batch) {
      if (line.stream === 'dockgate') continue;
      const live = this.#state.container(source.engine, source.container);
      const item = {
        engine: source.engine,
        name: source.name,
        labels: live?.labels ?? {},
        compose: source.project === null ? null : { project: source.project, service: source.service ?? '' },
      };
      for (const log of this.#rules.logs) {
        if (!inScope(log.rule, item) || !log.query.test(line.text)) continue;
        const target = `${source.engine}/${source.container}#${log.name}`;
        const text = line.text.length > 500 ? `${line.text.slice(0, 500)}…` : line.text;
        const open = this.#store.openFor('log', target);
        if (open !== undefined) {
          this.#logMatches.set(target, now);
          this.#changed(
            this.#store.update(open.id, {
              count: open.count + 1,
              details: { ...open.details, last: text, lastAt: line.time },
            }),
          );
          continue;
        }
        const key = `log|${target}`;
        const tracker = this.#trackers.get(key) ?? INACTIVE;
        if (tracker.lastResolvedAt !== undefined && now - tracker.lastResolvedAt < log.rule.cooldownMs)
          continue;
        this.#trackers.set(key, { phase: 'firing', since: now, lastResolvedAt: tracker.lastResolvedAt });
        this.#logMatches.set(target, now);
        this.#open(
          log.rule,
          target,
          source.engine,
          { id: source.container, name: source.name },
          `${source.name} on ${source.engine} logged "${log.name}": ${text}`,
          { pattern: log.pattern, first: text, firstAt: line.time, last: text, lastAt: line.time },
          now,
        );
      }
    }
  }

  /** Log incidents quiet for their rule's period are resolved. */
  #logQuiet(now: number): void {
    if (this.#rules.logs.length === 0) return;
    for (const { alert, target } of this.#store.openIncidents()) {
      if (alert.kind !== 'log') continue;
      for (const log of this.#rules.logs) {
        if (!target.endsWith(`#${log.name}`)) continue;
        // Open before a restart of the monitor: quiet counts from the restart.
        const last = this.#logMatches.get(target) ?? this.#logMatches.set(target, now).get(target) ?? now;
        if (now - last < log.rule.resolveForMs) continue;
        this.#logMatches.delete(target);
        this.#trackers.set(`log|${target}`, { phase: 'inactive', since: now, lastResolvedAt: now });
        this.#resolveTarget('log', target, now);
      }
    }
  }

  tick(now: number): void {
    this.#logQuiet(now);
    for (const engine of this.#state.engines())
      if (this.#owns(engine.name)) {
        this.#engineRule(engine, now);
        if (this.#engineUp(engine.name)) this.#hostRules(engine.name, now);
      }
    for (const item of this.#state.containers()) {
      if (!this.#owns(item.engine)) continue; // another monitor's to decide on
      if (!this.#engineUp(item.engine)) continue; // held while its engine is down: no storm after
      if (this.#updating.has(`${item.engine}/${item.id}`)) continue; // the update reports on it
      const watch = this.#watch(item.engine, item.id);
      this.#syncRestartCount(item, watch, now);
      const running = item.state === 'running';
      if (running && watch.runningSince === undefined) watch.runningSince = now;
      if (!running) watch.runningSince = undefined;
      const stableFor =
        running && item.health !== 'unhealthy' && watch.runningSince !== undefined
          ? now - watch.runningSince
          : -1;
      this.#level(
        this.#rules.rules.unhealthy,
        item,
        running && item.health === 'unhealthy',
        now,
        () => `${item.name} on ${item.engine} is unhealthy`,
      );
      if (this.#rules.rules.cpu.enabled) {
        const above = this.#rules.cpuAbovePercent;
        this.#level(
          this.#rules.rules.cpu,
          item,
          running && (item.cpuPercent ?? 0) > above,
          now,
          () => `${item.name} on ${item.engine} uses ${item.cpuPercent}% CPU (above ${above}%)`,
        );
      }
      if (this.#rules.rules.memory.enabled) {
        this.#level(
          this.#rules.rules.memory,
          item,
          running && this.#memoryHigh(item),
          now,
          () => `${item.name} on ${item.engine} uses ${item.memoryBytes} bytes of memory`,
        );
      }
      if (this.#rules.rules['update-available'].enabled) this.#updateRule(item, watch, now);
      // died and oom are over once it runs (healthy) for `for`; a loop once it runs for its settle time.
      for (const kind of ['died', 'oom'] as const)
        this.#resolveWhenStable(this.#rules.rules[kind], item, stableFor, now);
      this.#resolveWhenStable(this.#rules.rules['restart-loop'], item, stableFor, now);
      this.#releaseHeld(item, watch, stableFor, now);
    }
    for (const { entry, test } of this.#missing) this.#missingRule(entry, test, now);
    this.#reminders(now);
  }

  /** An update is replacing (or trying) this container: its exits are the update's to report. */
  holdForUpdate(engine: string, id: string): void {
    this.#updating.add(`${engine}/${id}`);
  }

  releaseFromUpdate(engine: string, id: string): void {
    this.#updating.delete(`${engine}/${id}`);
  }

  /**
   * `update-failed`: an update was rolled back (docs/updates.md). One incident per container,
   * another failed attempt counted into it; resolved when an update of it succeeds.
   */
  updateFailed(
    container: { engine: string; id: string; name: string },
    reason: string,
    logs: readonly string[],
    detail: Record<string, unknown>,
  ): void {
    const rule = this.#rules.rules['update-failed'];
    const item = this.#state.container(container.engine, container.id);
    const scoped: ContainerItem | undefined =
      item === undefined ? undefined : { ...item, name: container.name };
    if (scoped === undefined) {
      if (!rule.enabled) return;
      this.#open(
        rule,
        `${container.engine}/${container.id}`,
        container.engine,
        { id: container.id, name: container.name },
        `${container.name} on ${container.engine}: update rolled back: ${reason}`,
        { ...detail, reason, logs },
        this.#now(),
      );
      return;
    }
    this.#openOnce(rule, scoped, `${container.name} on ${container.engine}: update rolled back: ${reason}`, {
      ...detail,
      reason,
      logs,
    });
  }

  /** An update of the container succeeded: its `update-failed` incident is over. */
  updateSucceeded(engine: string, oldId: string): void {
    const target = `${engine}/${oldId}`;
    const now = this.#now();
    this.#trackers.set(`update-failed|${target}`, {
      phase: 'inactive',
      since: now,
      lastResolvedAt: undefined,
    });
    this.#resolveTarget('update-failed', target, now);
  }

  async acknowledge(id: string): Promise<Alert | undefined> {
    const alert = await this.#store.acknowledge(id, this.#now());
    if (alert !== undefined) this.#publish(alert);
    return alert;
  }

  /**
   * `update-available`: one incident per container and registry digest — a newer digest is a new
   * message, another check of the same digest is not; the container updated (or removed) resolves it.
   */
  #updateRule(item: ContainerItem, watch: Watch, now: number): void {
    const rule = this.#rules.rules['update-available'];
    if (!inScope(rule, item)) return;
    const update = item.update;
    const digest = update.status === 'outdated' && item.state !== 'removed' ? update.available : null;
    const container = { id: item.id, name: item.name };
    const target = (d: string): string => `${item.engine}/${item.id}#${d}`;
    const summary = (): string => `${item.name} on ${item.engine}: a newer ${item.image} is on its registry`;
    const details = (): Record<string, unknown> => ({
      image: item.image,
      current: update.current,
      available: update.available,
    });
    const before = watch.updateDigest;
    if (before !== undefined && before !== digest)
      this.#levelTarget(rule, target(before), item.engine, container, false, now, summary, details);
    watch.updateDigest = digest ?? undefined;
    if (digest !== null)
      this.#levelTarget(rule, target(digest), item.engine, container, true, now, summary, details);
  }

  #engineRule(engine: EngineView, now: number): void {
    const rule = this.#rules.rules['engine-down'];
    if (!rule.enabled || (rule.scope.engines.length > 0 && !rule.scope.engines.includes(engine.name))) return;
    this.#levelTarget(
      rule,
      engine.name,
      engine.name,
      null,
      engine.status === 'down',
      now,
      () => `engine ${engine.name} is unreachable${engine.error === undefined ? '' : `: ${engine.error}`}`,
      () => ({ error: engine.error, url: engine.url }),
    );
  }

  /** disk, disk-fill, host-memory, host-cpu, host-temperature: the host's conditions (pure, host-rules.ts) through the tracker. */
  #hostRules(engine: string, now: number): void {
    const facts = this.#hosts(engine);
    if (facts === undefined) return;
    // Evaluated once per reading (a slope over hours of samples), stepped through the trackers every tick.
    let cached = this.#hostConditions.get(engine);
    if (cached?.read !== facts.view.read) {
      cached = { read: facts.view.read, conditions: hostConditions(this.#rules.host, facts) };
      this.#hostConditions.set(engine, cached);
    }
    for (const c of cached.conditions) {
      const rule = this.#rules.rules[c.kind];
      if (!rule.enabled || (rule.scope.engines.length > 0 && !rule.scope.engines.includes(engine))) continue;
      this.#levelTarget(
        rule,
        c.target,
        engine,
        null,
        c.active,
        now,
        () => c.summary,
        () => c.details,
      );
    }
  }

  #missingRule(entry: string, test: (item: ContainerItem) => boolean, now: number): void {
    const rule = this.#rules.rules.missing;
    if (!rule.enabled) return;
    const engines = this.#state
      .engines()
      .filter((e) => rule.scope.engines.length === 0 || rule.scope.engines.includes(e.name));
    if (engines.length === 0) return;
    // Across engines, one monitor decides: the owner of the first of them (several monitors).
    const lead = engines.map((e) => e.name).sort()[0] as string;
    if (!this.#owns(lead)) return;
    if (engines.some((e) => e.status !== 'up' && e.status !== 'degraded')) return; // unknown while an engine is away
    const running = engines.some((e) =>
      this.#state.containers({ engine: e.name }).some((c) => c.state === 'running' && test(c)),
    );
    const engine = engines.length === 1 ? (engines[0]?.name ?? '') : '*';
    this.#levelTarget(
      rule,
      `missing:${entry}`,
      engine,
      null,
      !running,
      now,
      () => `${entry} is not running${engine === '*' ? '' : ` on ${engine}`}`,
      () => ({ selector: entry }),
    );
  }

  /** A level rule on a container. */
  #level(rule: Rule, item: ContainerItem, active: boolean, now: number, summary: () => string): void {
    if (!rule.enabled || !inScope(rule, item)) return;
    this.#levelTarget(
      rule,
      `${item.engine}/${item.id}`,
      item.engine,
      { id: item.id, name: item.name },
      active,
      now,
      summary,
      () => ({
        health: item.health,
        cpuPercent: item.cpuPercent,
        memoryBytes: item.memoryBytes,
        memoryLimitBytes: item.memoryLimitBytes,
      }),
    );
  }

  #levelTarget(
    rule: Rule,
    target: string,
    engine: string,
    container: { id: string; name: string } | null,
    active: boolean,
    now: number,
    summary: () => string,
    details: () => Record<string, unknown>,
  ): void {
    const key = `${rule.kind}|${target}`;
    const { tracker, effect } = step(this.#trackers.get(key) ?? INACTIVE, active, now, rule);
    this.#trackers.set(key, tracker);
    if (effect === 'open') this.#open(rule, target, engine, container, summary(), details(), now);
    else if (effect === 'resolve') this.#resolveTarget(rule.kind, target, now);
  }

  /** An event rule: opens at once unless one is open or the cooldown runs. */
  #openOnce(
    rule: Rule,
    item: ContainerItem,
    summary: string,
    details: Record<string, unknown>,
  ): Alert | undefined {
    if (!rule.enabled || !inScope(rule, item)) return undefined;
    const target = `${item.engine}/${item.id}`;
    const key = `${rule.kind}|${target}`;
    const tracker = this.#trackers.get(key) ?? INACTIVE;
    const now = this.#now();
    if (tracker.phase === 'firing' || tracker.phase === 'recovering') {
      const open = this.#store.openFor(rule.kind, target);
      if (open !== undefined)
        this.#changed(
          this.#store.update(open.id, {
            count: open.count + 1,
            summary,
            details: { ...open.details, ...details },
          }),
        );
      return open;
    }
    if (tracker.lastResolvedAt !== undefined && now - tracker.lastResolvedAt < rule.cooldownMs) {
      this.#log.info({ rule: rule.kind, target }, 'alert suppressed: cooldown');
      return undefined;
    }
    this.#trackers.set(key, { phase: 'firing', since: now, lastResolvedAt: tracker.lastResolvedAt });
    return this.#open(rule, target, item.engine, { id: item.id, name: item.name }, summary, details, now);
  }

  #open(
    rule: Rule,
    target: string,
    engine: string,
    container: { id: string; name: string } | null,
    summary: string,
    details: Record<string, unknown>,
    now: number,
  ): Alert {
    const alert = this.#store.open({
      rule: rule.kind,
      kind: rule.kind,
      engine,
      container,
      target,
      summary,
      details,
      at: now,
    });
    this.#log.warn(
      { alert: alert.id, kind: alert.kind, engine, container: container?.name, summary },
      'alert firing',
    );
    this.#publish(alert);
    this.#delivery.send('firing', alert);
    return alert;
  }

  #resolveTarget(kind: AlertKind, target: string, now: number): void {
    const open = this.#store.openFor(kind, target);
    if (open === undefined) return;
    const lasted = now - Date.parse(open.openedAt);
    const alert = this.#store.resolve(
      open.id,
      now,
      `${open.summary} — resolved after ${humanDuration(lasted)}`,
      { ...open.details, duration: humanDuration(lasted) },
    );
    if (alert === undefined) return;
    this.#log.info({ alert: alert.id, kind, target }, 'alert resolved');
    this.#publish(alert);
    this.#delivery.send('resolved', alert);
  }

  /** died, oom, restart-loop: resolved once the container runs (healthy) long enough. */
  #resolveWhenStable(rule: Rule, item: ContainerItem, stableFor: number, now: number): void {
    const target = `${item.engine}/${item.id}`;
    const key = `${rule.kind}|${target}`;
    const tracker = this.#trackers.get(key);
    if (tracker === undefined || (tracker.phase !== 'firing' && tracker.phase !== 'recovering')) return;
    if (stableFor >= rule.resolveForMs) {
      this.#trackers.set(key, { phase: 'inactive', since: now, lastResolvedAt: now });
      this.#resolveTarget(rule.kind, target, now);
    }
  }

  /** A held crash: the loop took it, or the container ran stably (one died: it was restarted). */
  #releaseHeld(item: ContainerItem, watch: Watch, stableFor: number, now: number): void {
    const held = watch.held;
    if (held === undefined) return;
    if (this.#store.openFor('restart-loop', `${item.engine}/${item.id}`) !== undefined) {
      watch.held = undefined;
      return;
    }
    const settle = this.#rules.loop.settleMs;
    const rule = this.#rules.rules.died;
    if (stableFor >= settle) {
      watch.held = undefined;
      const alert = this.#openOnce(
        rule,
        item,
        `${item.name} on ${item.engine} exited with code ${held.exitCode}; restarted, running for ${humanDuration(stableFor)}`,
        {
          exitCode: held.exitCode,
          logs: held.logs,
          restarted: true,
        },
      );
      // It is already over: one message, resolved at once.
      if (alert !== undefined) {
        const target = `${item.engine}/${item.id}`;
        const resolved = this.#store.resolve(alert.id, now, alert.summary, alert.details);
        this.#trackers.set(`died|${target}`, { phase: 'inactive', since: now, lastResolvedAt: now });
        if (resolved !== undefined) this.#publish(resolved);
      }
    } else if (
      !watch.down &&
      item.state !== 'running' &&
      item.state !== 'restarting' &&
      now - held.at >= settle
    ) {
      // The policy gave up (on-failure:N): it stays down — an ordinary died.
      watch.held = undefined;
      this.#openOnce(rule, item, `${item.name} on ${item.engine} exited with code ${held.exitCode}`, {
        exitCode: held.exitCode,
        logs: held.logs,
      });
    } else if (watch.down && now - held.at >= settle && item.state === 'exited') {
      watch.held = undefined;
      this.#openOnce(rule, item, `${item.name} on ${item.engine} exited with code ${held.exitCode}`, {
        exitCode: held.exitCode,
        logs: held.logs,
      });
    }
  }

  /** A crash while a loop is open is part of it: the count and exit codes update in place. */
  #foldIntoLoop(
    item: ContainerItem,
    watch: Watch,
    change: { exitCode?: number | undefined; oom?: boolean },
  ): boolean {
    const open = this.#store.openFor('restart-loop', `${item.engine}/${item.id}`);
    if (open === undefined) return false;
    const details = {
      ...open.details,
      exitCodes: watch.exitCodes,
      ...(change.oom === true ? { oom: true } : {}),
      restarts: watch.restarts.length,
    };
    this.#changed(
      this.#store.update(open.id, {
        count: open.count + (change.exitCode === undefined ? 0 : 1),
        summary: loopSummary(item, watch, this.#rules.loop.windowMs),
        details,
      }),
    );
    return true;
  }

  #checkLoop(item: ContainerItem, watch: Watch, now: number): void {
    const { restarts, windowMs } = this.#rules.loop;
    watch.restarts = watch.restarts.filter((t) => now - t <= windowMs);
    if (watch.restarts.length < restarts) return;
    const rule = this.#rules.rules['restart-loop'];
    if (!rule.enabled || !inScope(rule, item)) return;
    if (this.#foldIntoLoop(item, watch, {})) return;
    watch.held = undefined; // the crashes so far are the loop, not died messages
    this.#openOnce(rule, item, loopSummary(item, watch, windowMs), {
      restarts: watch.restarts.length,
      exitCodes: watch.exitCodes,
      restartPolicy: item.restartPolicy,
    });
  }

  /** Restarts the events did not show (missed, or reconciled): RestartCount says how many. */
  #syncRestartCount(item: ContainerItem, watch: Watch, now: number): void {
    if (watch.seenRestartCount === undefined) {
      watch.seenRestartCount = item.restartCount;
      watch.restartsSinceSync = 0;
      return;
    }
    const delta = item.restartCount - watch.seenRestartCount;
    const unseen = delta - watch.restartsSinceSync;
    if (delta > 0) {
      for (let i = 0; i < unseen; i++) watch.restarts.push(now);
      watch.seenRestartCount = item.restartCount;
      watch.restartsSinceSync = 0;
      if (unseen > 0) this.#checkLoop(item, watch, now);
    }
  }

  /** Reminders: open incidents once (not once per rule), only when some rule repeats. */
  #reminders(now: number): void {
    if (!Object.values(this.#rules.rules).some((rule) => rule.repeatMs !== undefined)) return;
    for (const { alert } of this.#store.openIncidents()) {
      const repeatMs = this.#rules.rules[alert.kind].repeatMs;
      if (repeatMs === undefined || alert.acknowledgedAt !== null) continue;
      const last = this.#store.lastNotified(alert.id) ?? Date.parse(alert.openedAt);
      if (now - last >= repeatMs) this.#delivery.send('reminder', alert);
    }
  }

  #removed(engine: string, id: string, now: number): void {
    for (const kind of [
      'died',
      'oom',
      'restart-loop',
      'unhealthy',
      'cpu',
      'memory',
      'update-failed',
    ] as const) {
      const target = `${engine}/${id}`;
      if (this.#store.openFor(kind, target) !== undefined) {
        this.#trackers.set(`${kind}|${target}`, { phase: 'inactive', since: now, lastResolvedAt: now });
        this.#resolveTarget(kind, target, now);
      }
    }
    this.#watches.delete(`${engine}/${id}`);
  }

  #memoryHigh(item: ContainerItem): boolean {
    if (item.memoryBytes === null) return false;
    const above = this.#rules.memoryAbove;
    if ('bytes' in above) return item.memoryBytes > above.bytes;
    return item.memoryLimitBytes !== null && item.memoryBytes > above.fraction * item.memoryLimitBytes;
  }

  #engineUp(engine: string): boolean {
    const status = this.#state.engine(engine)?.status;
    return status === 'up' || status === 'degraded';
  }

  #watch(engine: string, id: string): Watch {
    const key = `${engine}/${id}`;
    let watch = this.#watches.get(key);
    if (watch === undefined) {
      watch = {
        restarts: [],
        exitCodes: [],
        down: false,
        runningSince: undefined,
        lastOomAt: undefined,
        held: undefined,
        seenRestartCount: undefined,
        restartsSinceSync: 0,
        updateDigest: undefined,
      };
      this.#watches.set(key, watch);
    }
    return watch;
  }

  #failed(error: unknown): void {
    this.#log.error({ err: (error as Error).message }, 'alert rules: an alert could not be opened');
  }

  #changed(alert: Alert | undefined): void {
    if (alert !== undefined) this.#publish(alert);
  }
}

function loopSummary(item: ContainerItem, watch: Watch, windowMs: number): string {
  const codes = watch.exitCodes.slice(-5);
  return `${item.name} on ${item.engine} is restarting in a loop: ${watch.restarts.length} restarts in ${humanDuration(windowMs)}${codes.length > 0 ? ` (exit codes ${codes.join(', ')})` : ''}`;
}
