import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { EngineError } from '../../src/client/errors.js';
import { manualClock } from '../../src/clock.js';
import { isoNanos, LineAssembler, parseStamped, sinceParam } from '../../src/monitor/logs/engine-lines.js';
import { FairShare, waterFill } from '../../src/monitor/logs/fair-share.js';
import { gatewayAnswer } from '../../src/monitor/logs/log-paths.js';
import { compileQuery, lowerLiterals } from '../../src/monitor/logs/log-query.js';
import { type LineKey, type LogSearch, LogStore, parseKey } from '../../src/monitor/logs/log-store.js';

const log = pino({ level: 'silent' });
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const frame = (text: string, stream: 'stdout' | 'stderr' = 'stdout') => ({ stream, data: Buffer.from(text) });

describe('engine lines', () => {
  it('keeps the engine time to the nanosecond and gives it back as since', () => {
    const line = parseStamped('stdout', '2026-12-01T08:00:00.123456789Z hello world');
    assert.deepEqual(
      [line.ms, line.sub, line.text],
      [Date.UTC(2026, 11, 1, 8, 0, 0, 123), 456789, 'hello world'],
    );
    assert.equal(sinceParam(line.ms, line.sub), `${Date.UTC(2026, 11, 1, 8) / 1000}.123456789`);
    assert.equal(isoNanos(line.ms, line.sub), '2026-12-01T08:00:00.123456789Z');
    assert.equal(parseStamped('stdout', '2026-12-01T08:00:00Z x').sub, 0);
  });

  it('joins partial messages (same time, no newline) and cuts a line over 64 KiB with a marker', () => {
    const a = new LineAssembler();
    const part = 'x'.repeat(16 * 1024);
    const stamp = '2026-12-01T08:00:00.000000001Z ';
    const out = [];
    for (let i = 0; i < 5; i++) out.push(...a.frame(frame(`${stamp}${part}`)));
    assert.equal(out.length, 0);
    out.push(...a.frame(frame(`${stamp}tail\n`)));
    assert.equal(out.length, 1);
    assert.equal(out[0]?.text, `${'x'.repeat(64 * 1024)} …[dockgate: line cut, ${16 * 1024 + 4} more bytes]`);
    // stdout and stderr partials are apart; a raw (TTY) stream splits at newlines.
    assert.deepEqual(
      a.frame(frame('2026-12-01T08:00:00.1Z short\n', 'stderr')).map((l) => [l.stream, l.text]),
      [['stderr', 'short']],
    );
    const raw = a.frame({
      stream: 'stdout',
      data: Buffer.from('2026-12-01T08:00:00.1Z one\r\n2026-12-01T08:00:00.2Z tw'),
      raw: true,
    });
    assert.deepEqual(
      raw.map((l) => l.text),
      ['one'],
    );
    assert.deepEqual(
      a.end().map((l) => l.text),
      ['tw'],
    );
  });

  it('never cuts a character in half', () => {
    const a = new LineAssembler();
    const line = a.frame(frame(`2026-12-01T08:00:00Z ${'é'.repeat(40_000)}\n`))[0];
    assert.ok(line?.text.startsWith('é'));
    assert.ok(!line?.text.includes('\uFFFD'));
  });
});

describe('log query', () => {
  it('words are ANDed prefixes, phrases as written, -word excludes, /regex/ decides last', () => {
    const q = compileQuery('error "connection refused" -debug /t[io]meout/i ERR_ req-7f3a');
    assert.equal(q.match, '"error"* AND "connection"* AND "refused"* AND "err_"* AND "req"* AND "7f3a"*');
    assert.ok(q.test('ERROR: Connection refused ERR_CONN after TIMEOUT req-7f3a9'));
    assert.ok(!q.test('error connection refused debug ERR_x timeout req-7f3a'), 'excluded');
    assert.ok(!q.test('error refused connection ERR_x timeout req-7f3a'), 'the phrase as written');
    assert.ok(!q.test('error "connection refused" ERR_x timeout req 7f3a'), 'req-7f3a as written');
    assert.ok(compileQuery('').all);
    assert.equal(compileQuery('/x/').match, undefined);
    assert.ok(compileQuery('Ünïcode').test('unicode here'), 'accents and case folded as the index does');
  });

  it('refuses what it cannot run in linear time, and says why', () => {
    assert.throws(() => compileQuery('/(a)\\1/'), /linear time/);
    assert.throws(() => compileQuery('/a/g'), /flag i only/);
    assert.throws(() => compileQuery('/a/ /b/'), /one \/regex\//);
    assert.throws(() => compileQuery('x'.repeat(1001)), /1000 characters/);
    const slow = compileQuery('/(a+)+b/');
    assert.equal(slow.test(`${'a'.repeat(50_000)}c`), false);
    assert.equal(lowerLiterals('A\\W\\p{Lu}[B-Z]'), 'a\\W\\p{Lu}[b-z]');
  });
});

describe('fair share', () => {
  it('water-fills: small demands met, the rest shared', () => {
    const shares = waterFill(
      new Map([
        [1, 100],
        [2, 50_000],
        [3, 200],
      ]),
      1000,
    );
    assert.deepEqual([shares.get(1), shares.get(3), shares.get(2)], [100, 200, 700]);
  });

  it('a flood takes what the others leave, never their part, once its burst is spent; its excess is counted', () => {
    const share = new FairShare(1000);
    let floodTotal = 0;
    for (let second = 0; second < 120; second++) {
      let quietKept = 0;
      for (let i = 0; i < 100; i++) if (share.admit(1)) quietKept++;
      let floodKept = 0;
      for (let i = 0; i < 5_000; i++) if (share.admit(2)) floodKept++;
      const dropped = share.tick();
      assert.equal(quietKept, 100, `second ${second}`);
      assert.equal(floodKept + (dropped.get(2) ?? 0), 5_000);
      floodTotal += floodKept;
      // Past its bucket (60 s of its share), the flood gets what the quiet one leaves.
      if (second > 20) assert.ok(floodKept <= 900, `second ${second}: ${floodKept}`);
    }
    assert.ok(floodTotal <= 60_000 + 120 * 900, String(floodTotal));
  });

  it('a backlog read back at once passes: the bucket holds a minute of the share', () => {
    const share = new FairShare(50_000);
    for (let key = 0; key < 100; key++) share.admit(key);
    share.tick();
    // 35 s at 200 lines/s written while the monitor was away: 7 000 lines in one go.
    let kept = 0;
    for (let i = 0; i < 7_000; i++) if (share.admit(7)) kept++;
    assert.equal(kept, 7_000);
  });
});

describe('log store', () => {
  function fresh(retention = { ageMs: 7 * 86_400_000, sizeBytes: 2 ** 31 }) {
    const clock = manualClock(NOW);
    const store = new LogStore(mkdtempSync(join(tmpdir(), 'dockgate-logstore-')), log, retention, clock);
    return { store, clock };
  }
  const meta = (container: string, name = container) => ({
    engine: 'e1',
    container,
    name,
    project: 'shop',
    service: name,
    image: 'img',
  });
  const searchAll = (over: Partial<LogSearch> = {}): LogSearch => ({
    query: compileQuery(undefined),
    sources: undefined,
    stream: undefined,
    sinceMs: undefined,
    untilMs: undefined,
    order: 'desc',
    before: undefined,
    after: undefined,
    limit: 200,
    scanBound: 1_000_000,
    ...over,
  });

  it('orders by the engine time: a line collected late sorts where it was written; paging is exact', () => {
    const { store } = fresh();
    const a = store.source(meta('a'.repeat(64), 'web'));
    const b = store.source(meta('b'.repeat(64), 'db'));
    for (let i = 0; i < 100; i++) store.append(a.id, 'stdout', NOW - 100_000 + i * 1000, i, `web line ${i}`);
    store.flush();
    // db's lines come later (a restart caught up), but were written in between.
    for (let i = 0; i < 100; i++)
      store.append(b.id, 'stderr', NOW - 100_000 + i * 1000 + 500, 0, `db line ${i}`);
    store.flush();
    const asc = store.search(searchAll({ order: 'asc', limit: 4 }));
    assert.deepEqual(
      asc.lines.map((l) => l.text),
      ['web line 0', 'db line 0', 'web line 1', 'db line 1'],
    );
    const seen = new Set<string>();
    let before: LineKey | undefined;
    for (;;) {
      const page = store.search(searchAll({ limit: 9, before }));
      for (const line of page.lines) seen.add(line.cursor);
      if (page.next === null) break;
      before = parseKey(page.next);
    }
    assert.equal(seen.size, 200);
    // Many lines in one millisecond keep their order and their own cursors.
    for (let i = 0; i < 3000; i++) store.append(a.id, 'stdout', NOW, i, `burst ${i}`);
    store.flush();
    const burst = store.search(searchAll({ query: compileQuery('burst'), order: 'asc', limit: 5000 }));
    assert.equal(burst.lines.length, 3000);
    assert.deepEqual(
      burst.lines.slice(0, 2).map((l) => l.text),
      ['burst 0', 'burst 1'],
    );
    assert.equal(new Set(burst.lines.map((l) => l.cursor)).size, 3000);
    store.close();
  });

  it('chunk_scan_regression: a container filter pages through every chunk, both orders, each line once', () => {
    // Chunks wholly newer than the page's bound were fetched and filtered out, taking the place
    // of the ones needed: a search by container stopped after the first few chunks.
    const { store } = fresh();
    const a = store.source(meta('d'.repeat(64), 'big'));
    const b = store.source(meta('e'.repeat(64), 'small'));
    store.append(a.id, 'stdout', NOW - 3000, 0, 'start');
    store.mark(a.id, NOW, '[dockgate] gap', { gap: true });
    for (let i = 0; i < 5000; i++) {
      store.append(a.id, 'stdout', NOW + Math.floor(i / 10), i % 10, `fill ${i}`);
      if (i % 50 === 0) store.append(b.id, 'stderr', NOW + Math.floor(i / 10), 999, `other ${i}`);
    }
    store.flush();
    assert.deepEqual(
      store.search(searchAll({ sources: [a.id], stream: 'dockgate' })).lines.map((l) => l.text),
      ['[dockgate] gap'],
    );
    for (const order of ['desc', 'asc'] as const) {
      const seen: string[] = [];
      let cursor: LineKey | undefined;
      for (;;) {
        const page = store.search(
          searchAll({
            sources: [a.id, b.id],
            order,
            limit: 333,
            ...(order === 'desc' ? { before: cursor } : { after: cursor }),
          }),
        );
        seen.push(...page.lines.map((l) => l.cursor));
        if (page.next === null) break;
        cursor = parseKey(page.next);
      }
      assert.equal(seen.length, 5102, order);
      assert.equal(new Set(seen).size, 5102, `${order}: each line once`);
      const sorted = [...seen].sort((x, y) =>
        order === 'desc' ? Number(y) - Number(x) : Number(x) - Number(y),
      );
      assert.deepEqual(seen, sorted, `${order}: in order`);
    }
    store.close();
  });

  it('keeps the resume point with the lines: lines at the same instant are counted', () => {
    const { store } = fresh();
    const s = store.source(meta('c'.repeat(64)));
    store.append(s.id, 'stdout', NOW, 5, 'one');
    store.append(s.id, 'stdout', NOW, 5, 'two');
    store.drop(s.id, NOW, 5);
    store.flush();
    assert.deepEqual(store.sourceById(s.id)?.resume, { ms: NOW, sub: 5, count: 3 });
    assert.equal(store.sourceById(s.id)?.dropped, 1);
    store.close();
  });

  it('retention: age by range; size takes from the noisy container first, down to its floor', () => {
    const { store, clock } = fresh({ ageMs: 86_400_000, sizeBytes: 4 * 1024 * 1024 });
    // Text that does not compress: the size limit is about the file.
    const noise = (): string => randomBytes(100).toString('hex');
    const quiet = store.source(meta('q'.repeat(64), 'quiet'));
    const noisy = store.source(meta('n'.repeat(64), 'noisy'));
    store.append(quiet.id, 'stdout', NOW - 2 * 86_400_000, 0, 'too old');
    for (let i = 0; i < 200; i++)
      store.append(quiet.id, 'stdout', NOW - 3_600_000 + i, 0, `quiet ${i} ${noise()}`);
    for (let i = 0; i < 60_000; i++)
      store.append(noisy.id, 'stdout', NOW - 1_800_000 + i, 0, `noisy ${i} ${noise()}`);
    store.flush();
    assert.ok(store.usedBytes() > 4 * 1024 * 1024);
    clock.advance(1000);
    store.prune(60_000);
    assert.equal(store.search(searchAll({ query: compileQuery('"too old"') })).lines.length, 0);
    assert.ok(store.usedBytes() <= 4 * 1024 * 1024, `${store.usedBytes()}`);
    assert.equal(store.sourceById(quiet.id)?.lines, 200, 'the quiet container keeps all of its history');
    const noisyLeft = store.sourceById(noisy.id)?.lines ?? 0;
    assert.ok(noisyLeft > 0 && noisyLeft < 60_000);
    // The newest of the noisy container are what is left.
    const newest = store.search(searchAll({ sources: [noisy.id], limit: 1 }));
    assert.equal(newest.lines[0]?.text.split(' ')[1], '59999');
    store.close();
  });
});

describe("the gateway's log route", () => {
  const answer = (status: number, message: string) =>
    gatewayAnswer(new EngineError(status, message, 'GET', '/dockgate/v1/containers/x/logs'));

  it('logs_gateway_answer_regression: only an answer about the engine turns the gateway off; a passing or one-container answer never does', () => {
    // Not a gateway, refused by its policy, or the files are not readable there: the engine reads.
    assert.equal(answer(404, 'page not found'), 'not-this-engine');
    assert.equal(
      answer(403, 'dockgate: GET /dockgate/v1/containers/{id}/logs is not allowed'),
      'not-this-engine',
    );
    assert.equal(answer(401, 'dockgate: who are you'), 'not-this-engine');
    assert.equal(answer(405, 'method not allowed'), 'not-this-engine');
    assert.equal(
      answer(
        501,
        'dockgate: cannot read /var/lib/docker/containers/abc here: run the gateway on the engine host',
      ),
      'not-this-engine',
    );
    // This container only.
    assert.equal(
      answer(501, 'dockgate: container abc logs with driver none: not a file the gateway reads'),
      'this-container',
    );
    assert.equal(
      answer(501, "dockgate: the engine did not say where this container's log is"),
      'this-container',
    );
    // Passing, or the caller's: tried again later, the gateway kept.
    assert.equal(answer(429, 'dockgate: too many requests in flight for monitor'), 'retry');
    assert.equal(answer(503, 'dockgate: shutting down'), 'retry');
    assert.equal(answer(502, 'dockgate: the engine could not be asked'), 'retry');
    assert.equal(answer(404, 'No such container: x'), 'retry');
    assert.equal(answer(400, 'unknown parameter tail'), 'retry');
    assert.equal(gatewayAnswer(new Error('ECONNREFUSED')), 'retry');
  });
});
