import { Writable } from 'node:stream';
import pino from 'pino';
import { loadServeConfig, type RawServeOptions, SERVE_DEFAULTS } from '../../src/config/serve-config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createPolicyRuntime, type PolicyRuntime } from '../../src/policy/runtime.js';
import { testEngine } from './engine.js';

export interface TestGateway {
  readonly gateway: Gateway;
  /** Bound URLs, port 0 resolved: e.g. tcp://127.0.0.1:41234 */
  readonly urls: string[];
  /** `tcp://127.0.0.1:PORT` of the first listener, for DOCKER_HOST. */
  readonly dockerHost: string;
  readonly port: number;
  /** Every JSON log line the gateway wrote. */
  readonly logs: Record<string, unknown>[];
  /** Gatekeeper, reloader and engine client of this gateway. */
  readonly runtime: PolicyRuntime;
  stop(graceMs?: number): Promise<void>;
}

/**
 * An in-process gateway in front of the test engine, listening on 127.0.0.1:0 by default, with
 * the `full` profile unless told otherwise (the gateway's own default is read-only; transport
 * tests need everything through).
 */
export async function startGateway(options: Partial<RawServeOptions> = {}): Promise<TestGateway> {
  const config = loadServeConfig({
    listen: ['tcp://127.0.0.1:0'],
    upstream: testEngine().host,
    profile: 'full',
    tokens: '/nonexistent/dockgate-test-tokens.json',
    socketMode: SERVE_DEFAULTS.socketMode,
    shutdownGrace: SERVE_DEFAULTS.shutdownGrace,
    maxHeaderSize: SERVE_DEFAULTS.maxHeaderSize,
    logLevel: 'info',
    insecure: false,
    ...options,
  });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line));
      callback();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const runtime = createPolicyRuntime(config, log);
  const gateway = new Gateway(config, log, runtime.gatekeeper, runtime.access);
  const urls = await gateway.start();
  const first = urls[0] ?? '';
  const port = Number(/:(\d+)$/.exec(first)?.[1] ?? 0);
  return {
    gateway,
    urls,
    dockerHost: first.replace(/^tls:/, 'tcp:'),
    port,
    logs,
    runtime,
    stop: async (graceMs = 1000) => {
      await gateway.stop(graceMs);
      await runtime.close();
    },
  };
}
