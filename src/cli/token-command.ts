import type { Command } from 'commander';
import { addToken, defaultTokenFile, readTokens, revokeToken } from '../auth/tokens.js';
import { readConfigFile } from '../config/policy-file.js';
import { DockgateError } from '../errors.js';
import { presetProfiles } from '../policy/presets.js';
import { BUILTIN_NAMES } from '../policy/profile.js';

interface TokenOptions {
  readonly tokens?: string;
  readonly config?: string;
}

/** The token store to use: --tokens, else the config file's `tokens:`, else the default. */
function storeOf(options: TokenOptions): string {
  if (options.tokens !== undefined) return options.tokens;
  if (options.config !== undefined) {
    const file = readConfigFile(options.config).tokens;
    if (file !== undefined) return file;
  }
  return defaultTokenFile();
}

/** `dockgate token add|list|revoke`: bearer tokens, stored as hashes only. */
export function registerTokenCommand(program: Command): void {
  const token = program.command('token').description('manage bearer tokens (stored hashed; shown once)');
  const common = (c: Command): Command =>
    c
      .option('--tokens <file>', 'token store (default: $DOCKGATE_TOKENS or ~/.config/dockgate/tokens.json)')
      .option('--config <file>', 'config file (its profiles are valid, its tokens: file is used)');
  common(
    token
      .command('add <name>')
      .description('create a token for NAME; prints it once')
      .requiredOption(
        '--profile <profile>',
        'what the token may do: read-only, manage, deploy, full, a preset or a config profile',
      ),
  ).action((name: string, options: TokenOptions & { profile: string }) => {
    const known = new Set([
      ...BUILTIN_NAMES,
      ...Object.keys(presetProfiles()),
      ...Object.keys(options.config === undefined ? {} : (readConfigFile(options.config).profiles ?? {})),
    ]);
    if (!known.has(options.profile)) {
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `unknown profile "${options.profile}" (known: ${[...known].join(', ')})`,
      );
    }
    const file = storeOf(options);
    const secret = addToken(file, name, options.profile);
    process.stderr.write(
      `token ${name} (profile ${options.profile}) added to ${file}; it is shown only now:\n`,
    );
    process.stdout.write(`${secret}\n`);
  });
  common(token.command('list').description('list tokens (names, profiles, dates; never the tokens)')).action(
    (options: TokenOptions) => {
      const tokens = readTokens(storeOf(options));
      if (tokens.length === 0) {
        process.stdout.write('no tokens\n');
        return;
      }
      const width = Math.max(4, ...tokens.map((t) => t.name.length));
      process.stdout.write(`${'NAME'.padEnd(width)}  PROFILE       CREATED\n`);
      for (const t of tokens)
        process.stdout.write(`${t.name.padEnd(width)}  ${t.profile.padEnd(12)}  ${t.created}\n`);
    },
  );
  common(
    token.command('revoke <name>').description('revoke a token (a running gateway picks it up at once)'),
  ).action((name: string, options: TokenOptions) => {
    const file = storeOf(options);
    revokeToken(file, name);
    process.stderr.write(`token ${name} revoked in ${file}\n`);
  });
}
