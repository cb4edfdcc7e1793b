import { type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type FileLogEntry, type FileLogFormat, shiftTime } from './file-entry.js';
import { type FileFormat, fileFormat } from './file-formats.js';

/**
 * Reads a container's log from the files its logging driver writes on the host (json-file or
 * local), as the Engine API's logs endpoint would answer — the same entries, times and order —
 * without asking dockerd for them: the monitor's agent path (docs/logs.md). Rotated files
 * (`x.log.1`, `x.log.2.gz`, …) are read oldest first; a follow goes on across rotations and ends
 * once the container has stopped and the file is read to its end, as the engine's does.
 */
export interface LogFileRead {
  /** The live file (`…/<id>-json.log`, `…/local-logs/container.log`). */
  readonly path: string;
  readonly format: FileLogFormat;
  /** Entries at or after this time (fixed RFC 3339, see file-entry.ts). */
  readonly since?: string | undefined;
  /** Entries at or before this time; the first one after it ends the read. */
  readonly until?: string | undefined;
  readonly follow: boolean;
  /** Settles once the container has stopped: a follow then reads to the end and ends. */
  readonly stopped?: Promise<unknown> | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Bytes read at a time (a reader per followed container keeps one such buffer). */
const CHUNK = 64 * 1024;
/** The most read to find a file's first record (a json-file line of 16 KiB, escaped, fits). */
const PEEK_LIMIT = 1024 * 1024;
/**
 * dockerd stamps stdout and stderr in two goroutines, so neighbouring entries can be a little
 * out of order: the search by time starts this much earlier and the filter does the rest.
 */
const ORDER_MARGIN_MS = 2_000;
/**
 * A follow looks at the file this often without a change notice: inotify tells of every write
 * and rename on a local filesystem, so this is a safety net — unless the directory cannot be
 * watched (no inotify left, an odd filesystem), then the follow polls every POLL_MS.
 */
const WATCHED_POLL_MS = 10_000;
const POLL_MS = 1_000;
/** The shortest time between two reads of a followed file: lines written meanwhile come in one read. */
const FOLLOW_PACE_MS = 250;

/** A rotated file, open: a rename while it is read (the next rotation) does not change what is read. */
interface OlderFile {
  readonly handle: FileHandle;
  readonly gz: boolean;
  readonly first: Buffer | undefined;
}

/** Attempts at a listing of rotated files that no rotation changed while it was taken. */
const LISTING_ATTEMPTS = 20;

export async function* readLogFiles(read: LogFileRead): AsyncGenerator<FileLogEntry[]> {
  const format = fileFormat(read.format);
  const filter = new TimeFilter(read.since, read.until);
  let handle = await open(read.path, 'r');
  const wake = new Waker(dirname(read.path), read.signal);
  let stopped = false;
  read.stopped?.then(
    () => {
      stopped = true;
      wake.wake();
    },
    () => {},
  );
  try {
    // Older files first: only those that can hold entries at or after `since`.
    const chain = await olderFiles(read.path, format, await firstRecord(handle, format));
    const start = await startOf(chain, handle, format, read.since);
    try {
      for (const file of chain.slice(start)) {
        for await (const batch of wholeFile(file, format)) {
          const kept = filter.keep(batch);
          if (kept.length > 0) yield kept;
          if (filter.ended) return;
        }
      }
    } finally {
      await closeAll(chain);
    }
    let offset =
      start === chain.length && read.since !== undefined && format.name === 'json-file'
        ? await seekTime(handle, format, shiftTime(read.since, -ORDER_MARGIN_MS))
        : 0;
    const decoder = format.decoder();
    const buffer = Buffer.allocUnsafe(CHUNK);
    let rotated = false;
    let checkedAt = Date.now();
    let readAt = 0;
    for (;;) {
      if (read.signal?.aborted === true) return;
      const stoppedBefore = stopped;
      readAt = Date.now();
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, offset);
      if (bytesRead > 0) {
        offset += bytesRead;
        const out: FileLogEntry[] = [];
        decoder.decode(buffer.subarray(0, bytesRead), out);
        const kept = filter.keep(out);
        if (kept.length > 0) yield kept;
        if (filter.ended) return;
        // A short read of a followed file reached its end for now: wait, rather than read again
        // to be told so (half the reads of a busy log).
        if (bytesRead === CHUNK || !read.follow || stopped || rotated) continue;
      }
      // At the end of the file: renamed away (rotated), truncated, or just not written yet. A
      // follow looks (two stats) when the directory saw a rename, or once a poll interval.
      const look =
        !read.follow ||
        stoppedBefore ||
        rotated ||
        wake.takeRenamed() ||
        Date.now() - checkedAt >= wake.pollMs;
      if (look) checkedAt = Date.now();
      if (look && (await replaced(handle, read.path))) {
        // dockerd may have written to it between that read and the rename: read it once more.
        if (!rotated) {
          rotated = true;
          continue;
        }
        rotated = false;
        const next = await open(read.path, 'r').catch(() => undefined);
        if (next !== undefined) {
          const newer = await newerFiles(read.path, format, handle, next, filter.lastTime);
          await handle.close();
          handle = next;
          offset = 0;
          decoder.reset();
          try {
            for (const file of newer) {
              for await (const batch of wholeFile(file, format)) {
                const kept = filter.keep(batch);
                if (kept.length > 0) yield kept;
                if (filter.ended) return;
              }
            }
          } finally {
            await closeAll(newer);
          }
          continue;
        }
      } else if (look && (await handle.stat()).size < offset) {
        offset = 0; // truncated in place (`truncate -s 0` on the log): start over
        decoder.reset();
        continue;
      }
      if (!read.follow || stoppedBefore) return;
      if (!stopped) await wake.wait(wake.pollMs);
      // A busy log is read at most every FOLLOW_PACE_MS: dockerd writes each message on its own,
      // and a read per write cost the gateway half a core at 13 000 lines/s (bench/results).
      const early = FOLLOW_PACE_MS - (Date.now() - readAt);
      if (early > 0 && !stopped) await wake.pause(early);
    }
  } finally {
    wake.close();
    await handle.close().catch(() => {});
  }
}

/** since/until applied to entries in file order; `lastTime` is the newest time decoded. */
class TimeFilter {
  readonly #since: string | undefined;
  readonly #until: string | undefined;
  ended = false;
  lastTime: string | undefined;

  constructor(since: string | undefined, until: string | undefined) {
    this.#since = since;
    this.#until = until;
  }

  keep(entries: FileLogEntry[]): FileLogEntry[] {
    const last = entries.at(-1);
    if (last !== undefined) this.lastTime = last.time;
    if (this.#since === undefined && this.#until === undefined) return entries;
    const kept: FileLogEntry[] = [];
    for (const entry of entries) {
      if (this.#until !== undefined && entry.time > this.#until) {
        this.ended = true;
        break;
      }
      if (this.#since === undefined || entry.time >= this.#since) kept.push(entry);
    }
    return kept;
  }
}

/**
 * Rotated files of `path`, open, oldest first (`.3.gz`, `.2`, `.1`), the live one left out.
 * dockerd renames every rotated file at each rotation, so the listing is taken again until no
 * name moved while the files were opened.
 */
async function olderFiles(path: string, format: FileFormat, live: Buffer | undefined): Promise<OlderFile[]> {
  let files: OlderFile[] = [];
  for (let attempt = 0; attempt < LISTING_ATTEMPTS; attempt++) {
    const names = await rotatedNames(path);
    const opened: (OlderFile & { readonly name: string; readonly ino: number })[] = [];
    for (const name of names) {
      const handle = await open(join(dirname(path), name), 'r').catch(() => undefined);
      if (handle === undefined) continue; // moved or removed meanwhile: the check below retries
      const gz = name.endsWith('.gz');
      const first = await peekFile(handle, gz, format).catch(() => undefined);
      opened.push({ handle, gz, first, name, ino: (await handle.stat()).ino });
    }
    const again = await rotatedNames(path);
    const moved =
      again.join('/') !== names.join('/') ||
      opened.length !== names.length ||
      (
        await Promise.all(
          opened.map(
            async (file) => (await stat(join(dirname(path), file.name)).catch(() => undefined))?.ino,
          ),
        )
      ).some((ino, i) => ino !== opened[i]?.ino);
    files = opened;
    if (!moved || attempt === LISTING_ATTEMPTS - 1) break;
    await closeAll(opened);
  }
  // The live file renamed since it was opened: it is read through its handle, not twice.
  const at = live === undefined ? -1 : files.findIndex((file) => file.first?.equals(live) === true);
  if (at !== -1) {
    await closeAll(files.slice(at));
    files = files.slice(0, at);
  }
  return files.filter((file) => file.first !== undefined);
}

/** `x.log.N` and `x.log.N.gz` beside `x.log`, the highest N (the oldest) first. */
async function rotatedNames(path: string): Promise<string[]> {
  const base = basename(path);
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  const numbered: { n: number; name: string }[] = [];
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const match = /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1));
    if (match !== null) numbered.push({ n: Number(match[1]), name });
  }
  return numbered.sort((a, b) => b.n - a.n).map((entry) => entry.name);
}

async function closeAll(files: readonly OlderFile[]): Promise<void> {
  await Promise.all(files.map((file) => file.handle.close().catch(() => {})));
}

/** Index in `chain` (+ the live file last) of the newest file starting before `since`. */
async function startOf(
  chain: readonly OlderFile[],
  live: FileHandle,
  format: FileFormat,
  since: string | undefined,
): Promise<number> {
  if (since === undefined) return 0;
  const before = shiftTime(since, -ORDER_MARGIN_MS);
  const liveFirst = await firstRecord(live, format);
  const liveTime = liveFirst === undefined ? undefined : format.recordTime(liveFirst);
  if (liveTime !== undefined && liveTime < before) return chain.length;
  for (let i = chain.length - 1; i >= 0; i--) {
    const first = chain[i]?.first;
    const time = first === undefined ? undefined : format.recordTime(first);
    if (time !== undefined && time < before) return i;
  }
  return 0;
}

/**
 * After a rotation: the files written since the one just read, oldest first (more than one if
 * it was rotated again meanwhile). Found by that file's first record; if it is gone, by time.
 */
async function newerFiles(
  path: string,
  format: FileFormat,
  old: FileHandle,
  live: FileHandle,
  lastTime: string | undefined,
): Promise<OlderFile[]> {
  const mine = await firstRecord(old, format);
  const rotated = await olderFiles(path, format, await firstRecord(live, format));
  const at = mine === undefined ? -1 : rotated.findIndex((file) => file.first?.equals(mine) === true);
  const newer =
    at !== -1
      ? rotated.slice(at + 1)
      : rotated.filter((file) => {
          const time = file.first === undefined ? undefined : format.recordTime(file.first);
          return lastTime === undefined || (time !== undefined && time > lastTime);
        });
  await closeAll(rotated.filter((file) => !newer.includes(file)));
  return newer;
}

async function replaced(handle: FileHandle, path: string): Promise<boolean> {
  const [mine, now] = await Promise.all([handle.stat(), stat(path).catch(() => undefined)]);
  return now === undefined || now.ino !== mine.ino || now.dev !== mine.dev;
}

/** The first whole record of an open file, undefined while it is empty. */
async function firstRecord(handle: FileHandle, format: FileFormat): Promise<Buffer | undefined> {
  for (let size = 64 * 1024; size <= PEEK_LIMIT; size *= 4) {
    const buffer = Buffer.alloc(size);
    const { bytesRead } = await handle.read(buffer, 0, size, 0);
    const length = format.recordLength(buffer.subarray(0, bytesRead));
    if (length !== undefined) return buffer.subarray(0, length);
    if (bytesRead < size) return undefined;
  }
  return undefined;
}

/** The first whole record of a rotated file (decompressed as needed). */
async function peekFile(handle: FileHandle, gz: boolean, format: FileFormat): Promise<Buffer | undefined> {
  if (!gz) return firstRecord(handle, format);
  let bytes = Buffer.alloc(0);
  const source = Readable.from(chunksOf(handle, 64 * 1024));
  const stream = source.pipe(createGunzip());
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes = Buffer.concat([bytes, chunk]);
      const length = format.recordLength(bytes);
      if (length !== undefined) return bytes.subarray(0, length);
      if (bytes.length > PEEK_LIMIT) return undefined;
    }
    return undefined;
  } finally {
    source.destroy();
    stream.destroy();
  }
}

async function* wholeFile(file: OlderFile, format: FileFormat): AsyncGenerator<FileLogEntry[]> {
  const decoder = format.decoder();
  const source = Readable.from(chunksOf(file.handle, CHUNK));
  const stream = file.gz ? source.pipe(createGunzip()) : source;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const out: FileLogEntry[] = [];
      decoder.decode(chunk, out);
      if (out.length > 0) yield out;
    }
  } finally {
    source.destroy();
    stream.destroy();
  }
}

/** A file's bytes from its start, through its handle (which stays open: its owner closes it). */
async function* chunksOf(handle: FileHandle, size: number): AsyncGenerator<Buffer> {
  for (let position = 0; ; ) {
    const buffer = Buffer.allocUnsafe(size);
    const { bytesRead } = await handle.read(buffer, 0, size, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/**
 * The offset of a json-file line start such that every line before it is older than `target`
 * (binary search on the lines' times): a resume in a large file does not read it from the start,
 * which dockerd's own reader does.
 */
async function seekTime(handle: FileHandle, format: FileFormat, target: string): Promise<number> {
  const probe = Buffer.allocUnsafe(128 * 1024);
  let lo = 0;
  let hi = (await handle.stat()).size;
  while (hi - lo > probe.length) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const { bytesRead } = await handle.read(probe, 0, probe.length, mid);
    const bytes = probe.subarray(0, bytesRead);
    const newline = bytes.indexOf(0x0a);
    if (newline === -1) break;
    const start = mid + newline + 1;
    const time = format.recordTime(bytes.subarray(newline + 1));
    if (time === undefined || start >= hi) break;
    if (time < target) lo = start;
    else hi = mid;
  }
  return lo;
}

/** Wakes a waiting follow on a change in the log's directory (inotify), or after a while. */
class Waker {
  #watcher: FSWatcher | undefined;
  #resolve: (() => void) | undefined;
  #paused: (() => void) | undefined;
  #changed = false;
  #renamed = false;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.wake();

  constructor(dir: string, signal: AbortSignal | undefined) {
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    try {
      this.#watcher = watch(dir, { persistent: false }, (event) => {
        if (event === 'rename') this.#renamed = true;
        this.#changed = true;
        this.wake();
      });
      this.#watcher.on('error', () => {
        this.#watcher?.close();
        this.#watcher = undefined; // polling goes on
      });
    } catch {
      this.#watcher = undefined; // no inotify (limit reached, odd filesystem): poll
    }
  }

  wait(ms: number): Promise<void> {
    if (this.#changed) {
      this.#changed = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), ms);
      this.#resolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** How long a follow waits for a notice before it looks anyway. */
  get pollMs(): number {
    return this.#watcher === undefined ? POLL_MS : WATCHED_POLL_MS;
  }

  /** Whether a file of the directory was created, renamed or removed since last asked. */
  takeRenamed(): boolean {
    const renamed = this.#renamed;
    this.#renamed = false;
    return renamed;
  }

  /** Waits `ms` whatever changes meanwhile (ended early only by an abort or close). */
  pause(ms: number): Promise<void> {
    if (this.#signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        this.#signal?.removeEventListener('abort', end);
        this.#paused = undefined;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.#signal?.addEventListener('abort', end, { once: true });
      this.#paused = end;
    });
  }

  wake(): void {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    if (resolve === undefined) this.#changed = true;
    else {
      this.#changed = false;
      resolve();
    }
  }

  close(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#watcher?.close();
    this.#paused?.();
    this.wake();
  }
}
