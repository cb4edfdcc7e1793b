/**
 * Container inspect answers with `Config.Env` values replaced by "<redacted>" (names kept:
 * knowing that DB_PASSWORD is set is useful to a dashboard; its value is not).
 *
 * The answer is scanned once, byte by byte, for the span of `Config.Env`, and only that span is
 * rewritten: parsing and re-serialising a 5–10 KB inspect answer per request halved the
 * read-only profile's inspect throughput. UTF-8 never puts an ASCII byte inside a multi-byte
 * character, so quotes, brackets and "=" found byte-wise are the real ones. Anything unexpected
 * falls back to a full parse; anything that is not JSON carries no Env to leak and passes as is.
 */
export function redactEnv(body: Buffer): Buffer {
  const span = valueSpan(body, ['Config', 'Env']);
  if (span === undefined) return body[firstNonSpace(body, 0)] === LBRACE ? redactByParsing(body) : body;
  if (span === null) return body; // no Config.Env: nothing to redact
  if (body[span.start] !== LBRACKET) return redactByParsing(body);
  const out: Buffer[] = [];
  let last = 0;
  let i = span.start + 1;
  for (;;) {
    i = firstNonSpace(body, i);
    const c = body[i];
    if (c === RBRACKET) break;
    if (c === COMMA) {
      i++;
      continue;
    }
    if (c !== QUOTE) return redactByParsing(body); // Env holds strings only
    const end = stringEnd(body, i);
    if (end < 0) return redactByParsing(body);
    const eq = body.indexOf(EQUALS, i + 1);
    if (eq >= 0 && eq < end) {
      out.push(body.subarray(last, eq + 1), REDACTED);
      last = end;
    }
    i = end + 1;
  }
  out.push(body.subarray(last));
  return Buffer.concat(out);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const EQUALS = 0x3d;
const REDACTED = Buffer.from('<redacted>');

function firstNonSpace(buf: Buffer, from: number): number {
  let i = from;
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  return i;
}

/** Index of the quote closing the string that opens at `start`; -1 if unterminated. */
function stringEnd(buf: Buffer, start: number): number {
  for (let i = start + 1; i < buf.length; i++) {
    if (buf[i] === BACKSLASH) i++;
    else if (buf[i] === QUOTE) return i;
  }
  return -1;
}

/** Index just past the value that starts at `start`; -1 if malformed. */
function skipValue(buf: Buffer, start: number): number {
  const c = buf[start];
  if (c === QUOTE) {
    const end = stringEnd(buf, start);
    return end < 0 ? -1 : end + 1;
  }
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    for (let i = start; i < buf.length; i++) {
      const b = buf[i];
      if (b === QUOTE) {
        i = stringEnd(buf, i);
        if (i < 0) return -1;
      } else if (b === LBRACE || b === LBRACKET) depth++;
      else if (b === RBRACE || b === RBRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  let i = start;
  while (i < buf.length && buf[i] !== COMMA && buf[i] !== RBRACE && buf[i] !== RBRACKET) i++;
  return i === start ? -1 : i;
}

/**
 * The span of the value at `path` (object keys, matched exactly as dockerd writes them);
 * null when the path is absent, undefined when the bytes are not the JSON expected.
 */
function valueSpan(buf: Buffer, path: readonly string[]): { start: number; end: number } | null | undefined {
  let i = firstNonSpace(buf, 0);
  for (let level = 0; level < path.length; level++) {
    if (buf[i] !== LBRACE) return level === 0 ? undefined : null;
    i++;
    const want = path[level] as string;
    let found = false;
    while (!found) {
      i = firstNonSpace(buf, i);
      if (buf[i] === RBRACE) return null;
      if (buf[i] === COMMA) {
        i++;
        continue;
      }
      if (buf[i] !== QUOTE) return undefined;
      const keyEnd = stringEnd(buf, i);
      if (keyEnd < 0) return undefined;
      const key = buf.toString('latin1', i + 1, keyEnd);
      i = firstNonSpace(buf, keyEnd + 1);
      if (buf[i] !== COLON) return undefined;
      i = firstNonSpace(buf, i + 1);
      if (key === want) {
        found = true;
        break;
      }
      i = skipValue(buf, i);
      if (i < 0) return undefined;
    }
  }
  const end = skipValue(buf, i);
  return end < 0 ? undefined : { start: i, end };
}

/** The slow, general way: parse, replace, serialise. */
function redactByParsing(body: Buffer): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  const config = (parsed as { Config?: { Env?: unknown } } | null)?.Config;
  if (config === undefined || config === null || !Array.isArray(config.Env)) return body;
  config.Env = config.Env.map((entry: unknown) => {
    if (typeof entry !== 'string') return '<redacted>';
    const eq = entry.indexOf('=');
    return eq < 0 ? entry : `${entry.slice(0, eq)}=<redacted>`;
  });
  return Buffer.from(`${JSON.stringify(parsed)}\n`);
}
