import { readTokens } from '../auth/tokens.js';
import { DockgateError } from '../errors.js';
import { isLoopback, type ListenAddress } from '../gateway/listen-address.js';
import { compilePolicy, type IdentitySpec, type ListenerPolicySpec, type Policy } from '../policy/policy.js';
import { presetProfiles } from '../policy/presets.js';
import { BUILTIN_NAMES, type Profile, type ProfileSpec } from '../policy/profile.js';
import { tecnativaProfile } from '../policy/tecnativa.js';
import { type ConfigFile, readConfigFile } from './policy-file.js';

/** Where the policy comes from; read again, whole, on every reload. */
export interface PolicySource {
  readonly configFile: string | undefined;
  readonly tokensFile: string;
  /** Listeners and their default profile (from --listen/--profile and the config file). */
  readonly listeners: readonly {
    readonly address: ListenAddress;
    readonly profile: string;
    readonly allowFrom?: readonly string[] | undefined;
  }[];
  /** Build the `tecnativa` profile from the environment (--tecnativa-env). */
  readonly tecnativa: boolean;
  /** tls:// listeners require a client certificate (a client CA is configured). */
  readonly clientCertsRequired: boolean;
  readonly insecure: boolean;
}

/** Reads config, tokens and environment, and compiles the policy; throws on any problem. */
export function loadPolicy(source: PolicySource, generation: number, file?: ConfigFile): Policy {
  const config = file ?? (source.configFile === undefined ? undefined : readConfigFile(source.configFile));
  const own = config?.profiles ?? {};
  for (const name of Object.keys(own)) {
    if (BUILTIN_NAMES.includes(name)) {
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `config ${source.configFile}: profiles.${name}: "${name}" is built in; extend it under another name`,
      );
    }
  }
  const profiles: Record<string, ProfileSpec> = {
    ...presetProfiles(),
    ...(own as Record<string, ProfileSpec>),
  };
  if (source.tecnativa) profiles.tecnativa = tecnativaProfile(process.env).profile;
  const listeners: Record<string, ListenerPolicySpec> = {};
  for (const l of source.listeners) {
    if (l.allowFrom !== undefined && l.address.kind === 'unix') {
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `listener ${l.address.url}: allowFrom needs a tcp:// or tls:// listener`,
      );
    }
    listeners[l.address.url] = {
      profile: l.profile,
      ...(l.allowFrom === undefined ? {} : { allowFrom: l.allowFrom }),
    };
  }
  const policy = compilePolicy(
    { profiles, identities: (config?.identities ?? {}) as Record<string, IdentitySpec>, listeners },
    readTokens(config?.tokens ?? source.tokensFile),
    generation,
  );
  assertProtected(source, policy);
  return policy;
}

/**
 * Protected mode: a listener on a non-loopback address must not give a caller who has proven
 * nothing (no token, no client certificate) more than read-only. Refused unless --insecure.
 */
function assertProtected(source: PolicySource, policy: Policy): void {
  if (source.insecure) return;
  for (const l of source.listeners) {
    if (isLoopback(l.address)) continue;
    if (l.address.kind === 'tls' && source.clientCertsRequired) continue;
    const profile = policy.listeners.get(l.address.url)?.profile as Profile;
    const beyond = beyondReadOnly(profile);
    if (beyond === undefined) continue;
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      `listener ${l.address.url} would give anyone who can reach it the "${profile.name}" profile (${beyond}). ` +
        'Give unauthenticated callers the read-only profile there (and hand out tokens: dockgate token add NAME --profile P), ' +
        'listen on loopback or a unix socket, use tls:// with --tls-client-ca, or pass --insecure if that is really what you want',
    );
  }
}

/** Requests a read-only caller must never get; a profile allowing any of them is more. */
const BEYOND_READ_ONLY: readonly [string, string][] = [
  ['POST', '/containers/create'],
  ['POST', '/containers/x/start'],
  ['DELETE', '/containers/x'],
  ['POST', '/containers/x/exec'],
  ['GET', '/containers/x/archive'],
  ['GET', '/containers/x/export'],
  ['GET', '/images/get'],
  ['GET', '/images/x/get'],
  ['POST', '/images/create'],
  ['POST', '/build'],
  ['GET', '/containers/x/attach/ws'],
  ['POST', '/volumes/create'],
  ['PUT', '/containers/x/archive'],
];

export function beyondReadOnly(profile: Profile): string | undefined {
  for (const [method, path] of BEYOND_READ_ONLY) {
    const rule = profile.rules.find(
      (r) => (r.methods.size === 0 || r.methods.has(method)) && r.regex.test(path),
    );
    if (rule?.action === 'allow') return `it allows ${method} ${path}`;
  }
  for (const rule of profile.rules) {
    if (
      rule.action === 'allow' &&
      (rule.methods.size === 0 || [...rule.methods].some((m) => m !== 'GET' && m !== 'HEAD'))
    ) {
      return `rule ${rule.name} allows ${rule.source.slice('allow '.length)}`;
    }
  }
  if (!profile.redactEnv) return 'Env values of containers are not redacted';
  return undefined;
}
