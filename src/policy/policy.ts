import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { TokenEntry } from '../auth/tokens.js';
import { DockgateError } from '../errors.js';
import { compileProfiles, type Profile, type ProfileSpec } from './profile.js';

/** A caller the policy knows by name: from a token, a client certificate, or both. */
export interface Identity {
  readonly name: string;
  readonly profile: Profile;
  readonly allowFrom: BlockList | undefined;
  readonly rateLimit: { readonly perSecond: number; readonly burst: number } | undefined;
  readonly concurrency: number | undefined;
}

export interface IdentitySpec {
  readonly profile?: string;
  /** Client-certificate names (CN or a DNS/URI/email SAN) that are this identity. */
  readonly certNames?: readonly string[];
  readonly allowFrom?: readonly string[];
  readonly rateLimit?: { readonly perSecond: number; readonly burst?: number };
  readonly concurrency?: number;
}

export interface ListenerPolicySpec {
  /** Profile for callers with no identity (no token, no known certificate). */
  readonly profile: string;
  readonly allowFrom?: readonly string[];
}

export interface PolicySpec {
  readonly profiles: Readonly<Record<string, ProfileSpec>>;
  readonly identities: Readonly<Record<string, IdentitySpec>>;
  /** Per listener URL. */
  readonly listeners: Readonly<Record<string, ListenerPolicySpec>>;
}

export interface ListenerPolicy {
  readonly profile: Profile;
  readonly allowFrom: BlockList | undefined;
}

/**
 * A compiled, immutable policy. A reload builds a new one and swaps it in whole; a request
 * decides on the one it started with.
 */
export interface Policy {
  readonly generation: number;
  readonly profiles: ReadonlyMap<string, Profile>;
  readonly identities: ReadonlyMap<string, Identity>;
  readonly byTokenHash: ReadonlyMap<string, Identity>;
  readonly byCertName: ReadonlyMap<string, Identity>;
  readonly listeners: ReadonlyMap<string, ListenerPolicy>;
}

export function compilePolicy(spec: PolicySpec, tokens: readonly TokenEntry[], generation: number): Policy {
  const profiles = compileProfiles(spec.profiles);
  const profileNamed = (name: string, where: string): Profile => {
    const p = profiles.get(name);
    if (p === undefined) {
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `${where}: unknown profile "${name}" (known: ${[...profiles.keys()].join(', ')})`,
      );
    }
    return p;
  };
  const identities = new Map<string, Identity>();
  const byCertName = new Map<string, Identity>();
  const byTokenHash = new Map<string, Identity>();
  const tokenProfile = new Map(tokens.map((t) => [t.name, t.profile]));
  const names = new Set([...Object.keys(spec.identities), ...tokenProfile.keys()]);
  for (const name of names) {
    const s = spec.identities[name] ?? {};
    const profileName = s.profile ?? tokenProfile.get(name);
    if (profileName === undefined)
      throw new DockgateError('DG_CONFIG_INVALID', `identity ${name} needs a profile`);
    const identity: Identity = {
      name,
      profile: profileNamed(profileName, `identity ${name}`),
      allowFrom: blockList(s.allowFrom, `identity ${name}`),
      rateLimit:
        s.rateLimit === undefined
          ? undefined
          : {
              perSecond: s.rateLimit.perSecond,
              burst: s.rateLimit.burst ?? Math.max(1, Math.ceil(s.rateLimit.perSecond)),
            },
      concurrency: s.concurrency,
    };
    identities.set(name, identity);
    for (const cert of s.certNames ?? []) {
      if (byCertName.has(cert))
        throw new DockgateError('DG_CONFIG_INVALID', `certificate name ${cert} is given to two identities`);
      byCertName.set(cert, identity);
    }
  }
  for (const token of tokens) byTokenHash.set(token.hash, identities.get(token.name) as Identity);
  const listeners = new Map<string, ListenerPolicy>();
  for (const [url, l] of Object.entries(spec.listeners)) {
    listeners.set(url, {
      profile: profileNamed(l.profile, `listener ${url}`),
      allowFrom: blockList(l.allowFrom, `listener ${url}`),
    });
  }
  return { generation, profiles, identities, byTokenHash, byCertName, listeners };
}

/** CIDR allow-list ("10.0.0.0/8", "::1", "fd00::/8") as a node:net BlockList. */
export function blockList(cidrs: readonly string[] | undefined, where: string): BlockList | undefined {
  if (cidrs === undefined) return undefined;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefixText] = cidr.split('/') as [string, string | undefined];
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (
      family === undefined ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > max ||
      (prefixText !== undefined && !/^\d+$/.test(prefixText))
    ) {
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `${where}: ${JSON.stringify(cidr)} is not an IPv4 or IPv6 address or CIDR`,
      );
    }
    list.addSubnet(address, prefix, family);
  }
  return list;
}

/** True when `address` (as Node reports it, IPv4-mapped IPv6 included) is in the list. */
export function addressAllowed(list: BlockList | undefined, address: string | undefined): boolean {
  if (list === undefined) return true;
  if (address === undefined) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return list.check(mapped[1] as string, 'ipv4') || list.check(address, 'ipv6');
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}
