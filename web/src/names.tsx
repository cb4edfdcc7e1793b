import { breakable, middleSplit } from './format.js';

/** Text that wraps only after `-`, `_`, `.`. */
export function Breakable({ text }: { text: string }) {
  return <>{breakable(text).map((part, i) => (typeof part === 'string' ? part : <wbr key={i} />))}</>;
}

/**
 * A container's name: whole on wide screens (wrapping only at `-`, `_`, `.`); on a phone one line
 * with the ellipsis in the middle, so both the project prefix and the replica suffix show.
 */
export function Name({ text }: { text: string }) {
  const { head, tail } = middleSplit(text);
  return (
    <span class="mid">
      <span class="mid-head">
        <Breakable text={head} />
      </span>
      <span class="mid-tail">
        <Breakable text={tail} />
      </span>
    </span>
  );
}
