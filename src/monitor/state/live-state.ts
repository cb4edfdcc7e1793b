import type { ContainerItem } from '../model/container.js';

export type EngineStatus = 'connecting' | 'up' | 'degraded' | 'down';

/** An engine as `GET /api/v1/engines` shows it (docs/monitor.md). */
export interface EngineView {
  readonly name: string;
  readonly url: string;
  readonly status: EngineStatus;
  /** Since when it has had this status (ISO 8601 UTC). */
  readonly since: string;
  readonly error?: string;
  readonly version?: string;
  readonly apiVersion?: string;
  readonly containers: { readonly running: number; readonly total: number };
  readonly labels: Readonly<Record<string, string>>;
  /** How stats are read: a dockgate gateway's endpoint, cgroup files here, or the engine's stats API. */
  readonly statsPath?: 'gateway' | 'cgroup' | 'engine';
  /** How the kept logs are read: a dockgate gateway's file reader, log files here, or the engine. */
  readonly logsPath?: 'gateway' | 'files' | 'engine';
  /** The engine is reached through a dockgate gateway (it answered its stats endpoint). */
  readonly gateway?: boolean;
}

export type Change =
  | { readonly kind: 'container'; readonly item: ContainerItem }
  | { readonly kind: 'engine'; readonly engine: EngineView };

export interface ContainerFilter {
  readonly engine?: string | undefined;
  readonly state?: string | undefined;
  /** `key=value` or `key` (present), all must match. */
  readonly labels?: readonly string[] | undefined;
  /** Case-insensitive, over name, image, compose project and service. */
  readonly q?: string | undefined;
}

/**
 * Every engine's containers as they are now, in memory: what the API lists and the stream
 * sends. Engine watchers and the stats collector write it; a change (and only a change) goes to
 * the listeners — the stream, the history — at once.
 */
export class LiveState {
  readonly #engines = new Map<string, EngineView>();
  readonly #containers = new Map<string, Map<string, ContainerItem>>();
  readonly #listeners = new Set<(change: Change) => void>();

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  engines(): EngineView[] {
    return [...this.#engines.values()].map((e) => ({ ...e, containers: this.#counts(e.name) }));
  }

  engine(name: string): EngineView | undefined {
    const view = this.#engines.get(name);
    return view === undefined ? undefined : { ...view, containers: this.#counts(name) };
  }

  setEngine(view: EngineView): void {
    this.#engines.set(view.name, view);
    this.#emit({ kind: 'engine', engine: { ...view, containers: this.#counts(view.name) } });
  }

  /** Forgets an engine (removed from the config) and its containers. */
  dropEngine(name: string): void {
    this.#engines.delete(name);
    this.#containers.delete(name);
  }

  containers(filter: ContainerFilter = {}): ContainerItem[] {
    const out: ContainerItem[] = [];
    const engines =
      filter.engine === undefined
        ? [...this.#containers.values()]
        : [this.#containers.get(filter.engine) ?? new Map()];
    const q = filter.q?.toLowerCase();
    const labels = (filter.labels ?? []).map((l) => {
      const eq = l.indexOf('=');
      return eq < 0 ? ([l, undefined] as const) : ([l.slice(0, eq), l.slice(eq + 1)] as const);
    });
    for (const map of engines) {
      for (const item of map.values()) {
        if (filter.state !== undefined && item.state !== filter.state) continue;
        if (labels.some(([k, v]) => (v === undefined ? !(k in item.labels) : item.labels[k] !== v))) continue;
        if (
          q !== undefined &&
          !item.name.toLowerCase().includes(q) &&
          !item.image.toLowerCase().includes(q) &&
          !(item.compose?.project.toLowerCase().includes(q) ?? false) &&
          !(item.compose?.service.toLowerCase().includes(q) ?? false)
        )
          continue;
        out.push(item);
      }
    }
    return out;
  }

  container(engine: string, id: string): ContainerItem | undefined {
    return this.#containers.get(engine)?.get(id);
  }

  /**
   * A container by what people type, resolved as dockerd resolves it: full id, name (with or
   * without `/`), unique id prefix. `ambiguous` when a prefix matches several.
   */
  resolve(engine: string, ref: string): ContainerItem | undefined | 'ambiguous' {
    const map = this.#containers.get(engine);
    if (map === undefined) return undefined;
    const exact = map.get(ref);
    if (exact !== undefined) return exact;
    const name = ref.replace(/^\//, '');
    for (const item of map.values()) if (item.name === name) return item;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    let found: ContainerItem | undefined;
    for (const item of map.values()) {
      if (!item.id.startsWith(ref)) continue;
      if (found !== undefined) return 'ambiguous';
      found = item;
    }
    return found;
  }

  /** Sets a container's item; listeners hear of it only when something they see changed. */
  upsert(item: ContainerItem): boolean {
    let map = this.#containers.get(item.engine);
    if (map === undefined) {
      map = new Map();
      this.#containers.set(item.engine, map);
    }
    const before = map.get(item.id);
    if (item.state === 'removed') map.delete(item.id);
    else map.set(item.id, item);
    if (before !== undefined && sameItem(before, item)) return false;
    this.#emit({ kind: 'container', item });
    // The engine's counts changed with it: its view goes out too.
    const view = this.#engines.get(item.engine);
    if (view !== undefined && (before === undefined || before.state !== item.state)) {
      this.#emit({ kind: 'engine', engine: { ...view, containers: this.#counts(item.engine) } });
    }
    return true;
  }

  #counts(engine: string): { running: number; total: number } {
    let running = 0;
    let total = 0;
    for (const item of this.#containers.get(engine)?.values() ?? []) {
      total++;
      if (item.state === 'running') running++;
    }
    return { running, total };
  }

  #emit(change: Change): void {
    for (const listener of this.#listeners) listener(change);
  }
}

/** Two items show the same thing (labels compared by content). */
export function sameItem(a: ContainerItem, b: ContainerItem): boolean {
  for (const key of Object.keys(a) as (keyof ContainerItem)[]) {
    if (key === 'labels' || key === 'compose') continue;
    if (a[key] !== b[key]) return false;
  }
  return (
    JSON.stringify(a.labels) === JSON.stringify(b.labels) &&
    JSON.stringify(a.compose) === JSON.stringify(b.compose)
  );
}
