/**
 * The log store at scale (issue 25): N lines (default 1 000 000; the figure is 10 000 000
 * — `--lines 10000000`) of a realistic mix (JSON access logs, stack traces, short lines) from 200
 * containers, written through LogStore as the collectors do; then disk used against the raw text,
 * and the first page's p50/p95 for a rare word, a common word, a phrase and an id fragment, with a
 * container filter and without — beside `grep -c` over the same raw text in the same run. A word
 * index and a trigram index are compared on a sample. Results: bench/results/logs-store-DATE.md.
 *   node --import tsx bench/logs-store-bench.ts [--lines N] [--queries N]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { compileQuery } from '../src/monitor/logs/log-query.js';
import { LogStore } from '../src/monitor/logs/log-store.js';
import { log, numberArg, root } from './lib/cli.js';

const LINES = numberArg('--lines', 1_000_000);
const QUERIES = numberArg('--queries', 40);
const CONTAINERS = 200;
const dir = mkdtempSync(join(tmpdir(), 'dockgate-logs-bench-'));
const rawFile = join(dir, 'raw.txt');

let seed = 42;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
// Ids are random: an LCG's hex digits repeat (its "id fragments" were in a thousand chunks).
const hex = (n: number): string =>
  randomBytes(Math.ceil(n / 2))
    .toString('hex')
    .slice(0, n);
const PATHS = ['/api/orders', '/api/users/42', '/healthz', '/static/app.js', '/api/cart', '/login'];
const WORDS = ['started', 'connected', 'cache', 'miss', 'flushed', 'worker', 'ready', 'request', 'done'];

/** One line of the mix: 60 % JSON access logs, 10 % stack trace lines, 30 % short lines. */
function line(i: number): string {
  const r = rand();
  if (r < 0.6)
    return JSON.stringify({
      ts: new Date(1_765_000_000_000 + i).toISOString(),
      level: 'info',
      method: pick(['GET', 'POST', 'PUT']),
      path: pick(PATHS),
      status: pick([200, 200, 200, 201, 304, 404, 500]),
      ms: Math.floor(rand() * 900),
      req: `req-${hex(12)}`,
      ua: 'Mozilla/5.0 (X11; Linux x86_64)',
    });
  if (r < 0.7)
    return `    at ${pick(['Server', 'Router', 'Pool'])}.${pick(['handle', 'emit', 'query'])} (/app/src/${pick(['server', 'db', 'router'])}.js:${Math.floor(rand() * 400)}:${Math.floor(rand() * 40)})`;
  if (i % 50_000 === 7) return `ERROR connection refused: zanzibarquux upstream ${hex(8)}`;
  return `${pick(WORDS)} ${pick(WORDS)} ${Math.floor(rand() * 10_000)}`;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const store = new LogStore(dir, pino({ level: 'silent' }), { ageMs: 3650 * 86_400_000, sizeBytes: 1e15 });
const sources = Array.from({ length: CONTAINERS }, (_, i) =>
  store.source({
    engine: 'bench',
    container: hex(64),
    name: `svc-${i}`,
    project: 'bench',
    service: `svc-${i}`,
    image: 'img',
  }),
);
const raw = createWriteStream(rawFile);
let rawBytes = 0;
const ids: string[] = [];
// Lines are made in batches beforehand: the ingest figure is the store's work alone.
let storeMs = 0;
const base = Date.now() - 86_400_000;
const BATCH_LINES = 100_000;
for (let start = 0; start < LINES; start += BATCH_LINES) {
  const batch: string[] = [];
  for (let i = start; i < Math.min(LINES, start + BATCH_LINES); i++) batch.push(line(i));
  const t0 = performance.now();
  for (const [k, text] of batch.entries()) {
    const i = start + k;
    const source = sources[i % CONTAINERS] as (typeof sources)[number];
    store.append(source.id, i % 7 === 0 ? 'stderr' : 'stdout', base + Math.floor(i / 20), i % 1000, text);
    if (i % 5000 === 4999) store.flush();
  }
  storeMs += performance.now() - t0;
  for (const text of batch) {
    rawBytes += Buffer.byteLength(text) + 1;
    if (!raw.write(`${text}\n`)) await new Promise<void>((r) => raw.once('drain', () => r()));
    if (ids.length < 100 && text.includes('"req"'))
      ids.push((JSON.parse(text) as { req: string }).req.slice(4, 12));
  }
  log(`${start + batch.length} lines`);
}
const t1 = performance.now();
store.flush();
storeMs += performance.now() - t1;
await new Promise<void>((r) => raw.end(() => r()));
const ingestS = storeMs / 1000;
const dbBytes =
  statSync(join(dir, 'logs.db')).size +
  (statSync(join(dir, 'logs.db-wal'), { throwIfNoEntry: false })?.size ?? 0);
log(`written: ${LINES} lines in ${ingestS.toFixed(1)} s; raw ${rawBytes}, db ${dbBytes}`);

const cases = [
  { name: 'rare word', q: 'zanzibarquux', grep: 'zanzibarquux' },
  { name: 'common word', q: 'worker', grep: 'worker' },
  { name: 'phrase', q: '"connection refused"', grep: 'connection refused' },
  { name: 'id fragment', q: () => pick(ids), grep: '' },
];
const rows: string[] = [];
for (const c of cases) {
  for (const filtered of [false, true]) {
    const times: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const q = typeof c.q === 'function' ? c.q() : c.q;
      const t0 = performance.now();
      store.search({
        query: compileQuery(q),
        sources: filtered ? [(sources[i % CONTAINERS] as (typeof sources)[number]).id] : undefined,
        stream: undefined,
        sinceMs: undefined,
        untilMs: undefined,
        order: 'desc',
        before: undefined,
        after: undefined,
        limit: 200,
        scanBound: 200_000,
      });
      times.push(performance.now() - t0);
    }
    const grepMs = (() => {
      const needle = c.grep === '' ? (ids[0] as string) : c.grep;
      const t0 = performance.now();
      try {
        execFileSync('grep', ['-c', '-F', needle, rawFile]);
      } catch {
        // grep -c exits 1 on no match
      }
      return performance.now() - t0;
    })();
    rows.push(
      `| ${c.name} | ${filtered ? 'one container' : 'all'} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${grepMs.toFixed(0)} |`,
    );
  }
}
store.close();

// Word index against a trigram index, on the first 200 000 lines of the same text.
const sample = execFileSync('head', ['-n', '200000', rawFile], { maxBuffer: 1 << 30 })
  .toString()
  .split('\n');
const sampleBytes = sample.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
const indexSize = (tokenize: string): number => {
  const file = join(dir, `idx-${tokenize.split(' ')[0]}.db`);
  const db = new Database(file);
  db.exec(
    `CREATE VIRTUAL TABLE f USING fts5(text, content='', contentless_delete=1, detail=none, tokenize="${tokenize}")`,
  );
  const insert = db.prepare('INSERT INTO f (rowid, text) VALUES (?, ?)');
  db.transaction(() => {
    for (const [i, l] of sample.entries()) insert.run(i + 1, l);
  })();
  db.exec("INSERT INTO f(f) VALUES ('optimize')");
  db.close();
  return statSync(file).size;
};
const word = indexSize("unicode61 tokenchars '_'");
const trigram = indexSize('trigram');

const date = new Date().toISOString().slice(0, 10);
const report = `# Log store benchmark, ${date}

\`node --import tsx bench/logs-store-bench.ts --lines ${LINES} --queries ${QUERIES}\` on this machine (two cores).
${LINES} lines from ${CONTAINERS} containers (60 % JSON access logs, 10 % stack-trace lines, 30 % short lines),
written through LogStore in batches of 5 000 as the collectors do.

- ingest: ${LINES} lines in ${ingestS.toFixed(1)} s of the store's work = ${Math.round(LINES / ingestS)} lines/s (one writer, index included; lines made beforehand)
- raw text: ${(rawBytes / 1e6).toFixed(1)} MB; logs.db: ${(dbBytes / 1e6).toFixed(1)} MB = **${(dbBytes / rawBytes).toFixed(2)}× the raw text**, index included (goal ≤ 1.0×)
- index alone on 200 000 lines (${(sampleBytes / 1e6).toFixed(1)} MB of text): word index ${(word / 1e6).toFixed(1)} MB (${(word / sampleBytes).toFixed(2)}×), trigram ${(trigram / 1e6).toFixed(1)} MB (${(trigram / sampleBytes).toFixed(2)}×) — the word index is kept

First page (limit 200, newest first), ${QUERIES} queries each, ms:

| query | filter | p50 | p95 | grep -c over the raw text (one run) |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
const out = join(root, 'bench', 'results', `logs-store-${date}.md`);
writeFileSync(out, report);
process.stdout.write(report);
if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
else log(`kept: ${dir}`);
