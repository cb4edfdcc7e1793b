import { setFlagsFromString } from 'node:v8';
import { DockgateError } from '../../errors.js';

// V8's linear-time engine (no backtracking): a caller's /regex/ runs over millions of lines on
// the monitor's one thread, and a pattern such as (a+)+b must not stall it (ReDoS). Patterns it
// cannot run in linear time (backreferences, lookaround) are refused with a clear message.
setFlagsFromString('--enable-experimental-regexp-engine');

/**
 * The search box's syntax (`q`, docs/logs.md): words are ANDed, `"a phrase"` matches as written,
 * `-word` excludes, `/regex/` (or `/regex/i`) is applied to what the rest lets through.
 * Compiled into the full-text index's query (to find candidates fast) and a test of the whole
 * meaning, applied to every candidate: the index narrows, the test decides.
 */
export interface LogQuery {
  /** FTS5 MATCH text over the words and phrases; undefined when only exclusions or a regex were given. */
  readonly match: string | undefined;
  /** The whole query's meaning for one line's text. */
  readonly test: (text: string) => boolean;
  /** Nothing was asked: every line matches. */
  readonly all: boolean;
  /** A regex is part of it: the scan is bounded. */
  readonly regex: boolean;
}

const NON_ASCII = /[^\t\n\r\x20-\x7e]/;

/** The characters that make up a word: letters, digits and `_` (the index's tokenizer, log-schema.ts). */
const WORD = /[\p{L}\p{N}_]+/gu;

/** A text's words as the index sees them: lower case, accents gone. */
export function words(text: string): string[] {
  return (text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().match(WORD) ?? []) as string[];
}

function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * A term matches a line when each of its words starts a word of the line (`ERR_` finds
 * `ERR_CONN`, `7f3a` finds `7f3a9c…`, `time` finds `timeout`), and — for a term that is more
 * than one word (`req-7f3a`, `"connection refused"`) — when the line holds it as written, case aside.
 */
interface Term {
  readonly words: readonly string[];
  /** Set when the term is more than its words: the folded text the line must contain. */
  readonly exact: string | undefined;
}

export function compileQuery(q: string | undefined): LogQuery {
  const text = (q ?? '').trim();
  if (text.length > 1000) throw badQuery('q: at most 1000 characters');
  const include: Term[] = [];
  const exclude: Term[] = [];
  let regex: RegExp | undefined;
  let regexFolds = false;
  const tokens = /\s*(?:(-?)"([^"]*)"|\/((?:\\.|[^/\\])+)\/([a-z]*)|(-?)(\S+))/gy;
  let end = 0;
  for (let m = tokens.exec(text); m !== null && m[0] !== ''; m = tokens.exec(text)) {
    end = tokens.lastIndex;
    if (m[3] !== undefined) {
      if (regex !== undefined) throw badQuery('q: one /regex/ at most');
      if (!/^i?$/.test(m[4] ?? '')) throw badQuery(`q: /regex/ takes the flag i only (got ${m[4]})`);
      regexFolds = m[4] === 'i';
      regex = compileRegex(regexFolds ? lowerLiterals(m[3]) : m[3]);
      continue;
    }
    const negative = (m[1] ?? m[5]) === '-';
    const body = m[2] ?? m[6] ?? '';
    const ws = words(body);
    if (ws.length === 0) {
      if (body.trim() === '') continue;
      // Only punctuation ("->", ":"): matched as written.
    }
    const term: Term = {
      words: ws,
      exact: ws.length === 1 && fold(body) === ws[0] ? undefined : fold(body),
    };
    (negative ? exclude : include).push(term);
  }
  if (text.slice(end).trim() !== '') throw badQuery('q: an unclosed " or /');
  const indexed = include.filter((t) => t.words.length > 0);
  const match =
    indexed.length === 0 ? undefined : indexed.flatMap((t) => t.words.map((w) => `"${w}"*`)).join(' AND ');
  const needed = include.flatMap((t) => t.words);
  const test = (line: string): boolean => {
    // Most lines are ASCII: there, folding is lower case, and a word the line does not even
    // contain rules it out before the line is split into words.
    if (needed.length > 0 && !NON_ASCII.test(line)) {
      const lower = line.toLowerCase();
      for (const w of needed) if (!lower.includes(w)) return false;
    }
    const folded = fold(line);
    let lineWords: string[] | undefined;
    const has = (term: Term): boolean => {
      if (term.exact !== undefined && !folded.includes(term.exact)) return false;
      if (term.words.length === 0) return true;
      lineWords ??= words(line);
      const lw = lineWords;
      return term.words.every((w) => lw.some((x) => x.startsWith(w)));
    };
    for (const term of include) if (!has(term)) return false;
    for (const term of exclude) if (has(term)) return false;
    return regex === undefined || regex.test(regexFolds ? line.toLowerCase() : line);
  };
  return {
    match,
    test,
    all: include.length === 0 && exclude.length === 0 && regex === undefined,
    regex: regex !== undefined,
  };
}

/**
 * The linear engine has no `i` flag: `/x/i` runs as the pattern's letters in lower case over the
 * line in lower case. Escapes (`\\W`, `\\p{Lu}`, `\\u{…}`) are kept as written.
 */
export function lowerLiterals(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c !== '\\') {
      out += c.toLowerCase();
      continue;
    }
    const next = source[i + 1] ?? '';
    out += c + next;
    i++;
    if (/[pPu]/.test(next) && source[i + 1] === '{') {
      const close = source.indexOf('}', i + 1);
      if (close > 0) {
        out += source.slice(i + 1, close + 1);
        i = close;
      }
    }
  }
  return out;
}

function compileRegex(source: string): RegExp {
  try {
    return new RegExp(source, 'l');
  } catch (error) {
    throw badQuery(
      `q: /${source}/ cannot be used: ${(error as Error).message.replace(/^Invalid regular expression: /, '')} (backreferences and lookaround are not supported: regexes run in linear time)`,
    );
  }
}

function badQuery(message: string): DockgateError {
  return new DockgateError('DG_BAD_QUERY', message);
}
