import { type NetConnectOpts, connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import type { EngineEndpoint } from './endpoint.js';

/**
 * Write buffer of an engine connection before backpressure pauses the client. Node's default
 * (16 KiB) is smaller than one socket read (64 KiB), so every read of a bulk upload paused and
 * resumed the client; 256 KiB keeps uploads flowing and still bounds memory per connection.
 */
export const SOCKET_BUFFER_BYTES = 256 * 1024;

/**
 * TCP keep-alive probes start after this long idle, on the gateway's client connections and on
 * TCP connections to an engine, as on dockerd's own TCP listener (Go's 15 s): a peer that vanished
 * without a FIN frees its connection — and any `events` or `logs -f` stream on it — in seconds,
 * not after the kernel's default two hours. (Without a delay Node asks for TCP_KEEPIDLE 0, which
 * Linux refuses: keep-alive was on, with the two-hour default, and a failed system call per
 * connection.)
 */
export const KEEPALIVE_IDLE_MS = 15_000;

/**
 * Opens one raw byte stream to the engine. Half-open is allowed so that a client's TCP
 * half-close (docker exec without -i) can be forwarded as exactly that, not as a full close.
 * Writes made before the connection is up are queued by Node, so callers may write at once.
 */
export function connectEngine(endpoint: EngineEndpoint): Socket {
  switch (endpoint.kind) {
    case 'unix':
    case 'npipe':
      // Node's `path` option opens a unix socket, or a named pipe on Windows.
      return netConnect(withBuffer({ path: endpoint.path, allowHalfOpen: true }));
    case 'tcp': {
      if (endpoint.tls === undefined) {
        const socket = netConnect(
          withBuffer({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true }),
        );
        socket.setNoDelay(true);
        socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
        return socket;
      }
      const { ca, cert, key, verify } = endpoint.tls;
      // Node passes allowHalfOpen through to the TLSSocket; its typings omit the field.
      const options: ConnectionOptions & { allowHalfOpen: boolean } = {
        host: endpoint.host,
        port: endpoint.port,
        allowHalfOpen: true,
        rejectUnauthorized: verify,
        ...(ca && { ca }),
        ...(cert && { cert }),
        ...(key && { key }),
      };
      const socket = tlsConnect(options);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
      return socket;
    }
  }
}

/** net.Socket takes the stream option writableHighWaterMark; its connect typings omit it. */
function withBuffer(options: NetConnectOpts): NetConnectOpts {
  return { ...options, writableHighWaterMark: SOCKET_BUFFER_BYTES } as unknown as NetConnectOpts;
}
