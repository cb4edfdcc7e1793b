import { type FileLogEntry, type FileLogFormat, fixedTime, nanosTime } from './file-entry.js';

/**
 * Turns a log file's bytes into entries, a read at a time: a record cut by the end of a read
 * waits for the next one. `record` finds where the first whole record of a buffer ends (for a
 * file's identity and the search by time).
 */
export interface LogDecoder {
  /** Appends the whole records of `chunk` (and of what was left before it) to `out`. */
  decode(chunk: Buffer, out: FileLogEntry[]): void;
  /** Forgets a cut record (the next bytes come from another file or offset). */
  reset(): void;
}

export interface FileFormat {
  readonly name: FileLogFormat;
  decoder(): LogDecoder;
  /** The byte length of the whole record at the start of `bytes`, or undefined if cut. */
  recordLength(bytes: Buffer): number | undefined;
  /** The time of the record at the start of `bytes` (whole, see recordLength). */
  recordTime(bytes: Buffer): string | undefined;
}

const NEWLINE = 0x0a;

interface JsonLine {
  log?: string;
  stream?: string;
  time?: string;
}

function jsonEntry(line: string): FileLogEntry | undefined {
  let parsed: JsonLine;
  try {
    parsed = JSON.parse(line) as JsonLine;
  } catch {
    return undefined; // a line cut by a crash mid-write: the engine skips it too
  }
  if (typeof parsed.log !== 'string' || typeof parsed.time !== 'string') return undefined;
  return {
    stream: parsed.stream === 'stderr' ? 'stderr' : 'stdout',
    time: fixedTime(parsed.time),
    text: Buffer.from(parsed.log),
  };
}

/**
 * json-file: one JSON object per line, `{"log":"text\n","stream":"stdout","time":"…Z"}`; the
 * text holds its own newline (none on a partial message), exactly the bytes the API sends.
 */
export const JSON_FILE: FileFormat = {
  name: 'json-file',
  decoder() {
    let rest: Buffer | undefined;
    return {
      decode(chunk, out) {
        const bytes = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
        let start = 0;
        for (let end = bytes.indexOf(NEWLINE); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
          const entry = jsonEntry(bytes.toString('utf8', start, end));
          if (entry !== undefined) out.push(entry);
          start = end + 1;
        }
        rest = start < bytes.length ? Buffer.from(bytes.subarray(start)) : undefined;
      },
      reset() {
        rest = undefined;
      },
    };
  },
  recordLength(bytes) {
    const end = bytes.indexOf(NEWLINE);
    return end === -1 ? undefined : end + 1;
  },
  recordTime(bytes) {
    const end = bytes.indexOf(NEWLINE);
    const line = bytes.toString('utf8', 0, end === -1 ? bytes.length : end);
    // The time is the last field dockerd writes: found without parsing a long line.
    const at = line.lastIndexOf('"time":"');
    if (at === -1) return undefined;
    const close = line.indexOf('"', at + 8);
    try {
      return close === -1 ? undefined : fixedTime(line.slice(at + 8, close));
    } catch {
      return undefined;
    }
  },
};

// ── local: length-framed protobuf (moby daemon/logger/local) ─────────────────────────────────

/** Each record is `[u32 size][LogEntry][u32 size]`, sizes big-endian. */
const FRAME = 4;

/**
 * The four fields of moby's `LogEntry` the API uses (api/types/plugins/logdriver/entry.proto):
 * 1 source (string), 2 time_nano (int64), 3 line (bytes), 4 partial (bool) and 5
 * partial_log_metadata { 1 last (bool) }. Decoded by hand: a protobuf library would be a
 * dependency and a schema file for five fields whose wire format is fixed.
 */
function localEntry(bytes: Buffer, start: number, end: number): FileLogEntry | undefined {
  let pos = start;
  let stream: 'stdout' | 'stderr' = 'stdout';
  let nanos = 0n;
  let line = Buffer.alloc(0);
  let partial = false;
  let last = false;
  const varint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      const byte = bytes[pos++];
      if (byte === undefined || pos > end) throw new Error('cut varint');
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7n;
    }
  };
  try {
    while (pos < end) {
      const key = Number(varint());
      const field = key >> 3;
      const wire = key & 7;
      if (wire === 0) {
        const value = varint();
        if (field === 2) nanos = BigInt.asIntN(64, value);
        else if (field === 4) partial = value !== 0n;
      } else if (wire === 2) {
        const length = Number(varint());
        const body = bytes.subarray(pos, pos + length);
        pos += length;
        if (pos > end) return undefined;
        if (field === 1) stream = body.toString('latin1') === 'stderr' ? 'stderr' : 'stdout';
        else if (field === 3) line = Buffer.from(body);
        else if (field === 5) last = metadataLast(body);
      } else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else return undefined;
    }
  } catch {
    return undefined;
  }
  // The engine's reader ends every message but a partial one that is not the last with `\n`.
  const text = partial && !last ? line : Buffer.concat([line, Buffer.from('\n')]);
  return { stream, time: nanosTime(nanos), text };
}

function metadataLast(body: Buffer): boolean {
  // field 1 (last), varint: key byte 0x08 then the value; other fields are skipped.
  for (let i = 0; i + 1 < body.length; ) {
    const key = body[i] as number;
    if (key === 0x08) return body[i + 1] !== 0;
    const wire = key & 7;
    if (wire === 2) i += 2 + (body[i + 1] as number);
    else if (wire === 0) {
      i += 1;
      while (i < body.length && ((body[i] as number) & 0x80) !== 0) i++;
      i++;
    } else return false;
  }
  return false;
}

function localLength(bytes: Buffer, at = 0): number | undefined {
  if (bytes.length - at < FRAME) return undefined;
  const size = bytes.readUInt32BE(at);
  const total = FRAME + size + FRAME;
  return bytes.length - at < total ? undefined : total;
}

export const LOCAL: FileFormat = {
  name: 'local',
  decoder() {
    let rest: Buffer | undefined;
    return {
      decode(chunk, out) {
        const bytes = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
        let start = 0;
        for (let total = localLength(bytes, start); total !== undefined; total = localLength(bytes, start)) {
          const entry = localEntry(bytes, start + FRAME, start + total - FRAME);
          if (entry !== undefined) out.push(entry);
          start += total;
        }
        rest = start < bytes.length ? Buffer.from(bytes.subarray(start)) : undefined;
      },
      reset() {
        rest = undefined;
      },
    };
  },
  recordLength: (bytes) => localLength(bytes),
  recordTime(bytes) {
    const total = localLength(bytes);
    return total === undefined ? undefined : localEntry(bytes, FRAME, total - FRAME)?.time;
  },
};

export function fileFormat(driver: FileLogFormat): FileFormat {
  return driver === 'local' ? LOCAL : JSON_FILE;
}
