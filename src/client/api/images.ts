import type { Readable } from 'node:stream';
import { registryAuthHeader, registryConfigHeader } from '../registry-auth.js';
import { drainProgress, type ProgressMessage, progress } from '../streams.js';
import type { Transport } from '../transport.js';
import type {
  AuthConfig,
  ImageDeleteItem,
  ImageHistoryItem,
  ImageInspect,
  ImageSummary,
  PruneReport,
  QueryOf,
} from '../types.js';
import { type Call, call, type Filters } from './containers.js';

/** Image names keep their slashes in the path (`/images/library/busybox:1/json`), as the docker CLI sends them. */
const name = (image: string): string => image.split('/').map(encodeURIComponent).join('/');

/**
 * A progress stream (pull, build, load, import): iterate it for messages as they arrive, or
 * `await` `done()` for all of them. Either way an `errorDetail` in the stream **throws**.
 */
export class Progress implements AsyncIterable<ProgressMessage> {
  readonly #body: Readable & AsyncIterable<Buffer>;
  constructor(body: Readable & AsyncIterable<Buffer>) {
    this.#body = body;
  }
  [Symbol.asyncIterator](): AsyncIterator<ProgressMessage> {
    return progress(this.#body)[Symbol.asyncIterator]();
  }
  done(): Promise<ProgressMessage[]> {
    return drainProgress(this.#body);
  }
}

export class Images {
  readonly #t: Transport;
  constructor(transport: Transport) {
    this.#t = transport;
  }

  list(
    query: Omit<QueryOf<'ImageList'>, 'filters'> & { filters?: Filters } = {},
    options?: Call,
  ): Promise<ImageSummary[]> {
    return this.#t.json('GET', '/images/json', call(options, { query }));
  }

  inspect(image: string, options?: Call): Promise<ImageInspect> {
    return this.#t.json('GET', `/images/${name(image)}/json`, call(options));
  }

  history(image: string, options?: Call): Promise<ImageHistoryItem[]> {
    return this.#t.json('GET', `/images/${name(image)}/history`, call(options));
  }

  /** `docker pull`: `image` as `name[:tag|@digest]`. */
  async pull(
    image: string,
    options: { auth?: AuthConfig; platform?: string; signal?: AbortSignal } = {},
  ): Promise<Progress> {
    const at = image.lastIndexOf('@');
    const colon = image.lastIndexOf(':');
    const [fromImage, tag] =
      at > 0
        ? [image.slice(0, at), image.slice(at + 1)]
        : colon > image.lastIndexOf('/')
          ? [image.slice(0, colon), image.slice(colon + 1)]
          : [image, 'latest'];
    const response = await this.#t.request('POST', '/images/create', {
      query: { fromImage, tag, platform: options.platform },
      headers: registryAuthHeader(options.auth),
      signal: options.signal,
      stream: true,
    });
    return new Progress(response.body);
  }

  /** `docker import`: a root filesystem tarball as an image. */
  async import(
    tar: Buffer | Readable,
    query: { repo?: string; tag?: string; message?: string; changes?: readonly string[] } = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<Progress> {
    const response = await this.#t.request('POST', '/images/create', {
      query: { fromSrc: '-', ...query },
      body: tar,
      headers: { 'content-type': 'application/x-tar' },
      signal: options.signal,
      stream: true,
    });
    return new Progress(response.body);
  }

  tag(image: string, repo: string, tag?: string, options?: Call): Promise<void> {
    return this.#t.send('POST', `/images/${name(image)}/tag`, call(options, { query: { repo, tag } }));
  }

  remove(image: string, query: QueryOf<'ImageDelete'> = {}, options?: Call): Promise<ImageDeleteItem[]> {
    return this.#t.json('DELETE', `/images/${name(image)}`, call(options, { query }));
  }

  /** `docker build` from a tar context (Buffer or stream), classic builder. */
  async build(
    context: Buffer | Readable,
    query: Omit<QueryOf<'ImageBuild'>, 'buildargs' | 'labels'> & {
      buildargs?: Readonly<Record<string, string>>;
      labels?: Readonly<Record<string, string>>;
    } = {},
    options: { registryConfig?: Readonly<Record<string, AuthConfig>>; signal?: AbortSignal } = {},
  ): Promise<Progress> {
    const response = await this.#t.request('POST', '/build', {
      query,
      body: context,
      headers: { 'content-type': 'application/x-tar', ...registryConfigHeader(options.registryConfig) },
      signal: options.signal,
      stream: true,
    });
    return new Progress(response.body);
  }

  /** `docker load` of a `docker save` tarball. */
  async load(tar: Buffer | Readable, options: { signal?: AbortSignal } = {}): Promise<Progress> {
    const response = await this.#t.request('POST', '/images/load', {
      query: { quiet: false },
      body: tar,
      headers: { 'content-type': 'application/x-tar' },
      signal: options.signal,
      stream: true,
    });
    return new Progress(response.body);
  }

  /** `docker save`: one or more images as a tar stream. */
  async save(images: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Readable> {
    return (await this.#t.request('GET', '/images/get', { query: { names: images }, signal: options.signal }))
      .body;
  }

  prune(query: { filters?: Filters } = {}, options?: Call): Promise<PruneReport> {
    return this.#t.json('POST', '/images/prune', call(options, { query }));
  }
}
