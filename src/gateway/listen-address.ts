import { isIP } from 'node:net';
import { DockgateError } from '../errors.js';

/** A place the gateway accepts connections. `url` is the normalised form used in logs. */
export type ListenAddress =
  | { readonly kind: 'tcp' | 'tls'; readonly url: string; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly url: string; readonly path: string }
  /** A listening socket passed by systemd (socket activation): `fd://` is the first, fd 3. */
  | { readonly kind: 'fd'; readonly url: string; readonly fd: number };

/** The first file descriptor systemd passes (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

/**
 * `tcp://HOST:PORT`, `tls://HOST:PORT` (IPv6 as `[::1]`; port 0 picks a free one),
 * `unix:///absolute/path`, or `fd://` / `fd://N` (a socket systemd passed, as dockerd's `-H fd://`). Host names are refused: a listener binds an address, and a name
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
  if (raw.startsWith('fd://')) {
    const rest = raw.slice('fd://'.length);
    if (rest !== '' && !/^\d{1,4}$/.test(rest)) fail('expected fd:// (the first passed socket) or fd://N');
    const fd = rest === '' ? LISTEN_FDS_START : Number(rest);
    if (fd < LISTEN_FDS_START) fail(`passed sockets start at fd ${LISTEN_FDS_START}`);
    return { kind: 'fd', url: `fd://${fd}`, fd };
  }
  const match = /^(tcp|tls):\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(raw);
  if (match === null) return fail('expected tcp://HOST:PORT, tls://HOST:PORT, unix:///PATH or fd://');
  const [, scheme, rawHost, rawPort] = match as unknown as [string, 'tcp' | 'tls', string, string];
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (host === 'localhost') return parseListenAddress(`${scheme}://127.0.0.1:${rawPort}`);
  if (isIP(host) === 0) fail(`"${host}" is not an IP address (use 127.0.0.1, [::1], 0.0.0.0 or [::])`);
  const port = Number(rawPort);
  if (port > 65535) fail('port out of range');
  const shown = host.includes(':') ? `[${host}]` : host;
  return { kind: scheme, url: `${scheme}://${shown}:${port}`, host, port };
}

/**
 * True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. Unix sockets are local by nature. A passed
 * socket (fd://) is judged as if public: which address systemd bound is not known when the
 * policy is checked, so protected mode applies to it in full.
 */
export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  if (address.kind === 'fd') return false;
  const host = address.host.toLowerCase();
  return host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}
