import { resolve } from 'node:path';
import { DockgateError } from '../../errors.js';
import { maskPassword } from '../config/mask-url.js';

/** Where the monitor keeps its history, users, alerts (docs/scaling.md). */
export type StoreTarget =
  | { readonly kind: 'sqlite'; readonly dir: string }
  | { readonly kind: 'postgres'; readonly url: string };

/**
 * `--store` / `store:` / DOCKGATE_MONITOR_STORE: absent or `sqlite:` → SQLite in the data
 * directory; `sqlite:DIR` → SQLite in DIR; `postgres://…` or `postgresql://…` → PostgreSQL.
 * Anything else stops the monitor at start with the accepted forms.
 */
export function parseStoreUrl(raw: string | undefined, dataDir: string): StoreTarget {
  const text = raw?.trim() ?? '';
  if (text === '' || text === 'sqlite:') return { kind: 'sqlite', dir: dataDir };
  if (text.startsWith('sqlite:')) return { kind: 'sqlite', dir: resolve(text.slice('sqlite:'.length)) };
  // postgres://user:pass@host:port/db?sslmode=…, or postgres://user@/db?host=/run/postgresql (a
  // socket: no host before the path, which WHATWG URL refuses, hence a pattern, not new URL).
  if (/^postgres(ql)?:\/\/[^/?#\s]*\/[^/?#\s]+(\?\S*)?$/.test(text)) return { kind: 'postgres', url: text };
  if (/^postgres(ql)?:/.test(text))
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `--store: "${maskPassword(text)}" is not postgres://user@host:port/database (or postgres://user@/database?host=/socket/dir)`,
    );
  throw new DockgateError(
    'DG_CONFIG_INVALID',
    `--store: "${maskPassword(text)}" is not sqlite:, sqlite:DIR or postgres://user@host:port/db`,
  );
}

/** What `/healthz` and the start line say of the store. */
export function describeStore(target: StoreTarget): string {
  return target.kind === 'sqlite' ? `sqlite:${target.dir}` : maskPassword(target.url);
}
