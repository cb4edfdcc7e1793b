import { type FSWatcher, watch } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { type Clock, systemClock } from '../clock.js';
import type { Logger } from '../log/logger.js';
import { type LogLine, logLines } from './actions/container-logs.js';
import { AlertEngine } from './alerts/alert-engine.js';
import { AlertStore } from './alerts/alert-store.js';
import { buildApi } from './api/api-server.js';
import { EventStream } from './api/event-stream.js';
import { MonitorTokens } from './auth/monitor-tokens.js';
import { MonitorUsers } from './auth/monitor-users.js';
import { Sessions } from './auth/sessions.js';
import { Cluster } from './cluster/cluster.js';
import { type Instance, newInstance } from './cluster/cluster-routes.js';
import { type EngineConfig, enginesFromFile, type MonitorConfig } from './config/monitor-config.js';
import { EngineWatcher } from './engines/engine-watcher.js';
import { hostMetrics } from './hosts/host-metrics.js';
import { Hosts } from './hosts/hosts.js';
import { FairShare } from './logs/fair-share.js';
import { LogCollector } from './logs/log-collector.js';
import { LogPaths } from './logs/log-paths.js';
import { LogStore } from './logs/log-store.js';
import { ContainerCounters } from './metrics/container-counters.js';
import { alertMetrics, monitorMetrics } from './metrics/prometheus-metrics.js';
import type { ContainerItem } from './model/container.js';
import { ContainerFacts } from './notify/container-facts.js';
import { DeliveryQueue } from './notify/delivery.js';
import { type Notifier, notifierFor } from './notify/notifiers.js';
import { Outbox } from './notify/outbox.js';
import { LiveState } from './state/live-state.js';
import { StatsCollector } from './stats/stats-collector.js';
import { History } from './store/history.js';
import { openStore, type Store } from './store/open-store.js';
import type { TerminalContext } from './terminal/terminal-routes.js';
import { TerminalStore } from './terminal/terminal-store.js';
import { UpdateChecker } from './updates/update-checker.js';
import { UpdateJournal } from './updates/update-journal.js';
import { Updater } from './updates/update-runner.js';
import { UpdateStore } from './updates/update-store.js';

interface Watched {
  readonly watcher: EngineWatcher;
  readonly collector: StatsCollector;
  readonly logs: LogCollector | undefined;
}

/** Rollups and retention run this often. */
const ROLLUP_MS = 60_000;

/**
 * `dockgate monitor`: the lifecycle. Opens the history, restores the last known state, starts
 * one watcher (events) and one stats collector per engine, serves the API, and reloads the engine
 * list on SIGHUP or when the config file changes. `stop()` ends streams, watchers and the history
 * in that order, so the last writes are committed.
 */
export class Monitor {
  readonly config: MonitorConfig;
  readonly state = new LiveState();
  readonly stream = new EventStream();
  readonly #log: Logger;
  /** One clock for the store, the alert rules, sessions, deliveries and the watchers. */
  readonly #now: Clock;
  /** SQLite in `--data` or PostgreSQL (`--store`): history, alerts, users, sessions, tokens. */
  readonly store: Store;
  readonly history: History;
  readonly tokens: MonitorTokens;
  readonly users: MonitorUsers;
  readonly sessions: Sessions;
  readonly metrics: Registry;
  readonly alertStore: AlertStore;
  readonly alerts: AlertEngine;
  readonly notifiers: readonly Notifier[];
  readonly #delivery: DeliveryQueue;
  /** Every notification's transition, written before it is sent (notify/outbox.ts). */
  readonly #outbox: Outbox;
  #recoverTimer: NodeJS.Timeout | undefined;
  readonly #terminals: TerminalContext;
  /** Each watched engine's host: CPU, memory, filesystems, Docker's disk use, cleanups. */
  readonly hosts: Hosts;
  /** Every container's log (undefined when `logs.collect` is false). */
  readonly logs: LogStore | undefined;
  readonly #share: FairShare;
  /** Which containers run an outdated image (docs/updates.md). */
  readonly updates: UpdateChecker;
  /** Updates asked through the monitor (pull, recreate, gate, rollback). */
  readonly updater: Updater;
  /** This process among the monitors sharing a store (docs/scaling.md). */
  readonly instance: Instance;
  #shareTimer: NodeJS.Timeout | undefined;
  /** Several monitors on one PostgreSQL store: leases, fencing, the replica (cluster/). */
  #cluster: Cluster | undefined;
  readonly #watched = new Map<string, Watched>();
  #engines: readonly EngineConfig[];
  #api: FastifyInstance | undefined;
  #rollup: NodeJS.Timeout | undefined;
  #fileWatcher: FSWatcher | undefined;
  #reloadTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  /** Exits, OOM kills, restarts and raw stats counters per container, for `/metrics`. */
  readonly #counters = new ContainerCounters();
  /** Each container's compose project and image, for grouping notifications after it is gone. */
  readonly #facts = new ContainerFacts();
  /** The URL it listens on, port resolved. */
  url = '';

  /**
   * Opens the store (its schema brought up to date; a newer one stops here), reads what the
   * monitor starts from — the last known containers, the open incidents — and builds the monitor.
   */
  static async open(config: MonitorConfig, log: Logger, now: Clock = systemClock): Promise<Monitor> {
    const store = await openStore(config.store, log, { retention: config.retention });
    try {
      // Several monitors: each holds the incidents of the engines it owns (adopted with the lease).
      const alertStore = await AlertStore.load(store.sql, store.writer, {
        now,
        engines: store.pg === undefined ? 'all' : 'adopted',
      });
      const terminalStore = new TerminalStore(store.sql, config.data, now);
      // A monitor killed mid-session left its sessions open: they ended when it did.
      await terminalStore.closeOrphans();
      const history = new History(store.sql, store.writer, log, config.retention, now);
      const known = await history.liveContainers();
      return new Monitor(config, log, now, { store, history, alertStore, terminalStore, known });
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
  }

  private constructor(
    config: MonitorConfig,
    log: Logger,
    now: Clock,
    opened: {
      store: Store;
      history: History;
      alertStore: AlertStore;
      terminalStore: TerminalStore;
      known: readonly ContainerItem[];
    },
  ) {
    this.config = config;
    this.#log = log;
    this.#now = now;
    this.store = opened.store;
    this.history = opened.history;
    this.tokens = new MonitorTokens(this.store.sql, now);
    this.users = new MonitorUsers(this.store.sql, now);
    this.sessions = new Sessions(this.store.sql, now);
    this.alertStore = opened.alertStore;
    const terminalStore = opened.terminalStore;
    this.#terminals = { store: terminalStore, config: config.terminal, open: new Set() };
    this.logs = config.logs.collect ? new LogStore(config.data, log, config.logs.retention, now) : undefined;
    this.#share = new FairShare(config.logs.budget);
    this.hosts = new Hosts({
      store: this.store,
      history: this.history,
      retention: config.retention,
      log,
      intervalMs: config.intervalMs,
      keepMs: Math.max(config.alerts.host.diskFill.windowMs, 3_600_000),
      now,
    });
    this.metrics = monitorMetrics(
      this.state,
      this.#counters,
      config.metricsCompat,
      (registry) => {
        alertMetrics(registry, this.alertStore);
        hostMetrics(registry, this.hosts, (engine) => this.owns(engine));
      },
      (engine) => this.owns(engine),
    );
    // Notifier URLs are checked now: a bad one stops the monitor at start, not at the first alert.
    // The alertmanager notifier names the monitor's page of each alert (generatorURL).
    const alertmanager = { baseUrl: () => (this.url === '' ? undefined : this.url), now };
    this.notifiers = config.notify.map((n) =>
      notifierFor(n.url, n.kinds, process.env, alertmanager, n.group),
    );
    this.instance = newInstance(now());
    const shared = this.store.pg !== undefined;
    this.#outbox = new Outbox(
      this.store.sql,
      {
        self: this.instance.id,
        ...(shared ? { term: (engine: string) => this.#cluster?.term(engine) } : {}),
      },
      now,
    );
    this.#delivery = new DeliveryQueue(
      () => this.notifiers,
      this.alertStore,
      log,
      now,
      // Grouping reads the container's compose project and image (kept a while once it is removed).
      (alert) => this.#facts.get(alert.engine, alert.container?.id),
      { outbox: this.#outbox, shared },
    );
    this.alerts = new AlertEngine({
      rules: config.alerts,
      store: this.alertStore,
      delivery: this.#delivery,
      state: this.state,
      log,
      logsOf: (engine, id) => this.#lastLogs(engine, id),
      publish: (alert) => this.stream.publish('alert', alert),
      now,
      owns: (engine) => this.owns(engine),
      hosts: (engine) => this.hosts.facts(engine),
    });
    this.#engines = config.engines;
    this.updates = new UpdateChecker({
      engines: () => [...this.#watched.values()].map((w) => w.watcher),
      state: this.state,
      store: new UpdateStore(this.store.sql),
      config: config.updates,
      log,
      now,
    });
    this.updater = new Updater({
      watcher: (name) => this.#watched.get(name)?.watcher,
      journal: new UpdateJournal(this.store.sql),
      history: this.history,
      alerts: {
        hold: (engine, id) => this.alerts.holdForUpdate(engine, id),
        release: (engine, id) => this.alerts.releaseFromUpdate(engine, id),
        failed: (container, reason, logs, detail) =>
          this.alerts.updateFailed(container, reason, logs, detail),
        succeeded: (engine, oldId) => this.alerts.updateSucceeded(engine, oldId),
      },
      config: config.updates,
      logsOf: (engine, id) => this.#lastLogs(engine, id),
      afterUpdate: () => {
        void this.updates.check().catch(() => {});
      },
      log,
      now,
    });
    // Log rules hear of every new line; without any, lines are not even presented.
    if (config.alerts.logs.length > 0) this.logs?.onLines((batch) => this.alerts.onLogLines(batch));
    // The last known state: what changed while the monitor was away is found by comparing.
    for (const item of opened.known) {
      this.#facts.remember(item);
      if (config.engines.some((e) => e.name === item.engine)) this.state.upsert(item);
    }
    this.state.subscribe((change) => {
      if (change.kind === 'container') {
        this.#facts.remember(change.item);
        this.stream.publish('container', change.item);
        return;
      }
      this.stream.publish('engine', change.engine);
      // The others show this engine as its owner sees it.
      if (this.#cluster?.owns(change.engine.name) === true) this.history.saveEngineView(change.engine);
    });
  }

  /**
   * Whether this monitor watches `engine` — evaluates its rules, exports its metrics, writes its
   * history: always with SQLite; with PostgreSQL while it holds the engine's lease.
   */
  owns(engine: string): boolean {
    return this.#cluster === undefined || this.#cluster.owns(engine);
  }

  async start(): Promise<void> {
    if (this.store.pg === undefined) for (const engine of this.#engines) this.#watch(engine);
    else
      for (const engine of this.#engines)
        if (this.state.engine(engine.name) === undefined)
          this.state.setEngine({
            name: engine.name,
            url: engine.endpoint.url,
            status: 'connecting',
            since: new Date(this.#now()).toISOString(),
            containers: { running: 0, total: 0 },
            labels: engine.labels,
          });
    // Each second the ingest budget is shared again; what a container wrote beyond its share is
    // said in its own log, with the count.
    this.#shareTimer = setInterval(() => {
      for (const [source, n] of this.#share.tick())
        this.logs?.markDropped(
          source,
          `[dockgate] dropped ${n} lines: this container wrote more than its share of the ingest budget (${this.config.logs.budget} lines/s for all)`,
        );
    }, 1000);
    this.#shareTimer.unref();
    this.alerts.start();
    this.updates.start();
    const api = await buildApi(
      {
        state: this.state,
        history: this.history,
        stream: this.stream,
        metrics: this.metrics,
        tokens: this.tokens,
        log: this.#log,
        watcher: (name) => this.#watched.get(name)?.watcher,
        anonymousRole: () => this.config.anonymousRole,
        reload: () => this.reload('api'),
        alerts: this.alerts,
        alertStore: this.alertStore,
        users: this.users,
        sessions: this.sessions,
        now: this.#now,
        terminals: this.#terminals,
        logs: this.logs,
        logsConfig: this.config.logs,
        updates: this.updates,
        updater: this.updater,
        instance: this.instance,
        cluster: () => this.#cluster?.view(),
        ownerOf: async (engine) => this.#cluster?.ownerOf(engine),
        url: () => this.url,
        hosts: this.hosts,
      },
      this.config.listen,
    );
    this.#api = api;
    await api.listen({ host: this.config.listen.host, port: this.config.listen.port });
    const address = api.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : this.config.listen.port;
    this.url = this.config.listen.url.replace(/:\d+$/, `:${port}`);
    if (this.store.pg !== undefined) await this.#startCluster(this.store.pg);
    // Incidents open before a restart go on being re-sent where the receiver expects it.
    const open = this.alertStore.openIncidents().map((o) => o.alert);
    for (const notifier of this.notifiers)
      notifier.resume?.(open.filter((a) => notifier.kinds.size === 0 || notifier.kinds.has(a.kind)));
    // Notifications a monitor claimed and never marked sent (it died mid-way): sent again by the
    // engine's owner. Right away (a restart), then every 10 s.
    const recover = (): void => {
      const engines = this.#engines.map((e) => e.name).filter((e) => this.owns(e));
      const lead = [...this.#engines.map((e) => e.name)].sort()[0];
      if (lead !== undefined && this.owns(lead)) engines.push('*');
      void this.#delivery
        .recover(engines)
        .catch((error: Error) => this.#log.debug({ err: error.message }, 'outbox: recovery failed'));
    };
    recover();
    this.#recoverTimer = setInterval(recover, 10_000);
    this.#recoverTimer.unref();
    this.#rollup = setInterval(() => {
      void this.history.rollup();
      void this.hosts.rollup();
      void this.#outbox.prune(this.config.retention.hourMs).catch(() => {});
      void this.#pruneRecordings();
      this.logs?.prune();
    }, ROLLUP_MS);
    this.#rollup.unref();
    if (this.config.configFile !== undefined) {
      const file = this.config.configFile;
      this.#fileWatcher = watch(file, () => {
        // Editors write in several steps: reload once they are done.
        if (this.#reloadTimer !== undefined) clearTimeout(this.#reloadTimer);
        this.#reloadTimer = setTimeout(() => this.reload('file change'), 200);
      });
      this.#fileWatcher.on('error', () => {});
    }
  }

  /** The one line printed at start: where it listens, which engines it watches. */
  summary(version: string): string {
    // Several monitors: the engines this one took in its first round; the others follow.
    const mine = this.#engines.filter((e) =>
      this.#cluster === undefined ? this.#watched.has(e.name) : this.owns(e.name),
    );
    const engines = mine.map((e) => `${e.name} (${e.endpoint.url})`);
    const others = this.#engines.length - mine.length;
    const shared =
      this.#cluster === undefined || others === 0
        ? ''
        : `; ${others} more watched by the other monitors sharing the store`;
    return `dockgate monitor ${version} listening on ${this.url}, watching ${engines.join(', ')}${shared}`;
  }

  /**
   * Re-reads the engine list from the config file: new engines are watched, removed ones
   * forgotten, changed ones (URL, token, TLS, stats path) restarted. Engines from the command
   * line stay. An invalid file is logged and the engines in force stay.
   */
  reload(why: string): void {
    const file = this.config.configFile;
    if (file === undefined) {
      this.#log.info({ why }, 'no config file to reload');
      return;
    }
    let fromFile: EngineConfig[];
    try {
      fromFile = enginesFromFile(file);
    } catch (error) {
      this.#log.error(
        { why, err: (error as Error).message },
        'engine list reload rejected; the engines in force stay',
      );
      return;
    }
    // Engines from the command line stay; the default engine only while the file names none.
    const cli = this.config.engines.filter(
      (e) => e.source === 'flag' || (e.source === 'default' && fromFile.length === 0),
    );
    const next = [...cli, ...fromFile];
    const names = new Set(next.map((e) => e.name));
    if (names.size !== next.length) {
      this.#log.error({ why }, 'engine list reload rejected: an engine name is used twice');
      return;
    }
    for (const [name, watched] of this.#watched) {
      const wanted = next.find((e) => e.name === name);
      if (wanted === undefined || !sameEngine(wanted, watched.watcher.config)) {
        this.#watched.delete(name);
        watched.collector.stop();
        watched.logs?.stop();
        this.hosts.unwatch(name);
        void watched.watcher.stop();
        if (wanted === undefined) this.state.dropEngine(name);
      }
    }
    // Several monitors: a new engine is watched once a monitor takes its lease (membership).
    for (const engine of next)
      if (!this.#watched.has(engine.name) && this.owns(engine.name)) this.#watch(engine);
    this.#engines = next;
    this.#log.info({ why, engines: next.map((e) => e.name) }, 'engine list reloaded');
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#rollup !== undefined) clearInterval(this.#rollup);
    if (this.#recoverTimer !== undefined) clearInterval(this.#recoverTimer);
    if (this.#shareTimer !== undefined) clearInterval(this.#shareTimer);
    if (this.#reloadTimer !== undefined) clearTimeout(this.#reloadTimer);
    this.#fileWatcher?.close();
    this.alerts.stop();
    this.updates.stop();
    for (const notifier of this.notifiers) notifier.stop?.();
    this.stream.close();
    await Promise.all([...this.#terminals.open].map((session) => session.end('monitor stopped', null, 1001)));
    await this.#api?.close();
    await this.#cluster?.pause(); // no lease taken or given from here on
    this.hosts.stop();
    await Promise.all(
      [...this.#watched.values()].map(async ({ watcher, collector, logs }) => {
        collector.stop();
        logs?.stop();
        await watcher.stop();
      }),
    );
    await this.#delivery.drain();
    // The last writes under this monitor's terms, then the leases go back: the others take the
    // engines at once instead of after the lease time.
    await this.store.writer.flush();
    await this.#cluster?.stop();
    this.logs?.close();
    await this.store.close();
  }

  /**
   * Joins the monitors sharing this PostgreSQL store (docs/scaling.md): engines are watched as
   * their leases are taken — the open incidents adopted first, the events replayed from where the
   * last owner stopped — and given up when lost; the others' engines are followed from the store.
   */
  async #startCluster(pg: NonNullable<Store['pg']>): Promise<void> {
    const lead = (engine: string): boolean => [...this.#engines.map((e) => e.name)].sort()[0] === engine;
    this.#cluster = new Cluster({
      pg,
      sql: this.store.sql,
      writer: this.store.writer,
      self: this.instance,
      listen: this.url,
      engines: () => this.#engines.map((e) => e.name),
      state: this.state,
      publishAlert: (alert) => this.stream.publish('alert', alert),
      log: this.#log,
      timing: this.config.cluster,
      events: {
        acquired: (name) => {
          const engine = this.#engines.find((e) => e.name === name);
          if (engine === undefined || this.#watched.has(name)) return;
          void this.alerts
            .adopt(name, lead(name))
            .catch((error: Error) =>
              this.#log.warn({ engine: name, err: error.message }, 'cluster: open incidents not read'),
            )
            .then(() => {
              if (this.owns(name) && !this.#watched.has(name) && !this.#stopping) this.#watch(engine);
            });
        },
        lost: (name) => {
          this.#unwatch(name);
          this.alerts.forget(name, lead(name));
        },
      },
    });
    await this.#cluster.start();
  }

  /** Stops watching an engine (the state it showed stays: the replica follows it from here). */
  #unwatch(name: string): void {
    const watched = this.#watched.get(name);
    if (watched === undefined) return;
    this.#watched.delete(name);
    watched.collector.stop();
    watched.logs?.stop();
    this.hosts.unwatch(name);
    void watched.watcher.stop();
  }

  /** Terminal recordings: kept as long as the history's hour tier, and 1 GiB in all. */
  async #pruneRecordings(): Promise<void> {
    try {
      await this.#terminals.store.prune(this.config.retention.hourMs, this.config.terminal.castTotalBytes);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'terminal recordings: prune failed');
    }
  }

  /** The last log lines of a container, for a died message (empty when they cannot be read). */
  async #lastLogs(engine: string, id: string): Promise<string[]> {
    const watcher = this.#watched.get(engine)?.watcher;
    if (watcher === undefined) return [];
    const lines: LogLine[] = [];
    try {
      for await (const line of logLines(watcher.client, id, {
        tail: 10,
        follow: false,
        stdout: true,
        stderr: true,
        signal: AbortSignal.timeout(5_000),
      })) {
        lines.push(line);
      }
    } catch {
      // the message goes out without them
    }
    // stdout and stderr come as separate streams: their engine timestamps give the order.
    lines.sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''));
    return lines.slice(-10).map((line) => line.text);
  }

  #watch(engine: EngineConfig): void {
    const watcher = new EngineWatcher(engine, {
      log: this.#log,
      state: this.state,
      history: this.history,
      saveResources: this.#cluster !== undefined,
      callTimeoutMs: this.config.callTimeoutMs,
      maxInFlight: this.config.maxInFlight,
      onEvent: (event) => {
        this.#counters.onEvent(event);
        this.alerts.onEvent(event);
      },
      now: this.#now,
    });
    const collector = new StatsCollector(
      watcher,
      this.state,
      this.history,
      this.#log,
      this.config.intervalMs,
      (id, sample) => this.#counters.sample(engine.name, id, sample),
    );
    const logs =
      this.logs === undefined
        ? undefined
        : new LogCollector({
            watcher,
            state: this.state,
            store: this.logs,
            share: this.#share,
            paths: new LogPaths(watcher, engine.logs, this.#log),
            log: this.#log,
            firstLookMs: this.config.logs.retention.ageMs,
            now: this.#now,
          });
    this.#watched.set(engine.name, { watcher, collector, logs });
    watcher.start();
    collector.start();
    this.hosts.watch(watcher);
    logs?.start();
    void this.#recoverUpdates(engine.name);
  }

  /** Updates a stopped monitor left half done on this engine: finished or undone once it answers. */
  async #recoverUpdates(engine: string): Promise<void> {
    for (let attempt = 0; !this.#stopping && this.#watched.has(engine); attempt++) {
      try {
        await this.updater.recover(engine);
        return;
      } catch (error) {
        if (attempt === 0)
          this.#log.warn({ engine, err: (error as Error).message }, 'updates left half done: will try again');
        await new Promise((resolve) => setTimeout(resolve, 5_000).unref());
      }
    }
  }
}

function sameEngine(a: EngineConfig, b: EngineConfig): boolean {
  return (
    a.endpoint.url === b.endpoint.url &&
    a.token === b.token &&
    a.stats === b.stats &&
    JSON.stringify(a.labels) === JSON.stringify(b.labels) &&
    JSON.stringify(a.endpoint) === JSON.stringify(b.endpoint)
  );
}
