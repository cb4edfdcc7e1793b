import type { AuthConfig } from './types.js';

/**
 * `X-Registry-Auth` / `X-Registry-Config` as the engine decodes them: JSON in base64url
 * (dockerd uses base64.URLEncoding; plain base64's "+" and "/" break credentials that contain
 * them — docker-modem sends plain base64).
 */
export function registryAuthHeader(auth: AuthConfig | undefined): Record<string, string> {
  if (auth === undefined) return {};
  return { 'X-Registry-Auth': Buffer.from(JSON.stringify(auth)).toString('base64url') };
}

/** Credentials for several registries (build), keyed by registry address. */
export function registryConfigHeader(
  configs: Readonly<Record<string, AuthConfig>> | undefined,
): Record<string, string> {
  if (configs === undefined) return {};
  return { 'X-Registry-Config': Buffer.from(JSON.stringify(configs)).toString('base64url') };
}
