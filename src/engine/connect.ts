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
      return tlsConnect(options);
    }
  }
}

/** net.Socket takes the stream option writableHighWaterMark; its connect typings omit it. */
function withBuffer(options: NetConnectOpts): NetConnectOpts {
  return { ...options, writableHighWaterMark: SOCKET_BUFFER_BYTES } as unknown as NetConnectOpts;
}
