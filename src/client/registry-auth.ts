import type { AuthConfig } from './types.js';

/**
 * `X-Registry-Auth` / `X-Registry-Config` as the engine decodes them: JSON in base64 with the URL
 * alphabet **and padding** (dockerd uses Go's base64.URLEncoding: plain base64's "+" and "/" break
 * credentials that contain them — docker-modem sends plain base64 — and without the trailing
 * "=" dockerd 20.10 loses the last bytes of the JSON and pushes with no credentials:
 * registry_auth_padding_regression).
 */
export function encodeRegistryHeader(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

export function registryAuthHeader(auth: AuthConfig | undefined): Record<string, string> {
  if (auth === undefined) return {};
  return { 'X-Registry-Auth': encodeRegistryHeader(auth) };
}

/** Credentials for several registries (build), keyed by registry address. */
export function registryConfigHeader(
  configs: Readonly<Record<string, AuthConfig>> | undefined,
): Record<string, string> {
  if (configs === undefined) return {};
  return { 'X-Registry-Config': encodeRegistryHeader(configs) };
}
