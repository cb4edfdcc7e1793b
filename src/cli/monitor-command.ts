import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { DockgateError } from '../errors.js';
import { createLogger, flushLogs } from '../log/logger.js';
import type { Alert } from '../monitor/alerts/alert-store.js';
import type { MonitorTokens } from '../monitor/auth/monitor-tokens.js';
import {
  loadMonitorConfig,
  MONITOR_DEFAULTS,
  type MonitorOptions,
  ROLES,
} from '../monitor/config/monitor-config.js';
import type { Store } from '../monitor/store/open-store.js';
import { describeStore, parseStoreUrl, type StoreTarget } from '../monitor/store/store-url.js';
import { DOCKGATE_VERSION } from '../version.js';
import { envValue, optionsFromEnv } from './env-options.js';
import { readPassword } from './password-prompt.js';

/**
 * The monitor's modules (fastify, SQLite, argon2, nodemailer) load when a `monitor …` command
 * runs, not when `dockgate` starts: `serve` and `health` never pay for them.
 */
const monitorModules = async () => ({
  ...(await import('../monitor/monitor.js')),
  ...(await import('../monitor/notify/notifiers.js')),
  ...(await import('../monitor/store/open-store.js')),
  ...(await import('../monitor/store/copy-store.js')),
  ...(await import('../monitor/auth/monitor-tokens.js')),
  ...(await import('../monitor/auth/monitor-users.js')),
});

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** `dockgate monitor`: watch and manage every container on many engines; `monitor token|user …`. */
export function registerMonitorCommand(program: Command): void {
  const monitor = program
    .command('monitor')
    .description('watch and manage containers on one or more engines: live state, history, HTTP API')
    .option(
      '--engine <name=url>',
      'an engine to watch, repeatable: NAME=unix://…, tcp://…, https://…, npipe://… (default: the local engine)',
      collect,
    )
    .option(
      '--config <file>',
      'monitor.yaml: engines (URL, TLS, token or tokenEnv, labels), listener, retention; engines reloaded on change and SIGHUP',
    )
    .option('--data <dir>', `where the SQLite history lives (default: ${MONITOR_DEFAULTS.data})`)
    .option(
      '--store <url>',
      'where history, alerts, users and tokens live: sqlite: (in --data, the default), sqlite:DIR, or postgres://user@host:port/db (several monitors share it)',
    )
    .option('--listen <url>', `http://HOST:PORT or https://HOST:PORT (default: ${MONITOR_DEFAULTS.listen})`)
    .option('--tls-cert <file>', 'PEM certificate for an https:// listener')
    .option('--tls-key <file>', 'PEM private key for an https:// listener')
    .option('--interval <duration>', `stats interval: 2s, 10s, 1m (default: ${MONITOR_DEFAULTS.interval})`)
    .option(
      '--anonymous-role <role>',
      `role of callers without a token: none, ${ROLES.join(', ')} (default: viewer on loopback, none elsewhere)`,
    )
    .option(
      '--metrics-compat <names>',
      `/metrics names: cadvisor, dockgate or both (default: ${MONITOR_DEFAULTS.metricsCompat})`,
    )
    .option('--insecure', 'allow plain http and anonymous callers on a non-loopback listener')
    .option('--log-level <level>', `log level (default: ${MONITOR_DEFAULTS.logLevel})`)
    .option(
      '--terminal-role <role>',
      `who may open a terminal in a container: operator, admin, none (default: ${MONITOR_DEFAULTS.terminal.role})`,
    )
    .option(
      '--terminal-record <what>',
      `what a terminal session's recording keeps: none, output, all — all includes what is typed, passwords at a prompt too (default: ${MONITOR_DEFAULTS.terminal.record})`,
    )
    .option(
      '--log-retention <age,size>',
      `how long and how much of every container's log is kept: 7d, 2GiB or both, 7d,2GiB (default: ${MONITOR_DEFAULTS.logs.retention.age},${MONITOR_DEFAULTS.logs.retention.size})`,
    )
    .option(
      '--notify <url>',
      'where alerts go, repeatable: https://… (JSON webhook), slack+https://, discord+https://, ntfy+https://host/topic, smtp://…?from=&to=, alertmanager+http://…',
      collect,
    )
    .action(async (options: MonitorOptions) => {
      // The monitor allocates steadily (every log line, every sample) and V8's default heap
      // growth (up to 4× the live heap) kept 257 MB committed for a 40 MB live heap at 20 000
      // lines/s. Growing by 1.5× at most: 182 MB for 1.7 points more of a core; sized for memory
      // (--optimize-for-size) it was 149 MB for 12 points more (ARCHITECTURE.md, Choices). A GC
      // setting, read at each collection, so it applies from here on.
      setFlagsFromString('--heap-growing-percent=50');
      await runMonitor(options);
    });
  // Notifier URLs may hold commas (smtp://…&to=a@x,b@y): they are separated by spaces.
  optionsFromEnv(monitor, 'DOCKGATE_MONITOR_', { lists: { engine: /,/, notify: /\s+/ } });

  monitor
    .command('notify')
    .description('notifiers')
    .command('test [url]')
    .description(
      'send a test alert to URL (or to every notifier of --config / --notify) and print what the receiver answered',
    )
    .action(async (url: string | undefined, _options: unknown, command: Command) => {
      const globals = command.optsWithGlobals() as MonitorOptions;
      const targets = url !== undefined ? [url] : loadMonitorConfig(globals).notify.map((n) => n.url);
      if (targets.length === 0)
        throw new DockgateError(
          'DG_CONFIG_INVALID',
          'no notifier: give a URL, --notify or a config with notify:',
        );
      let failed = false;
      for (const target of targets) {
        const notifier = (await monitorModules()).notifierFor(target);
        try {
          const answer = await notifier.send('firing', testAlert(), AbortSignal.timeout(15_000));
          process.stdout.write(
            `${notifier.name}: ${answer.status ?? 'ok'} ${answer.body.trim().slice(0, 500)}\n`,
          );
        } catch (error) {
          failed = true;
          process.stdout.write(`${notifier.name}: failed: ${(error as Error).message}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });

  monitor
    .command('migrate')
    .description(
      'copy a SQLite store into an empty PostgreSQL one (users, tokens, containers, timelines, stats, alerts…) and say what was copied',
    )
    .requiredOption('--from <url>', "sqlite:DIR — the monitor's data directory")
    .requiredOption('--to <url>', 'postgres://user@host:port/database — empty, or new (the schema is made)')
    .action(async (options: { from: string; to: string }) => {
      const from = parseStoreUrl(options.from, MONITOR_DEFAULTS.data);
      const to = parseStoreUrl(options.to, MONITOR_DEFAULTS.data);
      if (from.kind !== 'sqlite' || to.kind !== 'postgres')
        throw new DockgateError('DG_CONFIG_INVALID', 'migrate --from sqlite:DIR --to postgres://…');
      if (!existsSync(join(from.dir, 'monitor.db')))
        throw new DockgateError('DG_CONFIG_INVALID', `--from: no monitor.db in ${from.dir}`);
      const { openStore, copyStore } = await monitorModules();
      const log = createLogger('warn');
      const source = await openStore(from, log);
      try {
        const target = await openStore(to, log);
        try {
          const copied = await copyStore(source, target);
          for (const { table, rows } of copied) process.stdout.write(`${table}\t${rows}\n`);
          process.stderr.write(
            `copied ${copied.reduce((n, c) => n + c.rows, 0)} rows into ${describeStore(to)}; browser sessions are not copied (sign in again). Start the monitors with --store ${describeStore(to)}.\n`,
          );
        } finally {
          await target.close();
        }
      } finally {
        await source.close();
      }
    });

  const token = monitor
    .command('token')
    .description('API tokens of the monitor (stored hashed in its data directory)');
  token
    .command('add <name>')
    .description('create a token (printed once, alone on its own line); it works at once, no restart')
    .requiredOption('--role <role>', `${ROLES.join(', ')}`)
    .option('--data <dir>', `the monitor's data directory (default: ${MONITOR_DEFAULTS.data})`)
    .option(
      '--store <url>',
      "the monitor's store when not SQLite in --data: postgres://… (as the monitor's --store)",
    )
    .action(async (name: string, options: { role: string }, command: Command) => {
      await withTokens(command, async (tokens) => {
        const value = await tokens.add(name, options.role);
        process.stdout.write(`${value}\n`);
        process.stderr.write(
          `token "${name}" (${options.role}) created: it is shown once; send it as Authorization: Bearer <token>\n`,
        );
      });
    });
  token
    .command('list')
    .description('token names and roles')
    .option('--data <dir>', `the monitor's data directory (default: ${MONITOR_DEFAULTS.data})`)
    .option(
      '--store <url>',
      "the monitor's store when not SQLite in --data: postgres://… (as the monitor's --store)",
    )
    .action(async (_options: unknown, command: Command) => {
      await withTokens(command, async (tokens) => {
        for (const t of await tokens.list()) process.stdout.write(`${t.name}\t${t.role}\t${t.createdAt}\n`);
      });
    });
  token
    .command('revoke <name>')
    .description('revoke a token: its holder gets 401 from the next request on')
    .option('--data <dir>', `the monitor's data directory (default: ${MONITOR_DEFAULTS.data})`)
    .option(
      '--store <url>',
      "the monitor's store when not SQLite in --data: postgres://… (as the monitor's --store)",
    )
    .action(async (name: string, _options: unknown, command: Command) => {
      await withTokens(command, async (tokens) => {
        if (!(await tokens.revoke(name)))
          throw new DockgateError('DG_CONFIG_INVALID', `no token named "${name}"`);
        process.stderr.write(`token "${name}" revoked\n`);
      });
    });

  const user = monitor
    .command('user')
    .description("the dashboard's users: browser sign-in with a password (stored as an argon2id hash)");
  user
    .command('add <name>')
    .description("create a user, or set a user's role and password (their open sessions end)")
    .requiredOption('--role <role>', `${ROLES.join(', ')}`)
    .option('--password-stdin', 'read the password from stdin (else it is asked at the terminal)')
    .option('--data <dir>', `the monitor's data directory (default: ${MONITOR_DEFAULTS.data})`)
    .option(
      '--store <url>',
      "the monitor's store when not SQLite in --data: postgres://… (as the monitor's --store)",
    )
    .action(async (name: string, options: { role: string; passwordStdin?: boolean }, command: Command) => {
      const password = await readPassword(options.passwordStdin === true);
      const { MonitorUsers } = await monitorModules();
      await withStore(command, (store) => new MonitorUsers(store.sql).add(name, options.role, password));
      process.stderr.write(`user "${name}" (${options.role}) can sign in to the dashboard now\n`);
    });
  user
    .command('list')
    .description('user names and roles')
    .option('--data <dir>', `the monitor's data directory (default: ${MONITOR_DEFAULTS.data})`)
    .option(
      '--store <url>',
      "the monitor's store when not SQLite in --data: postgres://… (as the monitor's --store)",
    )
    .action(async (_options: unknown, command: Command) => {
      const { MonitorUsers } = await monitorModules();
      await withStore(command, async (store) => {
        for (const u of await new MonitorUsers(store.sql).list())
          process.stdout.write(`${u.name}\t${u.role}\t${u.createdAt}\n`);
      });
    });
  user
    .command('remove <name>')
    .description('remove a user: their browser sessions end at the next request')
    .option('--data <dir>', `the monitor's data directory (default: ${MONITOR_DEFAULTS.data})`)
    .option(
      '--store <url>',
      "the monitor's store when not SQLite in --data: postgres://… (as the monitor's --store)",
    )
    .action(async (name: string, _options: unknown, command: Command) => {
      const { MonitorUsers } = await monitorModules();
      await withStore(command, async (store) => {
        if (!(await new MonitorUsers(store.sql).remove(name)))
          throw new DockgateError('DG_CONFIG_INVALID', `no user named "${name}"`);
        process.stderr.write(`user "${name}" removed\n`);
      });
    });
}

/**
 * `--data` and `--store` of `monitor token …`: commander gives an option to the command that
 * defines it, and `monitor` defines them too, so they are read with the parents' options.
 */
function storeOf(command: Command): StoreTarget {
  const options = command.optsWithGlobals() as { data?: string; store?: string };
  const data = resolve(options.data ?? envValue('DOCKGATE_MONITOR_DATA') ?? MONITOR_DEFAULTS.data);
  return parseStoreUrl(options.store ?? envValue('DOCKGATE_MONITOR_STORE'), data);
}

async function withTokens(command: Command, use: (tokens: MonitorTokens) => Promise<void>): Promise<void> {
  const { MonitorTokens } = await monitorModules();
  await withStore(command, (store) => use(new MonitorTokens(store.sql)));
}

async function withStore(command: Command, use: (store: Store) => Promise<void>): Promise<void> {
  const store = await (await monitorModules()).openStore(storeOf(command), createLogger('warn'));
  try {
    await use(store);
  } finally {
    await store.close();
  }
}

async function runMonitor(options: MonitorOptions): Promise<void> {
  const config = loadMonitorConfig(options);
  const log = createLogger(config.logLevel);
  // A monitor outlives one failed promise (a notifier, an engine that went away mid-call): it is
  // logged, never the end of the process.
  process.on('unhandledRejection', (error) => {
    log.error({ err: error instanceof Error ? error.stack : String(error) }, 'unhandled rejection');
  });
  const { Monitor } = await monitorModules();
  const monitor = await Monitor.open(config, log);
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  process.on('SIGHUP', () => monitor.reload('SIGHUP'));
  await monitor.start();
  log.info(
    {
      listen: monitor.url,
      engines: config.engines.map((e) => e.name),
      data: config.data,
      store: describeStore(config.store),
      version: DOCKGATE_VERSION,
    },
    'monitor listening',
  );
  process.stderr.write(`${monitor.summary(DOCKGATE_VERSION)}\n`);
  const signal = await stopped;
  log.info({ signal }, 'stopping');
  await monitor.stop();
  log.info('stopped');
  await flushLogs(log);
}

/** What `notify test` sends: an alert object like every other, marked as a test. */
function testAlert(): Alert {
  const now = new Date().toISOString();
  return {
    id: 'test',
    rule: 'died',
    kind: 'died',
    engine: 'test',
    container: { id: '0'.repeat(64), name: 'dockgate-notify-test' },
    state: 'open',
    openedAt: now,
    resolvedAt: null,
    acknowledgedAt: null,
    count: 1,
    summary: 'dockgate test message: notifications reach you',
    details: { exitCode: 1, logs: ['this is a test'] },
  };
}
