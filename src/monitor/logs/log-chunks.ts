import { deflateRawSync, inflateRawSync } from 'node:zlib';

/** One line as a chunk keeps it: id, stream (0 stdout, 1 stderr, 2 dockgate), ns within the ms, text. */
export type ChunkEntry = readonly [id: number, stream: number, sub: number, text: string];

/** At most this many lines in a chunk. */
export const CHUNK_LINES = 128;
/**
 * A chunk's lines lie within this span of engine time (ms): a search knows which chunks can hold
 * lines before or after a point (log-store.ts).
 */
export const CHUNK_SPAN_MS = 5_000;
/** Open lines older than this (by the monitor's clock) are sealed even if fewer: open lines are searched without the index. */
export const SEAL_AFTER_MS = 1_000;

/**
 * A run of one container's lines, compressed together (deflate): log lines repeat themselves
 * (keys, paths, stack frames), and alone a short line barely compresses; 128 together come to a
 * sixth of their size (bench/results/logs-store-*.md), for ~3 µs a line.
 */
export function encodeChunk(entries: readonly ChunkEntry[]): Buffer {
  return deflateRawSync(JSON.stringify(entries));
}

export function decodeChunk(data: Buffer): ChunkEntry[] {
  return JSON.parse(inflateRawSync(data).toString('utf8')) as ChunkEntry[];
}

/** Splits one source's open lines (in id order) into chunks by count and span. */
export function splitChunks(entries: readonly ChunkEntry[], slot: number): ChunkEntry[][] {
  const out: ChunkEntry[][] = [];
  let current: ChunkEntry[] = [];
  for (const entry of entries) {
    const first = current[0];
    if (
      first !== undefined &&
      (current.length >= CHUNK_LINES ||
        Math.floor(entry[0] / slot) - Math.floor(first[0] / slot) > CHUNK_SPAN_MS)
    ) {
      out.push(current);
      current = [];
    }
    current.push(entry);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Decoded chunks, the most recently used kept (a page's hits often share chunks). */
export class ChunkCache {
  readonly #max: number;
  readonly #map = new Map<number, Map<number, ChunkEntry>>();

  constructor(max = 512) {
    this.#max = max;
  }

  get(id: number, load: () => Buffer): Map<number, ChunkEntry> {
    const hit = this.#map.get(id);
    if (hit !== undefined) {
      this.#map.delete(id);
      this.#map.set(id, hit);
      return hit;
    }
    const entries = new Map(decodeChunk(load()).map((e) => [e[0], e] as const));
    this.#map.set(id, entries);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as number);
    return entries;
  }

  drop(id: number): void {
    this.#map.delete(id);
  }
}
