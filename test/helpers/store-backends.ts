import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pino from 'pino';
import { openStore, type Store } from '../../src/monitor/store/open-store.js';
import { type PrivatePostgres, startPrivatePostgres } from './private-postgres.js';

/** One of the monitor's two store backends, opened fresh (an empty store) for each test. */
export interface Backend {
  readonly name: 'sqlite' | 'postgres';
  open(options?: { retention?: { rawMs: number; minuteMs: number } }): Promise<Store>;
}

let pg: Promise<PrivatePostgres> | undefined;
let databases = 0;

/**
 * SQLite in a new temporary directory, and PostgreSQL 15 (Debian's, a private cluster of this
 * test file on a unix socket, started at the first open and stopped after the file): the
 * store-level tests run the same assertions on both (issue 28: two backends, one set of
 * behaviours). Every store opened is closed after the file.
 */
export function storeBackends(): readonly Backend[] {
  const opened: Store[] = [];
  after(async () => {
    for (const store of opened) await store.close().catch(() => {});
    if (pg !== undefined) (await pg).stop();
    pg = undefined;
  });
  const log = pino({ level: 'silent' });
  return [
    {
      name: 'sqlite',
      async open(options) {
        const store = await openStore(
          { kind: 'sqlite', dir: mkdtempSync(join(tmpdir(), 'dockgate-store-')) },
          log,
          options,
        );
        opened.push(store);
        return store;
      },
    },
    {
      name: 'postgres',
      async open(options) {
        pg ??= startPrivatePostgres();
        const cluster = await pg;
        const url = cluster.database(`store${++databases}`);
        const store = await openStore({ kind: 'postgres', url }, log, options);
        opened.push(store);
        return store;
      },
    },
  ];
}
