import type { HostAnswer } from '../../engine/host/host-answer.js';
import { closeBody, jsonLines } from '../streams.js';
import type { Transport } from '../transport.js';
import type { EventMessage, SystemDataUsage, SystemInfo, SystemVersion } from '../types.js';
import { type Call, call, type Filters } from './containers.js';

export class System {
  readonly #t: Transport;
  constructor(transport: Transport) {
    this.#t = transport;
  }
  /** `GET /_ping`: "OK". */
  async ping(options?: Call): Promise<string> {
    const response = await this.#t.request('GET', '/_ping', { ...call(options), versioned: false });
    return (await response.body.toArray()).join('');
  }
  version(options?: Call): Promise<SystemVersion> {
    return this.#t.json('GET', '/version', call(options));
  }
  info(options?: Call): Promise<SystemInfo> {
    return this.#t.json('GET', '/info', call(options));
  }
  df(options?: Call): Promise<SystemDataUsage> {
    return this.#t.json('GET', '/system/df', call(options));
  }
  /**
   * `GET /dockgate/v1/host` — a dockgate gateway only (dockerd answers 404): the engine's machine,
   * CPU, memory, filesystems (the docker root marked), network, pressure (docs/hosts.md).
   */
  host(options?: Call): Promise<HostAnswer> {
    return this.#t.json('GET', '/dockgate/v1/host', { ...call(options), versioned: false });
  }
  /**
   * Engine events as they happen (typed messages). Without `until` the iterable never ends by
   * itself: stop it with the signal or by breaking out of the loop.
   */
  async *events(
    query: { since?: string | number; until?: string | number; filters?: Filters } = {},
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<EventMessage> {
    const response = await this.#t.request('GET', '/events', { query, signal: options.signal, stream: true });
    try {
      yield* jsonLines<EventMessage>(response.body);
    } finally {
      closeBody(response.body);
    }
  }
}
