import cluster from 'node:cluster';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ServeConfig } from '../config/serve-config.js';
import type { Logger } from '../log/logger.js';
import { type AccessLog, accessLogFor } from './access-log.js';
import { Bridge, type BridgeContext } from './bridge/bridge.js';
import { EnginePool } from './engine-pool.js';
import type { Gate } from './gate.js';
import { type OpenListener, openListener } from './listeners.js';
import { requestIdSource } from './request-id.js';

/**
 * The gateway: its listeners, and one Bridge per accepted connection. It owns the lifecycle:
 * start → serve → stop (stop accepting, let exchanges under way finish within the grace
 * period, then cut what is left — long streams such as `logs -f` never end by themselves).
 */
export class Gateway {
  readonly #config: ServeConfig;
  readonly #log: Logger;
  readonly #bridges = new Set<Bridge>();
  /** Idle engine connections, reused across client connections (engine-pool.ts). */
  readonly #pool = new EnginePool();

  /** Engine connections kept idle for the next client (tests read it). */
  get idleEngineConnections(): number {
    return this.#pool.size;
  }
  readonly #listeners: OpenListener[] = [];
  readonly #nextRequestId = requestIdSource();
  readonly #access: AccessLog;
  readonly #gate: Gate;
  /** One bridge context per listener, made at its first connection (not one per connection). */
  readonly #contexts = new WeakMap<OpenListener, BridgeContext>();
  #stopping: Promise<void> | undefined;

  /** `gate` decides every request (policy/gatekeeper.ts); `access` gets one entry per request. */
  constructor(config: ServeConfig, log: Logger, gate: Gate, access?: AccessLog) {
    this.#config = config;
    this.#log = log;
    this.#gate = gate;
    this.#access = access ?? accessLogFor(log);
  }

  /** Opens every listener; on any failure, closes those already open. Returns the bound URLs. */
  async start(): Promise<string[]> {
    try {
      for (const address of this.#config.listen) {
        const listener = await openListener(address, {
          tls: this.#config.tls,
          replaceStaleSocket: !cluster.isWorker,
          socketMode: this.#config.socketMode,
          onConnection: (socket, open) => this.#accept(socket, open),
          onTlsError: (error, at) =>
            this.#log.info({ listener: at.url, error: error.message }, 'TLS handshake failed'),
          onAcceptError: (error, at) =>
            this.#log.warn(
              { listener: at.url, error: error.message, connections: this.#bridges.size },
              'cannot accept a connection (each connection uses two file descriptors: raise ulimit -n?)',
            ),
        });
        this.#listeners.push(listener);
      }
    } catch (error) {
      await Promise.all(this.#listeners.map((listener) => listener.close()));
      throw error;
    }
    return this.#listeners.map((listener) => listener.url);
  }

  /** Connections open now (for tests and metrics). */
  get connections(): number {
    return this.#bridges.size;
  }

  #accept(socket: Socket, listener: OpenListener): void {
    if (this.#stopping !== undefined) {
      socket.destroy();
      return;
    }
    const context = this.#contextFor(listener);
    const label =
      socket.remoteAddress === undefined ? 'unix' : `${socket.remoteAddress}:${socket.remotePort}`;
    const conn = {
      listener: listener.address.url,
      remoteAddress: socket.remoteAddress,
      certNames: certificateNames(socket),
    };
    this.#bridges.add(new Bridge(socket, label, conn, context));
  }

  #contextFor(listener: OpenListener): BridgeContext {
    let context = this.#contexts.get(listener);
    if (context === undefined) {
      context = {
        endpoint: this.#config.upstream,
        maxHeadBytes: this.#config.maxHeaderBytes,
        listener: listener.url,
        log: this.#log,
        access: this.#access,
        nextRequestId: this.#nextRequestId,
        gate: this.#gate,
        closed: (bridge) => this.#bridges.delete(bridge),
        pool: this.#pool,
      };
      this.#contexts.set(listener, context);
    }
    return context;
  }

  /** Graceful stop; resolves when every connection is closed. Safe to call twice. */
  stop(graceMs: number = this.#config.shutdownGraceMs): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    // Idle engine connections go now; those of finishing bridges are closed as they come back.
    this.#pool.close();
    const closing = Promise.all(this.#listeners.map((listener) => listener.close()));
    for (const bridge of this.#bridges) bridge.drain();
    const deadline = Date.now() + graceMs;
    while (this.#bridges.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (this.#bridges.size > 0) {
      this.#log.info(
        { connections: this.#bridges.size },
        'grace period over: closing the remaining connections',
      );
      for (const bridge of this.#bridges) bridge.destroy();
    }
    await closing;
  }
}

/**
 * Names of a verified client certificate: its subject CN and its DNS, URI and email SANs.
 * Empty unless the TLS handshake verified the certificate against the client CA.
 */
function certificateNames(socket: Socket): string[] {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized !== true || tls.getPeerCertificate === undefined) return [];
  const cert = tls.getPeerCertificate();
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  for (const part of (cert.subjectaltname ?? '').split(', ')) {
    const m = /^(DNS|URI|email):(.+)$/.exec(part);
    if (m !== null) names.push(m[2] as string);
  }
  return names;
}
