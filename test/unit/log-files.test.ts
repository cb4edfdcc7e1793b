import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type FileLogEntry,
  fixedTime,
  nanosTime,
  shiftTime,
  unixParamTime,
} from '../../src/engine/log-files/file-entry.js';
import { JSON_FILE, LOCAL } from '../../src/engine/log-files/file-formats.js';

/** A `local` driver record as dockerd writes it: [u32 size][LogEntry][u32 size]. */
function localRecord(source: string, nanos: bigint, line: string, partial?: { last: boolean }): Buffer {
  const varint = (value: bigint): number[] => {
    const out: number[] = [];
    let v = value;
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      out.push(byte);
    } while (v > 0n);
    return out;
  };
  const bytes = (field: number, body: Buffer): number[] => [
    (field << 3) | 2,
    ...varint(BigInt(body.length)),
    ...body,
  ];
  const meta = partial === undefined ? [] : bytes(5, Buffer.from([0x08, partial.last ? 1 : 0]));
  const entry = Buffer.from([
    ...bytes(1, Buffer.from(source)),
    0x10,
    ...varint(nanos),
    ...bytes(3, Buffer.from(line)),
    ...(partial === undefined ? [] : [0x20, 1]),
    ...meta,
  ]);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(entry.length);
  return Buffer.concat([size, entry, size]);
}

const show = (entries: FileLogEntry[]): string[] =>
  entries.map((e) => `${e.stream} ${e.time} ${JSON.stringify(e.text.toString())}`);

/** Every way of cutting `bytes` in two reads gives the same entries as one read. */
function assertCutAnywhere(format: typeof JSON_FILE, bytes: Buffer): string[] {
  const whole: FileLogEntry[] = [];
  format.decoder().decode(bytes, whole);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const decoder = format.decoder();
    const out: FileLogEntry[] = [];
    decoder.decode(bytes.subarray(0, cut), out);
    decoder.decode(bytes.subarray(cut), out);
    assert.deepEqual(show(out), show(whole), `cut at ${cut}`);
  }
  return show(whole);
}

describe('log file formats', () => {
  it('json-file: lines cut anywhere between reads decode the same; times get nine digits', () => {
    const bytes = Buffer.from(
      [
        '{"log":"héllo\\n","stream":"stdout","time":"2026-12-07T13:27:13.1234Z"}',
        '{"log":"part","stream":"stderr","time":"2026-12-07T13:27:14Z"}',
        'not json: a line cut by a crash',
        '{"log":"end\\n","stream":"stderr","attrs":{"a":"b"},"time":"2026-12-07T13:27:14.000000001Z"}',
        '',
      ].join('\n'),
    );
    assert.deepEqual(assertCutAnywhere(JSON_FILE, bytes), [
      'stdout 2026-12-07T13:27:13.123400000Z "héllo\\n"',
      'stderr 2026-12-07T13:27:14.000000000Z "part"',
      'stderr 2026-12-07T13:27:14.000000001Z "end\\n"',
    ]);
    assert.equal(JSON_FILE.recordTime(bytes), '2026-12-07T13:27:13.123400000Z');
    assert.equal(JSON_FILE.recordLength(bytes), bytes.indexOf('\n') + 1);
  });

  it("local: records cut anywhere decode the same; a partial message's pieces end with its last", () => {
    const t = 1_796_650_033_123_456_789n;
    const bytes = Buffer.concat([
      localRecord('stdout', t, 'hello'),
      localRecord('stderr', t + 1n, 'first piece', { last: false }),
      localRecord('stderr', t + 2n, 'last piece', { last: true }),
    ]);
    assert.deepEqual(assertCutAnywhere(LOCAL, bytes), [
      `stdout ${nanosTime(t)} "hello\\n"`,
      `stderr ${nanosTime(t + 1n)} "first piece"`,
      `stderr ${nanosTime(t + 2n)} "last piece\\n"`,
    ]);
    assert.equal(LOCAL.recordTime(bytes), nanosTime(t));
  });

  it('times: Go times, epoch nanoseconds and the API since all print as the engine does', () => {
    assert.equal(fixedTime('2026-12-07T13:27:13Z'), '2026-12-07T13:27:13.000000000Z');
    assert.equal(fixedTime('2026-12-07T13:27:13.5Z'), '2026-12-07T13:27:13.500000000Z');
    assert.equal(fixedTime('2026-12-07T14:27:13.5+01:00'), '2026-12-07T13:27:13.500000000Z');
    assert.throws(() => fixedTime('yesterday'), /not an RFC 3339 time/);
    assert.equal(nanosTime(1_000_000_001n), '1970-01-01T00:00:01.000000001Z');
    assert.equal(unixParamTime('1796650033.5'), '2026-12-07T13:27:13.500000000Z');
    assert.equal(unixParamTime('1796650033'), '2026-12-07T13:27:13.000000000Z');
    assert.equal(unixParamTime('15m'), undefined);
    assert.equal(unixParamTime('1.2.3'), undefined);
    assert.equal(shiftTime('2026-12-07T13:27:13.500000123Z', -2000), '2026-12-07T13:27:11.500000123Z');
  });
});
