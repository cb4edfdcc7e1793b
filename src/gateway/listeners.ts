import { chmodSync, existsSync, fstatSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { TlsListenerMaterial } from '../config/serve-config.js';
import { KEEPALIVE_IDLE_MS, SOCKET_BUFFER_BYTES } from '../engine/connect.js';
import { DockgateError } from '../errors.js';
import { LISTEN_FDS_START, type ListenAddress } from './listen-address.js';

export interface OpenListener {
  readonly address: ListenAddress;
  /** The URL actually bound (port 0 resolved). */
  readonly url: string;
  close(): Promise<void>;
}

export interface ListenOptions {
  readonly tls: TlsListenerMaterial | undefined;
  /**
   * False in a worker of a pool: the primary process creates the socket files (it owns the
   * listening handles) and has already replaced stale ones.
   */
  readonly replaceStaleSocket: boolean;
  readonly socketMode: number;
  readonly onConnection: (socket: Socket, listener: OpenListener) => void;
  readonly onTlsError: (error: Error, listener: ListenAddress) => void;
  readonly onAcceptError: (error: Error, listener: ListenAddress) => void;
}

/**
 * Opens one listener. Every socket is half-open capable (allowHalfOpen) so that a client's FIN
 * reaches the engine as a FIN and the answer can still flow back.
 */
export async function openListener(address: ListenAddress, options: ListenOptions): Promise<OpenListener> {
  let server: Server;
  if (address.kind === 'tls') {
    const tls = options.tls;
    if (tls === undefined)
      throw new DockgateError('DG_CONFIG_INVALID', `${address.url} needs --tls-cert and --tls-key`);
    // allowHalfOpen is passed on to each TLSSocket by Node; its typings omit it.
    const tlsOptions = {
      cert: tls.cert,
      key: tls.key,
      minVersion: 'TLSv1.2' as const,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_IDLE_MS,
      ...(tls.clientCa !== undefined && { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
    };
    try {
      server = createTlsServer(tlsOptions);
    } catch (cause) {
      throw new DockgateError('DG_TLS_MATERIAL', `${address.url}: ${(cause as Error).message}`, { cause });
    }
    server.on('tlsClientError', (error: Error) => options.onTlsError(error, address));
  } else {
    server = createServer({
      allowHalfOpen: true,
      noDelay: address.kind === 'tcp',
      keepAlive: address.kind === 'tcp',
      keepAliveInitialDelay: KEEPALIVE_IDLE_MS,
      // Client sockets buffer as much as engine sockets before backpressure pauses the engine.
      highWaterMark: SOCKET_BUFFER_BYTES,
    });
  }
  if (address.kind === 'unix' && options.replaceStaleSocket) await removeStaleSocket(address.path);

  let bound = address.url;
  const listener: OpenListener = {
    address,
    get url() {
      return bound;
    },
    close: () => closeServer(server, address),
  };
  server.on(address.kind === 'tls' ? 'secureConnection' : 'connection', (socket: Socket | TLSSocket) =>
    options.onConnection(socket, listener),
  );

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new DockgateError(
          'DG_LISTEN_FAILED',
          `cannot listen on ${address.url}: ${error.code ?? error.message}`,
        ),
      );
    };
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (address.kind === 'unix') {
      // Create the socket with no permissions for group/other, then widen to the asked mode:
      // no moment where anyone on the host could connect.
      const previous = process.umask(0o177);
      try {
        server.listen(address.path, done);
      } finally {
        process.umask(previous);
      }
    } else if (address.kind === 'fd') {
      server.listen({ fd: passedSocket(address.fd) }, done);
    } else {
      server.listen({ host: address.host, port: address.port, ipv6Only: address.host.includes(':') }, done);
    }
  });
  // After listening, what reaches here is an accept failure: out of file descriptors (EMFILE)
  // most of the time. The server keeps listening; the operator needs to know.
  server.on('error', (error: Error) => options.onAcceptError(error, address));

  if (address.kind === 'unix') {
    chmodSync(address.path, options.socketMode);
  } else if (address.kind === 'fd') {
    const info = server.address();
    if (info !== null && typeof info === 'object') {
      const host = info.address.includes(':') ? `[${info.address}]` : info.address;
      bound = `${address.url} (tcp://${host}:${info.port})`;
    } else if (typeof info === 'string') bound = `${address.url} (unix://${info})`;
  } else {
    const info = server.address();
    if (info !== null && typeof info === 'object') {
      const host = info.address.includes(':') ? `[${info.address}]` : info.address;
      bound = `${address.kind}://${host}:${info.port}`;
    }
  }
  return listener;
}

/**
 * The socket systemd passed as `fd` (socket activation: LISTEN_FDS sockets from fd 3 on, as
 * sd_listen_fds(3) reads them). Checked before use: a gateway started by hand with `fd://` must
 * say so, not listen on whatever fd 3 happens to be.
 */
function passedSocket(fd: number): number {
  const count = Number(process.env.LISTEN_FDS ?? '0');
  if (!Number.isInteger(count) || fd >= LISTEN_FDS_START + count) {
    throw new DockgateError(
      'DG_LISTEN_FAILED',
      `fd://${fd}: no such socket was passed (LISTEN_FDS=${process.env.LISTEN_FDS || 'unset'}); fd:// is for systemd socket activation (ListenStream=)`,
    );
  }
  let isSocket = false;
  try {
    isSocket = fstatSync(fd).isSocket();
  } catch {
    // not open
  }
  if (!isSocket)
    throw new DockgateError('DG_LISTEN_FAILED', `fd://${fd}: file descriptor ${fd} is not a socket`);
  return fd;
}

/**
 * A socket file left by a gateway that died is replaced; one that a live server answers on, or
 * a path that is not a socket at all, is never touched.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) {
    throw new DockgateError('DG_LISTEN_FAILED', `${path} exists and is not a socket; refusing to replace it`);
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new DockgateError('DG_LISTEN_FAILED', `${path} is in use by a running server`);
  unlinkSync(path);
}

function closeServer(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      if (address.kind === 'unix' && existsSync(address.path)) {
        try {
          unlinkSync(address.path);
        } catch {
          // Already gone.
        }
      }
      resolve();
    });
  });
}
