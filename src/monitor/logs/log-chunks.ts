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
/**
 * Open lines older than this (by the monitor's clock) are sealed even if fewer: open lines are
 * searched without the index. (250 ms was measured too: 15.4 % against 20.3 % CPU at 50
 * containers, but 27.7 % against 26.5 % at 100 — within this machine's noise — for smaller chunks.)
 */
export const SEAL_AFTER_MS = 1_000;

/**
 * A run of one container's lines, compressed together (deflate at level 3: as small as the default here, faster; sealing is
 * most of the monitor's work at 20 000 lines/s). Log lines repeat themselves (keys, paths, stack
 * frames): alone a short line barely compresses, 128 together come to a fraction of their size
 * (bench/results/logs-store-*.md). The layout: one JSON line of ids (as steps from the first),
 * streams and nanoseconds, then the texts, one per line as they are (a line never holds a
 * newline: lines are split at them) — no escaping of the quotes JSON logs are full of.
 */
export function encodeChunk(entries: readonly ChunkEntry[], texts = chunkText(entries)): Buffer {
  let previous = 0;
  const steps = entries.map((e, i) => {
    const step = i === 0 ? e[0] : e[0] - previous;
    previous = e[0];
    return step;
  });
  const head = JSON.stringify([steps, entries.map((e) => e[1]).join(''), entries.map((e) => e[2])]);
  return deflateRawSync(`${head}\n${texts}`, { level: 3 });
}

/** The texts of a chunk's lines, one per line (also what the index reads). */
export function chunkText(entries: readonly ChunkEntry[]): string {
  return entries.map((e) => e[3]).join('\n');
}

export function decodeChunk(data: Buffer): ChunkEntry[] {
  const text = inflateRawSync(data).toString('utf8');
  const nl = text.indexOf('\n');
  const [steps, streams, subs] = JSON.parse(text.slice(0, nl)) as [number[], string, number[]];
  const texts = text.slice(nl + 1).split('\n');
  let id = 0;
  return steps.map((step, i) => {
    id += step;
    return [id, Number(streams[i]), subs[i] as number, texts[i] ?? ''] as const;
  });
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
