import { isIP } from 'node:net';
import { DockgateError } from '../errors.js';

/** A place the gateway accepts connections. `url` is the normalised form used in logs. */
export type ListenAddress =
  | { readonly kind: 'tcp' | 'tls'; readonly url: string; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly url: string; readonly path: string };

/**
 * `tcp://HOST:PORT`, `tls://HOST:PORT` (IPv6 as `[::1]`; port 0 picks a free one) or
 * `unix:///absolute/path`. Host names are refused: a listener binds an address, and a name
 * that resolves differently tomorrow is how a loopback-only gateway ends up public.
 */
export function parseListenAddress(raw: string): ListenAddress {
  const fail = (why: string): never => {
    throw new DockgateError('DG_CONFIG_INVALID', `invalid --listen "${raw}": ${why}`);
  };
  if (raw.startsWith('unix://')) {
    const path = raw.slice('unix://'.length);
    if (!path.startsWith('/')) fail('a unix socket path must be absolute (unix:///run/dockgate.sock)');
    return { kind: 'unix', url: `unix://${path}`, path };
  }
  const match = /^(tcp|tls):\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(raw);
  if (match === null) return fail('expected tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH');
  const [, scheme, rawHost, rawPort] = match as unknown as [string, 'tcp' | 'tls', string, string];
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (host === 'localhost') return parseListenAddress(`${scheme}://127.0.0.1:${rawPort}`);
  if (isIP(host) === 0) fail(`"${host}" is not an IP address (use 127.0.0.1, [::1], 0.0.0.0 or [::])`);
  const port = Number(rawPort);
  if (port > 65535) fail('port out of range');
  const shown = host.includes(':') ? `[${host}]` : host;
  return { kind: scheme, url: `${scheme}://${shown}:${port}`, host, port };
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. Unix sockets are local by nature. */
export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  const host = address.host.toLowerCase();
  return host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}
