import { existsSync, type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadPolicy, type PolicySource } from '../config/policy-source.js';
import type { Logger } from '../log/logger.js';
import type { Gatekeeper } from './gatekeeper.js';

/**
 * Hot reload: on SIGHUP, and when the config or token file changes, the policy is read and
 * validated whole, then swapped in at once. An invalid one is rejected with a log line and the
 * policy in force stays. Connections and open streams are untouched: each request decides on
 * the policy of its moment.
 */
export class PolicyReloader {
  readonly #source: PolicySource;
  readonly #gatekeeper: Gatekeeper;
  readonly #log: Logger;
  readonly #onReload: (ok: boolean, generation: number) => void;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The token file as last read (mtime, size, inode), to tell a change without reading it. */
  #tokensStamp: string;

  constructor(
    source: PolicySource,
    gatekeeper: Gatekeeper,
    log: Logger,
    onReload: (ok: boolean, generation: number) => void,
  ) {
    this.#source = source;
    this.#gatekeeper = gatekeeper;
    this.#log = log;
    this.#onReload = onReload;
    this.#tokensStamp = this.#stampTokens();
    gatekeeper.tokensChanged = () => this.reloadIfTokensChanged();
  }

  /** Reloads now if the token file changed since it was last read; true when a new policy is in force. */
  reloadIfTokensChanged(): boolean {
    if (this.#stampTokens() === this.#tokensStamp) return false;
    return this.reload('token file changed');
  }

  #stampTokens(): string {
    try {
      const s = statSync(this.#source.tokensFile);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return 'absent';
    }
  }

  /** Watches the files' directories (editors and `token add` replace files by renaming). */
  watch(): void {
    const files = [this.#source.configFile, this.#source.tokensFile].filter(
      (f): f is string => f !== undefined,
    );
    for (const file of files) {
      const dir = dirname(file);
      if (!existsSync(dir)) continue;
      const name = basename(file);
      const watcher = watch(dir, (_event, changed) => {
        if (changed === null || changed === name) this.#soon(`${file} changed`);
      });
      watcher.on('error', (error) =>
        this.#log.warn({ err: error.message, dir }, 'cannot watch for policy changes'),
      );
      watcher.unref();
      this.#watchers.push(watcher);
    }
  }

  /** Several events come for one save; reload once they settle. */
  #soon(why: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.reload(why), 150);
    this.#timer.unref();
  }

  /** Reloads now; true when the new policy is in force. */
  reload(why: string): boolean {
    const generation = this.#gatekeeper.policy.generation + 1;
    this.#tokensStamp = this.#stampTokens();
    try {
      this.#gatekeeper.swap(loadPolicy(this.#source, generation));
    } catch (error) {
      this.#log.error(
        { why, err: (error as Error).message, generation: generation - 1 },
        'policy reload rejected; the policy in force stays',
      );
      this.#onReload(false, generation - 1);
      return false;
    }
    this.#log.info({ why, generation }, 'policy reloaded');
    this.#onReload(true, generation);
    return true;
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
  }
}
