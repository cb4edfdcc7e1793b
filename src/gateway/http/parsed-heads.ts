/** Heads remembered at most; past it the memo starts over (distinct heads cost no more than before). */
const MAX_HEADS = 64;
/** Longer heads are parsed every time. */
const MAX_TEXT = 2048;

/**
 * The last few heads parsed, by their exact text. Parsing is a pure function of the bytes, and
 * the heads a gateway sees repeat: a health check or a dashboard sends the same request head
 * every time, and the engine answers with the same head until its `Date` changes a second later.
 * A hit costs one lookup of the text instead of a strict parse; anything that fails to parse is
 * never stored, so a bad head is refused every time, as before.
 */
export class ParsedHeads<T> {
  readonly #parsed = new Map<string, T>();

  get(text: string): T | undefined {
    return text.length > MAX_TEXT ? undefined : this.#parsed.get(text);
  }

  set(text: string, value: T): void {
    if (text.length > MAX_TEXT) return;
    if (this.#parsed.size >= MAX_HEADS) this.#parsed.clear();
    this.#parsed.set(text, value);
  }
}
