/**
 * The request path as dockerd's router will see it, reduced to one spelling so that rules match
 * what the engine acts on. Every spelling that two parsers could read differently is refused
 * instead of guessed: a proxy that decides on one reading while the engine acts on another is
 * bypassed (encoded slashes, dot segments, version-prefix tricks).
 */
export interface NormalisedTarget {
  /** The API path without its version prefix, percent-decoded, repeated slashes collapsed. */
  readonly path: string;
  /** The `/v1.41` prefix as sent ("" when unversioned). */
  readonly versionPrefix: string;
  /** The query string as sent, without "?" ("" when none). */
  readonly query: string;
  /** True when the path had to be rewritten (repeated slashes): forward `canonicalTarget`. */
  readonly rewritten: boolean;
  /** The target to forward: version prefix + re-encoded normalised path + query. */
  readonly canonicalTarget: string;
}

export type Normalised =
  | { readonly ok: true; readonly target: NormalisedTarget }
  | { readonly ok: false; readonly reason: string };

/** dockerd's router takes `/v{version:[0-9.]+}` as the version prefix (moby api/server). */
const VERSION_PREFIX = /^\/v[0-9.]+(?=\/|$)/;

export function normaliseTarget(target: string): Normalised {
  if (target.includes('#')) return refuse('"#" in the request target');
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return refuse('malformed percent-encoding in the path');
  }
  // Decoding must not create structure the raw path did not have, beyond "/" (which dockerd's
  // router also decodes before matching): no "?", no controls, no backslashes, no NUL.
  if (hasForbiddenChar(decoded)) return refuse('encoded control, "?" or "\\" in the path');
  const versionMatch = VERSION_PREFIX.exec(decoded);
  const versionPrefix = versionMatch === null ? '' : versionMatch[0];
  if (versionMatch !== null && !VERSION_PREFIX.test(rawPath)) {
    return refuse('percent-encoded API version prefix');
  }
  let path = decoded.slice(versionPrefix.length);
  if (path === '') path = '/';
  const collapsed = path.replace(/\/{2,}/g, '/');
  for (const segment of collapsed.split('/')) {
    if (segment === '.' || segment === '..') return refuse('dot segment in the path');
  }
  if (VERSION_PREFIX.test(collapsed) && versionPrefix !== '') return refuse('repeated API version prefix');
  const rewritten = collapsed !== path || (versionPrefix !== '' && decoded.startsWith(`${versionPrefix}//`));
  const canonicalTarget = `${versionPrefix}${encodePath(collapsed)}${q < 0 ? '' : `?${query}`}`;
  return {
    ok: true,
    target: {
      path: collapsed,
      versionPrefix,
      query,
      rewritten: rewritten || collapsed !== path,
      canonicalTarget,
    },
  };
}

function refuse(reason: string): Normalised {
  return { ok: false, reason: `ambiguous request path: ${reason}` };
}

/** Percent-encodes what a path segment cannot hold literally; "/" stays a separator. */
function encodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%3A/gi, ':').replace(/%40/g, '@'))
    .join('/');
}

/** Controls (including NUL and DEL), "?" and "\\": never part of a path dockerd routes. */
function hasForbiddenChar(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x3f || c === 0x5c) return true;
  }
  return false;
}
