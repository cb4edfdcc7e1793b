import { readFileSync } from 'node:fs';
import type { UpdatesConfig } from '../config/monitor-config.js';
import type { RegistryAccess } from './registry-client.js';

/** `https://index.docker.io/v1/`, `127.0.0.1:5000`, `ghcr.io` → the registry as references name it. */
function registryHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/** `auths` of a docker config.json: host → user and password (not credential helpers). */
export function dockerConfigAuths(
  file: string | undefined,
): Map<string, { username: string; password: string }> {
  const auths = new Map<string, { username: string; password: string }>();
  if (file === undefined) return auths;
  let parsed: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
  } catch {
    return auths; // absent or unreadable: no credentials from it (the docker CLI does the same)
  }
  for (const [key, entry] of Object.entries(parsed.auths ?? {})) {
    let username = entry.username;
    let password = entry.password;
    if (entry.auth !== undefined) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        username = decoded.slice(0, colon);
        password = decoded.slice(colon + 1);
      }
    }
    if (username !== undefined && password !== undefined)
      auths.set(registryHost(key), { username, password });
  }
  return auths;
}

/**
 * How to reach each registry: the config's `registries:` first (credentials, `insecure`), then a
 * docker config.json's `auths` (read again at each check, so a `docker login` is seen). Plain
 * http only for a registry listed with `insecure: true`.
 */
export function registryAccess(config: UpdatesConfig): (registry: string) => RegistryAccess {
  const auths = dockerConfigAuths(config.dockerConfig);
  return (registry) => {
    const listed = config.registries.find((r) => registryHost(r.host) === registry);
    const fromFile = auths.get(registry);
    return {
      insecure: listed?.insecure === true,
      username: listed?.username ?? fromFile?.username,
      password: listed?.password ?? fromFile?.password,
    };
  };
}
