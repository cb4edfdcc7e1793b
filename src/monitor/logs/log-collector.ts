import { EngineError } from '../../client/errors.js';
import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../log/logger.js';
import type { EngineWatcher } from '../engines/engine-watcher.js';
import type { ContainerItem } from '../model/container.js';
import type { LiveState } from '../state/live-state.js';
import { compareTime, type EngineLine, LineAssembler, sinceParam } from './engine-lines.js';
import type { FairShare } from './fair-share.js';
import type { LogPaths } from './log-paths.js';
import type { LogStore, Resume, SourceRow } from './log-store.js';

/** A reader that failed waits this long, doubling, before it reads again. */
const RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000] as const;

/** What one container's reader is doing (a state, not flags). */
type ReaderState =
  | { readonly kind: 'reading'; readonly controller: AbortController; again: boolean }
  | { readonly kind: 'waiting'; readonly timer: NodeJS.Timeout; readonly attempt: number }
  | { readonly kind: 'done'; readonly startedAt: string | null }
  | { readonly kind: 'not-collected'; readonly driver: string };

const RUNNING = new Set(['running', 'paused', 'restarting']);

/**
 * One engine's containers' logs into the store: one follow stream per container while it runs
 * (the engine pushes new lines; a quiet container costs an idle connection), read from the last
 * line stored — `since` the engine's nanosecond time, the lines at exactly that time skipped by
 * count — so a line written while the monitor or the connection was away is collected once. A
 * container that started, logged and exited between two looks is read to its end. Drivers the
 * engine cannot read back are noted on the source, once.
 */
export class LogCollector {
  readonly #watcher: EngineWatcher;
  readonly #state: LiveState;
  readonly #store: LogStore;
  readonly #share: FairShare;
  readonly #paths: LogPaths;
  readonly #log: Logger;
  readonly #now: Clock;
  /** How far back a container seen for the first time is read (the retention's age). */
  readonly #firstLookMs: number;
  readonly #readers = new Map<string, ReaderState>();
  #unsubscribe: (() => void) | undefined;
  #stopped = false;

  constructor(options: {
    watcher: EngineWatcher;
    state: LiveState;
    store: LogStore;
    share: FairShare;
    paths: LogPaths;
    log: Logger;
    firstLookMs: number;
    now?: Clock;
  }) {
    this.#watcher = options.watcher;
    this.#state = options.state;
    this.#store = options.store;
    this.#share = options.share;
    this.#paths = options.paths;
    this.#log = options.log;
    this.#firstLookMs = options.firstLookMs;
    this.#now = options.now ?? systemClock;
  }

  get engine(): string {
    return this.#watcher.name;
  }

  start(): void {
    this.#unsubscribe = this.#state.subscribe((change) => {
      if (change.kind === 'container' && change.item.engine === this.engine) this.#ensure(change.item);
      // The engine is back: every reader waiting on a retry reads now.
      if (change.kind === 'engine' && change.engine.name === this.engine && change.engine.status === 'up')
        for (const item of this.#state.containers({ engine: this.engine })) this.#ensure(item, true);
    });
    for (const item of this.#state.containers({ engine: this.engine })) this.#ensure(item);
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const reader of this.#readers.values()) {
      if (reader.kind === 'reading') reader.controller.abort();
      if (reader.kind === 'waiting') clearTimeout(reader.timer);
    }
    this.#readers.clear();
  }

  /** Starts a reader for a container unless one is reading, or the container has nothing new. */
  #ensure(item: ContainerItem, now = false): void {
    if (this.#stopped) return;
    const reader = this.#readers.get(item.id);
    if (item.state === 'removed') {
      // A read under way ends on its own (the engine closes the stream); nothing else is kept.
      if (reader !== undefined && reader.kind !== 'reading') {
        if (reader.kind === 'waiting') clearTimeout(reader.timer);
        this.#readers.delete(item.id);
      }
      return;
    }
    if (reader?.kind === 'not-collected') return;
    if (reader?.kind === 'reading') {
      // The container changed while it was read (it started, logged and exited before a read
      // without follow reached its lines): once this read ends, one more from where it stopped.
      reader.again = true;
      return;
    }
    // Read once more after a (re)start; a stopped container read to its end stays done.
    if (reader?.kind === 'done' && reader.startedAt === item.startedAt && !RUNNING.has(item.state)) return;
    if (reader?.kind === 'done' && reader.startedAt === item.startedAt && !now) return;
    if (reader?.kind === 'waiting') {
      if (!now) return;
      clearTimeout(reader.timer);
    }
    void this.#read(item, reader?.kind === 'waiting' ? reader.attempt : 0);
  }

  async #read(item: ContainerItem, attempt: number): Promise<void> {
    const controller = new AbortController();
    const reading: ReaderState & { kind: 'reading' } = { kind: 'reading', controller, again: false };
    this.#readers.set(item.id, reading);
    const source = this.#store.source({
      engine: item.engine,
      container: item.id,
      name: item.name,
      project: item.compose?.project ?? null,
      service: item.compose?.service ?? null,
      image: item.image,
    });
    const follow = RUNNING.has(item.state);
    let outcome: 'ended' | 'failed' | 'gone' = 'ended';
    try {
      await this.#store.drained();
      // A message still partial when the stream ends is kept only when no read follows (the
      // container is done): a later read takes it whole from its first part.
      const final = (): boolean => {
        const now = this.#state.container(item.engine, item.id);
        return !reading.again && (now === undefined || !RUNNING.has(now.state));
      };
      const watch = this.#whenStopped(item);
      try {
        await this.#stream(source, follow, controller.signal, final, watch.stopped);
      } finally {
        watch.cancel();
      }
    } catch (error) {
      if (controller.signal.aborted || this.#stopped) return;
      if (error instanceof EngineError && error.status === 404) outcome = 'gone';
      else if (error instanceof EngineError && /does not support reading/.test(error.engineMessage)) {
        const driver = await this.#driverOf(item.id);
        this.#store.setNote(source.id, `not collected: driver ${driver}`);
        this.#readers.set(item.id, { kind: 'not-collected', driver });
        return;
      } else {
        outcome = 'failed';
        // A quiet container's stream is cut by the client's idle timeout: read again, quietly.
        if (!/timeout/i.test((error as Error).message))
          this.#log.debug(
            { engine: item.engine, container: item.name, err: (error as Error).message },
            'log stream failed',
          );
      }
    }
    if (this.#stopped) return;
    this.#store.setNote(source.id, null);
    const current = this.#state.container(item.engine, item.id) ?? item;
    if (outcome === 'gone' || current.state === 'removed') {
      this.#readers.delete(item.id);
      this.#share.forget(source.id);
      return;
    }
    if (outcome === 'ended' && reading.again) {
      void this.#read(current, 0);
      return;
    }
    if (outcome === 'ended' && !RUNNING.has(current.state)) {
      this.#readers.set(item.id, { kind: 'done', startedAt: current.startedAt });
      return;
    }
    // Failed, or the stream ended while the container still runs (a cut, or the engine went
    // away): read again from the last line stored, later.
    const next = outcome === 'ended' ? 0 : attempt + 1;
    const delay = RETRY_MS[Math.min(next, RETRY_MS.length - 1)] as number;
    const timer = setTimeout(() => {
      const latest = this.#state.container(item.engine, item.id);
      if (latest === undefined) this.#readers.delete(item.id);
      else void this.#read(latest, next);
    }, delay);
    timer.unref();
    this.#readers.set(item.id, { kind: 'waiting', timer, attempt: next });
  }

  /** One request: from the resume point to the end (or, following, until the container stops). */
  async #stream(
    source: SourceRow,
    follow: boolean,
    signal: AbortSignal,
    final: () => boolean,
    stopped: Promise<void>,
  ): Promise<void> {
    const resume: Resume | undefined = this.#store.sourceById(source.id)?.resume;
    const since = resume === undefined ? undefined : sinceParam(resume.ms, resume.sub);
    let skip = resume?.count ?? 0;
    let first = true;
    const assembler = new LineAssembler();
    const take = (line: EngineLine): void => {
      if (resume !== undefined) {
        const order = compareTime(line, resume);
        if (first && order > 0) this.#gap(source, resume, line);
        first = false;
        if (order < 0) return;
        if (order === 0 && skip > 0) {
          skip--;
          return;
        }
      }
      if (this.#share.admit(source.id))
        this.#store.append(source.id, line.stream, line.ms, line.sub, line.text);
      else this.#store.drop(source.id, line.ms, line.sub);
    };
    const batches = this.#paths.batches(source.container, {
      follow,
      since: since ?? String(Math.floor((this.#now() - this.#firstLookMs) / 1000)),
      signal,
      stopped,
    });
    // A read at a time: a busy container's lines are taken without a promise each.
    for await (const frames of batches) {
      for (const frame of frames) for (const line of assembler.frame(frame)) take(line);
      if (this.#store.pressed) await this.#store.drained();
    }
    const partial = assembler.end();
    if (partial.length > 0 && final()) for (const line of partial) take(line);
  }

  /**
   * Settles when the container is seen stopped (or started again) after this read began: a
   * follow of its files ends there, as the engine's stream does. `cancel` when the read is over.
   */
  #whenStopped(item: ContainerItem): { readonly stopped: Promise<void>; cancel(): void } {
    let cancel = (): void => {};
    const stopped = new Promise<void>((resolve) => {
      const unsubscribe = this.#state.subscribe((change) => {
        if (change.kind !== 'container' || change.item.engine !== item.engine || change.item.id !== item.id)
          return;
        if (!RUNNING.has(change.item.state) || change.item.startedAt !== item.startedAt) {
          unsubscribe();
          resolve();
        }
      });
      cancel = unsubscribe;
    });
    return { stopped, cancel };
  }

  /**
   * The first line after a resume is newer than the last one stored: the engine no longer has
   * that line (its json-file was rotated away while nobody read it), so lines between may be lost.
   */
  #gap(source: SourceRow, resume: Resume, next: EngineLine): void {
    const seconds = (next.ms - resume.ms) / 1000;
    const text = `[dockgate] gap: the engine no longer has this container's lines between ${new Date(resume.ms).toISOString()} and ${new Date(next.ms).toISOString()} (${seconds.toFixed(1)} s): rotated away before they were read`;
    this.#store.mark(source.id, next.ms, text, { gap: true });
    this.#log.warn(
      { engine: source.engine, container: source.name, seconds },
      'log gap: lines rotated away before they were read',
    );
  }

  async #driverOf(id: string): Promise<string> {
    try {
      const inspect = (await this.#watcher.client.containers.inspect(id)) as {
        HostConfig?: { LogConfig?: { Type?: string } };
      };
      return inspect.HostConfig?.LogConfig?.Type ?? 'unknown';
    } catch {
      return 'unknown';
    }
  }
}
