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

/** The answer as dockerd sends it: the spec says these are never null, dockerd (20.10 at least) sends null. */
type Nullable<T> = { readonly [K in keyof T]: T[K] | null };

/**
 * dockerd sends `"Labels": null` / `"Options": null` for a volume without them and
 * `"Volumes": null, "Warnings": null` for an empty list (Go's nil map and slice); the client
 * answers `{}` and `[]`, so the types' promise (no `?.`, docs/client.md) holds (issue 11).
 */
function volumeOf(volume: Nullable<Volume>): Volume {
  return { ...volume, Labels: volume.Labels ?? {}, Options: volume.Options ?? {} } as Volume;
}

export class Volumes {
  readonly #t: Transport;
  constructor(transport: Transport) {
    this.#t = transport;
  }
  async list(query: { filters?: Filters } = {}, options?: Call): Promise<VolumeList> {
    const list = await this.#t.json<Nullable<VolumeList>>('GET', '/volumes', call(options, { query }));
    return { ...list, Volumes: (list.Volumes ?? []).map(volumeOf), Warnings: list.Warnings ?? [] };
  }
  async inspect(volume: string, options?: Call): Promise<Volume> {
    return volumeOf(await this.#t.json('GET', `/volumes/${id(volume)}`, call(options)));
  }
  async create(body: VolumeCreateBody, options?: Call): Promise<Volume> {
    return volumeOf(await this.#t.json('POST', '/volumes/create', call(options, { body })));
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
