import { request } from 'undici';
import type { ImageReference } from './image-reference.js';

/** What the monitor knows of a registry: from `registries:` in its config or a docker config.json. */
export interface RegistryAccess {
  /** Plain http (only when listed with `insecure: true`). */
  readonly insecure: boolean;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

export type DigestAnswer =
  | { readonly kind: 'digest'; readonly digest: string }
  | {
      readonly kind: 'error';
      readonly reason: 'unauthorized' | 'not-found' | 'rate-limited' | 'unreachable' | 'bad-answer';
      readonly message: string;
      /** From Retry-After on a 429. */
      readonly retryAfterMs?: number | undefined;
    };

/**
 * Every manifest kind a tag can point at: the digest of a multi-platform tag is its index's (what
 * `RepoDigests` records on pull), so an index type must be accepted or a v2 registry would answer
 * a converted manifest with another digest.
 */
export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const TIMEOUT_MS = 15_000;

interface Token {
  readonly value: string;
  readonly expires: number;
}

/**
 * A tag's current digest, by a `HEAD` of its manifest (HEADs do not count against Docker Hub's
 * pull limit), with the registry's challenge answered: `Bearer` (a token from the realm,
 * anonymous or with the registry's credentials) or `Basic` (htpasswd registries). Tokens are kept
 * for their lifetime per registry and scope.
 */
export class RegistryClient {
  readonly #access: (registry: string) => RegistryAccess;
  readonly #tokens = new Map<string, Token>();
  readonly #now: () => number;
  /** Requests sent, by registry host (tests count them: no request storm). */
  readonly sent = new Map<string, number>();

  constructor(access: (registry: string) => RegistryAccess, now: () => number = Date.now) {
    this.#access = access;
    this.#now = now;
  }

  async digest(ref: ImageReference, signal?: AbortSignal): Promise<DigestAnswer> {
    const access = this.#access(ref.registry);
    const base = `${access.insecure ? 'http' : 'https'}://${ref.apiHost}`;
    const url = `${base}/v2/${ref.repository}/manifests/${ref.tag ?? ref.digest ?? 'latest'}`;
    const scope = `repository:${ref.repository}:pull`;
    const tokenKey = `${ref.apiHost} ${scope}`;
    try {
      let authorization = this.#cachedToken(tokenKey);
      for (let round = 0; round < 2; round++) {
        const answer = await this.#send(
          ref.apiHost,
          'HEAD',
          url,
          { accept: MANIFEST_TYPES, authorization },
          signal,
        );
        if (answer.status === 200) {
          const digest = header(answer.headers, 'docker-content-digest');
          if (digest === undefined || !/^sha256:[a-f0-9]{64}$/.test(digest))
            return error('bad-answer', `${ref.apiHost} answered no Docker-Content-Digest`);
          return { kind: 'digest', digest };
        }
        if (answer.status === 401 && round === 0) {
          const challenge = parseChallenge(header(answer.headers, 'www-authenticate') ?? '');
          if (challenge === undefined)
            return error('unauthorized', `${ref.apiHost}: 401 without a challenge`);
          if (challenge.scheme === 'basic') {
            if (access.username === undefined)
              return error('unauthorized', `${ref.apiHost}: unauthorized (no credentials)`);
            authorization = basic(access);
            continue;
          }
          const token = await this.#token(challenge.params, scope, access, ref.apiHost, signal);
          if (typeof token !== 'string') return token;
          authorization = `Bearer ${token}`;
          continue;
        }
        if (answer.status === 401 || answer.status === 403)
          return error('unauthorized', `${ref.apiHost}: unauthorized (${answer.status})`);
        if (answer.status === 404)
          return error('not-found', `${ref.repository}:${ref.tag ?? ''} not found on ${ref.apiHost}`);
        if (answer.status === 429) {
          const after = Number(header(answer.headers, 'retry-after'));
          return {
            ...error('rate-limited', `${ref.apiHost}: too many requests (429)`),
            retryAfterMs: Number.isFinite(after) && after > 0 ? after * 1000 : undefined,
          };
        }
        return error('bad-answer', `${ref.apiHost} answered ${answer.status}`);
      }
      return error('unauthorized', `${ref.apiHost}: unauthorized`);
    } catch (failure) {
      return error('unreachable', `${ref.apiHost}: ${(failure as Error).message}`);
    }
  }

  #cachedToken(key: string): string | undefined {
    const token = this.#tokens.get(key);
    if (token === undefined || token.expires <= this.#now()) return undefined;
    return `Bearer ${token.value}`;
  }

  /** The Bearer flow: a token for `scope` from the challenge's realm. */
  async #token(
    params: Readonly<Record<string, string>>,
    scope: string,
    access: RegistryAccess,
    host: string,
    signal: AbortSignal | undefined,
  ): Promise<string | DigestAnswer> {
    const realm = params.realm;
    if (realm === undefined) return error('unauthorized', `${host}: a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      return error('bad-answer', `${host}: the token realm is not a URL`);
    }
    if (params.service !== undefined) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? scope);
    // Credentials go to the realm over https, or to the registry's own host.
    const sendCredentials = access.username !== undefined && (url.protocol === 'https:' || url.host === host);
    const answer = await this.#send(
      url.host,
      'GET',
      url.toString(),
      { authorization: sendCredentials ? basic(access) : undefined },
      signal,
      true,
    );
    if (answer.status === 401 || answer.status === 403)
      return error('unauthorized', `${host}: unauthorized (token ${answer.status})`);
    if (answer.status !== 200)
      return error('bad-answer', `${host}: the token realm answered ${answer.status}`);
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(answer.text) as typeof body;
    } catch {
      return error('bad-answer', `${host}: the token realm answered no JSON`);
    }
    const value = body.token ?? body.access_token;
    if (value === undefined) return error('bad-answer', `${host}: the token realm answered no token`);
    const lifetime = Math.max(30, Math.min(body.expires_in ?? 60, 3600)) * 1000;
    this.#tokens.set(`${host} ${scope}`, { value, expires: this.#now() + lifetime - 10_000 });
    return value;
  }

  async #send(
    host: string,
    method: 'HEAD' | 'GET',
    url: string,
    headers: Record<string, string | undefined>,
    signal: AbortSignal | undefined,
    readBody = false,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    this.sent.set(host, (this.sent.get(host) ?? 0) + 1);
    const clean: Record<string, string> = { 'user-agent': 'dockgate-monitor' };
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) clean[k] = v;
    const answer = await request(url, {
      method,
      headers: clean,
      signal: signal ?? AbortSignal.timeout(TIMEOUT_MS),
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
    let text = '';
    if (readBody) text = await answer.body.text();
    else await answer.body.dump();
    return { status: answer.statusCode, headers: answer.headers, text };
  }
}

type DigestError = Extract<DigestAnswer, { kind: 'error' }>;

function error(reason: DigestError['reason'], message: string): DigestError {
  return { kind: 'error', reason, message };
}

function basic(access: RegistryAccess): string {
  return `Basic ${Buffer.from(`${access.username ?? ''}:${access.password ?? ''}`).toString('base64')}`;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export function parseChallenge(
  text: string,
): { scheme: 'bearer' | 'basic'; params: Record<string, string> } | undefined {
  const match = /^\s*(\w+)\s*(.*)$/s.exec(text);
  if (match === null) return undefined;
  const scheme = (match[1] as string).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  for (const pair of (match[2] as string).matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g))
    params[(pair[1] as string).toLowerCase()] = (pair[2] ?? pair[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme, params };
}
