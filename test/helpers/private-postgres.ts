import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

const BIN = '/usr/lib/postgresql/15/bin';

/** A PostgreSQL 15 cluster of the test's own (Debian's postgresql), on a unix socket only. */
export interface PrivatePostgres {
  /** `postgres://postgres@/postgres?host=<socket dir>&port=<port>`: what `--store` takes. */
  readonly url: string;
  readonly socketDir: string;
  readonly port: number;
  /** A new empty database of this cluster, and its URL. */
  database(name: string): string;
  /** `pg_ctl stop` (fast), then start again on the same data: PostgreSQL restarted. */
  restart(): void;
  /** `pg_ctl stop` (fast): the server away until `start`. */
  pause(): void;
  start(): void;
  stop(): void;
}

/**
 * `initdb` and `pg_ctl` as the `postgres` user (PostgreSQL refuses to run as root) on a new
 * temporary directory: no TCP listener (`listen_addresses=''`), the socket in that directory,
 * fsync off (a test cluster: speed over durability). `stop` removes everything.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-pg-'));
  chmodSync(dir, 0o700);
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const asPostgres = (bin: string, args: string[]): string =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, bin), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const options = `-c listen_addresses='' -c unix_socket_directories=${dir} -p ${port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const start = (): void => {
    asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', 'start']);
  };
  start();
  const url = (db: string): string =>
    `postgres://postgres@/${db}?host=${encodeURIComponent(dir)}&port=${port}`;
  return {
    url: url('postgres'),
    socketDir: dir,
    port,
    database(name: string): string {
      execFileSync(
        join(BIN, 'psql'),
        ['-h', dir, '-p', String(port), '-U', 'postgres', '-c', `CREATE DATABASE "${name}"`],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      return url(name);
    },
    restart(): void {
      asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      start();
    },
    pause(): void {
      asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    start,
    stop(): void {
      try {
        asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The URL of database `name` on the cluster at `clusterUrl` (a PrivatePostgres's `url`), created
 * when it does not exist yet.
 */
export function postgresDatabase(clusterUrl: string, name: string): string {
  // postgres://postgres@/postgres?host=…&port=…: no host before the path, which URL refuses.
  const query = new URLSearchParams(clusterUrl.slice(clusterUrl.indexOf('?') + 1));
  const host = query.get('host') ?? '';
  const port = query.get('port') ?? '5432';
  const psql = (sql: string): string =>
    execFileSync(join(BIN, 'psql'), ['-h', host, '-p', port, '-U', 'postgres', '-tAc', sql], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  if (psql(`SELECT 1 FROM pg_database WHERE datname = '${name}'`).trim() !== '1') {
    try {
      psql(`CREATE DATABASE "${name}"`);
    } catch (error) {
      // Created by another test at the same moment.
      if (!/already exists/.test(String((error as { stderr?: Buffer }).stderr))) throw error;
    }
  }
  return clusterUrl.replace(/\/[^/?]*\?/, `/${name}?`);
}
