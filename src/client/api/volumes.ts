import type { Transport } from '../transport.js';
import type {
  Network,
  NetworkCreateBody,
  NetworkCreateResponse,
  PruneReport,
  Volume,
  VolumeCreateBody,
  VolumeList,
} from '../types.js';
import { type Call, call, type Filters, id } from './containers.js';

export class Volumes {
  readonly #t: Transport;
  constructor(transport: Transport) {
    this.#t = transport;
  }
  list(query: { filters?: Filters } = {}, options?: Call): Promise<VolumeList> {
    return this.#t.json('GET', '/volumes', call(options, { query }));
  }
  inspect(volume: string, options?: Call): Promise<Volume> {
    return this.#t.json('GET', `/volumes/${id(volume)}`, call(options));
  }
  create(body: VolumeCreateBody, options?: Call): Promise<Volume> {
    return this.#t.json('POST', '/volumes/create', call(options, { body }));
  }
  remove(volume: string, query: { force?: boolean } = {}, options?: Call): Promise<void> {
    return this.#t.send('DELETE', `/volumes/${id(volume)}`, call(options, { query }));
  }
  prune(query: { filters?: Filters } = {}, options?: Call): Promise<PruneReport> {
    return this.#t.json('POST', '/volumes/prune', call(options, { query }));
  }
}

export class Networks {
  readonly #t: Transport;
  constructor(transport: Transport) {
    this.#t = transport;
  }
  list(query: { filters?: Filters } = {}, options?: Call): Promise<Network[]> {
    return this.#t.json('GET', '/networks', call(options, { query }));
  }
  inspect(
    network: string,
    query: { verbose?: boolean; scope?: string } = {},
    options?: Call,
  ): Promise<Network> {
    return this.#t.json('GET', `/networks/${id(network)}`, call(options, { query }));
  }
  create(body: NetworkCreateBody, options?: Call): Promise<NetworkCreateResponse> {
    return this.#t.json('POST', '/networks/create', call(options, { body }));
  }
  remove(network: string, options?: Call): Promise<void> {
    return this.#t.send('DELETE', `/networks/${id(network)}`, call(options));
  }
  prune(query: { filters?: Filters } = {}, options?: Call): Promise<PruneReport> {
    return this.#t.json('POST', '/networks/prune', call(options, { query }));
  }
}
