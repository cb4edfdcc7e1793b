/**
 * An image reference as the docker CLI reads it (distribution/reference's normalisation):
 * `nginx` → docker.io/library/nginx:latest, `ghcr.io/o/app:1.2`, `127.0.0.1:5000/app:v1`,
 * `app@sha256:…` (a digest pin). The registry is the first path component when it looks like a
 * host (a dot, a port, or `localhost`); Docker Hub's API host is registry-1.docker.io.
 */
export interface ImageReference {
  /** The registry as written in the reference (`docker.io` for Docker Hub). */
  readonly registry: string;
  /** The host the registry's API answers on. */
  readonly apiHost: string;
  /** `library/nginx`, `o/app`. */
  readonly repository: string;
  /** Undefined for a digest-only reference. */
  readonly tag: string | undefined;
  /** `sha256:…` when the reference pins one. */
  readonly digest: string | undefined;
}

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** Parses a reference; undefined when it is not one (an image id, garbage). */
export function parseImageReference(text: string): ImageReference | undefined {
  let rest = text.trim();
  if (rest === '' || /^sha256:[a-f0-9]{64}$/.test(rest) || /^[a-f0-9]{64}$/.test(rest)) return undefined;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) return undefined;
  return {
    registry,
    apiHost: registry === DOCKER_HUB ? DOCKER_HUB_API : registry,
    repository: parts.join('/'),
    tag: tag ?? (digest === undefined ? 'latest' : undefined),
    digest,
  };
}

/** The reference written out in full (`docker.io/library/nginx:latest`). */
export function referenceText(ref: ImageReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${ref.registry}/${ref.repository}${tag}${digest}`;
}

/** The `RepoDigests` entry of this repository (`127.0.0.1:5000/app@sha256:…`), if the image has one. */
export function repoDigestOf(ref: ImageReference, repoDigests: readonly string[]): string | undefined {
  for (const entry of repoDigests) {
    const parsed = parseImageReference(entry);
    if (parsed?.registry === ref.registry && parsed.repository === ref.repository) return parsed.digest;
  }
  return undefined;
}
