import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { DockgateError } from '../errors.js';

/**
 * The token store: one JSON file of names, profiles and SHA-256 hashes. The token itself is
 * printed once by `dockgate token add` and never stored. Tokens carry 256 random bits, so a
 * plain SHA-256 is enough to make a stolen store useless (a slow password hash protects
 * guessable secrets, which these are not) and keeps the per-request lookup one hash.
 */
export interface TokenEntry {
  readonly name: string;
  readonly profile: string;
  readonly hash: string;
  readonly created: string;
}

const storeSchema = z.object({
  version: z.literal(1),
  tokens: z.array(
    z.object({
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/),
      profile: z.string().min(1),
      hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
      created: z.string(),
    }),
  ),
});

export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** `$DOCKGATE_TOKENS`, else `$XDG_CONFIG_HOME/dockgate/tokens.json` (~/.config/…). */
export function defaultTokenFile(): string {
  const env = process.env.DOCKGATE_TOKENS;
  if (env !== undefined && env !== '') return env;
  const base = process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  return join(base, 'dockgate', 'tokens.json');
}

export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** Reads the store; a missing file is an empty store, a malformed one an error. */
export function readTokens(file: string): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new DockgateError('DG_CONFIG_INVALID', `token store ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `token store ${file} is not JSON: ${(error as Error).message}`,
    );
  }
  const parsed = storeSchema.safeParse(json);
  if (!parsed.success) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `token store ${file}: ${parsed.error.issues[0]?.message ?? 'invalid'} at ${parsed.error.issues[0]?.path.join('.')}`,
    );
  }
  return parsed.data.tokens;
}

function writeTokens(file: string, tokens: readonly TokenEntry[]): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ version: 1, tokens }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file); // atomic: a gateway watching the file never reads half of it
}

/** Creates a token; returns the secret, which is not stored anywhere. */
export function addToken(file: string, name: string, profile: string): string {
  if (!TOKEN_NAME.test(name)) {
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `token name ${JSON.stringify(name)}: use letters, digits, ".", "_", "@", "-" (at most 64)`,
    );
  }
  const tokens = readTokens(file);
  if (tokens.some((t) => t.name === name)) {
    throw new DockgateError('DG_CONFIG_INVALID', `a token named ${name} exists; revoke it first`);
  }
  const secret = `dg_${randomBytes(32).toString('base64url')}`;
  writeTokens(file, [
    ...tokens,
    { name, profile, hash: hashToken(secret), created: new Date().toISOString() },
  ]);
  return secret;
}

export function revokeToken(file: string, name: string): void {
  const tokens = readTokens(file);
  if (!tokens.some((t) => t.name === name))
    throw new DockgateError('DG_CONFIG_INVALID', `no token named ${name} in ${file}`);
  writeTokens(
    file,
    tokens.filter((t) => t.name !== name),
  );
}
