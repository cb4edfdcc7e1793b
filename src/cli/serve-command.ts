import { type Command, Option } from 'commander';
import { loadServeConfig, PROFILES, type RawServeOptions, SERVE_DEFAULTS } from '../config/serve-config.js';
import { Gateway } from '../gateway/gateway.js';
import { createLogger, flushLogs } from '../log/logger.js';
import { DOCKGATE_VERSION } from '../version.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** `dockgate serve`: the Docker Engine API on TCP, TLS and unix sockets. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the Docker Engine API, forwarding to the engine')
    .option(
      '--listen <url>',
      `where to listen, repeatable: tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH (default: ${SERVE_DEFAULTS.listen.join(', ')})`,
      collect,
    )
    .option(
      '--upstream <url>',
      'the engine: unix://, npipe://, tcp://, https:// (default: DOCKER_HOST, then the standard socket)',
    )
    .addOption(
      new Option('--profile <name>', 'what callers may do').choices(PROFILES).default(SERVE_DEFAULTS.profile),
    )
    .option('--tls-cert <file>', 'PEM certificate for tls:// listeners')
    .option('--tls-key <file>', 'PEM private key for tls:// listeners')
    .option('--tls-client-ca <file>', 'PEM CA: tls:// clients must present a certificate it signed')
    .option('--socket-mode <octal>', 'permissions of unix socket listeners', SERVE_DEFAULTS.socketMode)
    .option(
      '--shutdown-grace <seconds>',
      'on SIGTERM/SIGINT, time given to requests under way',
      SERVE_DEFAULTS.shutdownGrace,
    )
    .option(
      '--max-header-size <bytes>',
      'largest request line + headers accepted (431 beyond)',
      SERVE_DEFAULTS.maxHeaderSize,
    )
    .option(
      '--log-level <level>',
      'trace, debug, info (one line per request), warn, error, silent',
      SERVE_DEFAULTS.logLevel,
    )
    .option(
      '--insecure',
      'allow the full profile on a non-loopback listener without client certificates',
      false,
    )
    .action(async (options: Omit<RawServeOptions, 'listen'> & { listen?: string[] }) => {
      const config = loadServeConfig({ ...options, listen: options.listen ?? [...SERVE_DEFAULTS.listen] });
      const log = createLogger(config.logLevel);
      const gateway = new Gateway(config, log);
      const urls = await gateway.start();
      for (const url of urls) {
        log.info(
          { listen: url, upstream: config.upstream.url, profile: config.profile, version: DOCKGATE_VERSION },
          'listening',
        );
      }
      process.stderr.write(
        `dockgate ${DOCKGATE_VERSION} listening on ${urls.join(', ')} → ${config.upstream.url}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          log.info({ signal, graceMs: config.shutdownGraceMs }, 'stopping');
          gateway.stop().then(resolve, resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      log.info('stopped');
      await flushLogs(log);
    });
}
