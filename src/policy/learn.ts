import { renameSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { matchRoute } from './routes.js';

interface Seen {
  /** "GET /containers/*\/json" → body fields seen on it. */
  readonly routes: Map<string, Set<string>>;
  readonly profile: string;
}

/**
 * Learn mode (`--learn FILE`): records, per identity, the routes (as rule patterns) and body
 * fields each caller actually used, and keeps FILE a config file whose profiles allow exactly
 * that — nothing else. Run a workload under a permissive profile in `audit` mode with
 * `--learn`, then serve with the learned file.
 */
export class Learner {
  readonly #file: string;
  readonly #seen = new Map<string, Seen>();
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;

  constructor(file: string) {
    this.#file = file;
  }

  record(identity: string, profile: string, method: string, path: string, features: readonly string[]): void {
    let seen = this.#seen.get(identity);
    if (seen === undefined) {
      seen = { routes: new Map(), profile };
      this.#seen.set(identity, seen);
    }
    const pattern = matchRoute(method, path)?.route.pattern ?? path;
    const key = `${method} ${pattern}`;
    let fields = seen.routes.get(key);
    if (fields === undefined) {
      fields = new Set();
      seen.routes.set(key, fields);
      this.#dirty = true;
    }
    for (const f of features) {
      if (!fields.has(f)) {
        fields.add(f);
        this.#dirty = true;
      }
    }
    if (this.#dirty) this.#timer ??= setTimeout(() => this.flush(), 500).unref();
  }

  /** Writes the learned config now (atomically). */
  flush(): void {
    this.#timer = undefined;
    if (!this.#dirty) return;
    this.#dirty = false;
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, this.render());
    renameSync(tmp, this.#file);
  }

  /** The learned config as YAML text. */
  render(): string {
    const profiles: Record<string, unknown> = {};
    const identities: Record<string, unknown> = {};
    for (const [identity, seen] of [...this.#seen].sort(([a], [b]) => a.localeCompare(b))) {
      const name = `learned-${identity.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}`;
      profiles[name] = {
        description: `learned from the traffic of ${identity} (was ${seen.profile})`,
        rules: [...seen.routes.keys()].sort().map((allow) => ({ allow })),
      };
      if (identity !== 'anonymous') identities[identity] = { profile: name };
    }
    const fields = [...this.#seen].flatMap(([identity, seen]) =>
      [...seen.routes]
        .filter(([, f]) => f.size > 0)
        .map(([route, f]) => `#   ${identity} ${route}: ${[...f].sort().join(', ')}`),
    );
    const header =
      `# Learned by dockgate --learn on ${new Date().toISOString()}.\n` +
      '# Each profile allows exactly the routes its identity used; body inspection stays on.\n' +
      (fields.length > 0 ? `# Body fields seen:\n${fields.join('\n')}\n` : '');
    return `${header}${stringify({ version: 1, profiles, identities })}`;
  }
}
