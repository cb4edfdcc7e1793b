import type { Command } from 'commander';
import { defaultTokenFile } from '../auth/tokens.js';
import { DockerClient } from '../client/index.js';
import { loadServeConfig, SERVE_DEFAULTS, type ServeConfig } from '../config/serve-config.js';
import {
  checkCertificate,
  checkEngine,
  checkNode,
  checkSocket,
  checkTokens,
  type Finding,
  formatFinding,
} from '../doctor/checks.js';
import { defaultEngineEndpoint, parseEngineUrl } from '../engine/endpoint.js';
import { isLoopback } from '../gateway/listen-address.js';
import { optionsFromEnv } from './env-options.js';
import { SERVE_ENV } from './serve-command.js';

interface DoctorOptions {
  listen?: string[];
  upstream?: string;
  profile?: string;
  config?: string;
  tokens?: string;
  insecure?: boolean;
  tecnativaEnv?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * `dockgate doctor`: checks what `dockgate serve` with the same options (and DOCKGATE_*
 * variables) would meet — Node, the engine's socket and its permissions, the engine's versions,
 * listeners that protected mode refuses, the token store's permissions, TLS certificates — and
 * says what to fix, one line per finding. Exit status 1 when any is an error.
 */
export function registerDoctorCommand(program: Command): void {
  const doctor = program
    .command('doctor')
    .description('check the engine, its socket, the listeners and the token store; say what to fix')
    .option('--listen <url>', 'a listener serve would open, repeatable', collect)
    .option('--upstream <url>', 'the engine (default: DOCKER_HOST, then the standard socket)')
    .option('--profile <name>', 'profile of callers with no identity', SERVE_DEFAULTS.profile)
    .option('--config <file>', 'YAML config (profiles, identities, listeners)')
    .option('--tokens <file>', 'token store (default: $DOCKGATE_TOKENS or ~/.config/dockgate/tokens.json)')
    .option('--insecure', 'as serve --insecure')
    .option('--tecnativa-env', 'as serve --tecnativa-env')
    .option('--tls-cert <file>', 'as serve --tls-cert')
    .option('--tls-key <file>', 'as serve --tls-key')
    .option('--tls-client-ca <file>', 'as serve --tls-client-ca')
    .action(async (options: DoctorOptions) => {
      const findings = await diagnose(options);
      for (const finding of findings) process.stdout.write(`${formatFinding(finding)}\n`);
      const errors = findings.filter((f) => f.level === 'error').length;
      process.stdout.write(
        errors === 0
          ? 'no errors\n'
          : `${errors} error${errors === 1 ? '' : 's'}: dockgate serve would fail or be unsafe\n`,
      );
      process.exitCode = errors === 0 ? 0 : 1;
    });
  optionsFromEnv(doctor, 'DOCKGATE_', SERVE_ENV);
}

export async function diagnose(options: DoctorOptions): Promise<Finding[]> {
  const findings: Finding[] = [checkNode()];
  let config: ServeConfig | undefined;
  try {
    config = loadServeConfig({
      listen: options.listen ?? [],
      profile: options.profile ?? SERVE_DEFAULTS.profile,
      socketMode: SERVE_DEFAULTS.socketMode,
      shutdownGrace: SERVE_DEFAULTS.shutdownGrace,
      maxHeaderSize: SERVE_DEFAULTS.maxHeaderSize,
      logLevel: 'info',
      insecure: options.insecure === true,
      ...(options.upstream === undefined ? {} : { upstream: options.upstream }),
      ...(options.config === undefined ? {} : { config: options.config }),
      ...(options.tokens === undefined ? {} : { tokens: options.tokens }),
      ...(options.tecnativaEnv === undefined ? {} : { tecnativaEnv: options.tecnativaEnv }),
      ...(options.tlsCert === undefined ? {} : { tlsCert: options.tlsCert }),
      ...(options.tlsKey === undefined ? {} : { tlsKey: options.tlsKey }),
      ...(options.tlsClientCa === undefined ? {} : { tlsClientCa: options.tlsClientCa }),
    });
    for (const address of config.listen) {
      const profile = config.policy.listeners.get(address.url)?.profile.name ?? '?';
      findings.push({
        level: 'ok',
        subject: 'listener',
        message: `${address.url}: ${isLoopback(address) ? 'this host only' : 'reachable from other hosts'}, callers without a token get ${profile}`,
      });
    }
  } catch (cause) {
    findings.push({
      level: 'error',
      subject: 'config',
      message: (cause as Error).message,
      fix: 'see docs/access-control.md (protected mode: tokens, a TLS client CA, or --insecure)',
    });
  }
  let endpoint = config?.upstream;
  try {
    endpoint ??= options.upstream === undefined ? defaultEngineEndpoint() : parseEngineUrl(options.upstream);
  } catch (cause) {
    findings.push({ level: 'error', subject: 'engine', message: (cause as Error).message });
  }
  if (endpoint !== undefined) {
    const socket = checkSocket(endpoint);
    findings.push(...socket);
    // A socket this user cannot use has been said; asking the engine through it would say it twice.
    if (!socket.some((f) => f.level === 'error' && !/writable by every user/.test(f.message))) {
      const client = new DockerClient({ engine: endpoint });
      try {
        findings.push(await checkEngine(client));
      } finally {
        await client.close();
      }
    }
  }
  findings.push(...checkTokens(config?.policySource.tokensFile ?? options.tokens ?? defaultTokenFile()));
  if (options.tlsCert !== undefined) findings.push(checkCertificate(options.tlsCert));
  return findings;
}
