/**
 * A JSON reader that sees a request body the way dockerd's Go decoder (encoding/json) does, so
 * that what the policy inspects is what the engine will act on:
 * - object keys match struct fields case-insensitively, with Unicode simple folding as Go's
 *   `bytes.EqualFold` does it ("ſ" U+017F folds to "s", the Kelvin sign U+212A to "k");
 * - when several keys fold to the same field, the last one wins;
 * - escapes (`\u0050rivileged`) are decoded before matching.
 * Objects keep every key in order, duplicates included; `field()` applies Go's rule.
 * Unlike Go's Decoder, anything after the first value other than whitespace is refused:
 * a body the two could read differently is not a body the gateway lets through.
 */
export type GoValue = null | boolean | number | string | GoValue[] | GoObject;

export class GoObject {
  readonly entries: [string, GoValue][] = [];
  /** Folded key → last value, built on the first lookup of a large object (an inspect answer). */
  #index: Map<string, GoValue> | undefined;
  #indexed = 0;

  /** The value Go would decode into the struct field `name` (undefined when absent). */
  field(name: string): GoValue | undefined {
    const want = foldKey(name);
    if (this.entries.length > 8) {
      // A checker reads dozens of fields of one object: fold every key once, not once per read.
      if (this.#index === undefined || this.#indexed !== this.entries.length) {
        this.#index = new Map();
        for (const [key, value] of this.entries) this.#index.set(foldKey(key), value);
        this.#indexed = this.entries.length;
      }
      return this.#index.get(want);
    }
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i] as [string, GoValue];
      if (foldKey(entry[0]) === want) return entry[1];
    }
    return undefined;
  }

  /** Every key folded once, last value per folded key: a map-typed field (Labels, Sysctls). */
  asMap(): Map<string, GoValue> {
    const map = new Map<string, GoValue>();
    for (const [key, value] of this.entries) map.set(key, value);
    return map;
  }

  /** A plain JSON value again, with Go's view: for map-typed fields, last exact duplicate wins. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of this.entries) out[key] = value;
    return out;
  }
}

/** Go's case folding of a field name, reduced to what can match an ASCII struct field. */
export function foldKey(key: string): string {
  return key
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .toLowerCase();
}

export class GoJsonError extends Error {}

const MAX_DEPTH = 512;

export function parseGoJson(body: Buffer | string): GoValue {
  const text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: false }).decode(body);
  const reader = new Reader(text);
  reader.space();
  const value = reader.value(0);
  reader.space();
  if (reader.pos !== text.length)
    throw new GoJsonError(`unexpected data after the JSON value at offset ${reader.pos}`);
  return value;
}

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  space(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  fail(what: string): never {
    throw new GoJsonError(`${what} at offset ${this.pos}`);
  }

  value(depth: number): GoValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('invalid literal');
    this.pos += word.length;
    return value;
  }

  number(): number {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(
      this.text.slice(this.pos, this.pos + 400),
    );
    if (match === null || match[0] === '') this.fail('invalid value');
    this.pos += match[0].length;
    return Number(match[0]);
  }

  string(): string {
    this.pos++; // opening quote
    let out = '';
    const t = this.text;
    for (;;) {
      if (this.pos >= t.length) this.fail('unterminated string');
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        out += t[this.pos];
        this.pos++;
        continue;
      }
      const e = t[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = t.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.fail('invalid escape');
      }
    }
  }

  array(depth: number): GoValue[] {
    this.pos++;
    const out: GoValue[] = [];
    this.space();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      out.push(this.value(depth + 1));
      this.space();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected "," or "]"');
    }
  }

  object(depth: number): GoObject {
    this.pos++;
    const out = new GoObject();
    this.space();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const key = this.string();
      this.space();
      if (this.text[this.pos++] !== ':') this.fail('expected ":"');
      this.space();
      out.entries.push([key, this.value(depth + 1)]);
      this.space();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected "," or "}"');
    }
  }
}

/** Type guards for inspected fields. */
export const isObject = (v: GoValue | undefined): v is GoObject => v instanceof GoObject;
export const isString = (v: GoValue | undefined): v is string => typeof v === 'string';

/** A Go `[]string` or docker's StrSlice (a string or an array of strings); others → undefined. */
export function stringList(v: GoValue | undefined): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return undefined;
}
