import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

/**
 * A tiny Docker Registry (HTTP API v2, read-only) on 127.0.0.1, serving one image, so that the
 * real engine can really pull: no registry is reachable from this machine, and dockerd treats
 * 127.0.0.0/8 registries as insecure (plain HTTP) by default. It is the registry the engine talks
 * to, not a stand-in for the engine.
 */
export class TestRegistry {
  readonly #server: Server;
  readonly #blobs = new Map<string, Buffer>();
  #manifest: Buffer | undefined;
  #manifestDigest = '';
  /** Requests the engine made, "METHOD /path". */
  readonly requests: string[] = [];

  constructor() {
    this.#server = createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      const url = req.url ?? '/';
      const send = (
        status: number,
        body: Buffer,
        type: string,
        headers: Record<string, string> = {},
      ): void => {
        res.writeHead(status, {
          'content-type': type,
          'content-length': body.length,
          'docker-distribution-api-version': 'registry/2.0',
          ...headers,
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (url === '/v2/' || url === '/v2') return send(200, Buffer.from('{}'), 'application/json');
      const manifest = /^\/v2\/.+\/manifests\/[^/]+$/.exec(url);
      if (manifest !== null && this.#manifest !== undefined) {
        return send(200, this.#manifest, 'application/vnd.docker.distribution.manifest.v2+json', {
          'docker-content-digest': this.#manifestDigest,
        });
      }
      const blob = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url);
      const bytes = blob === null ? undefined : this.#blobs.get(blob[1] as string);
      if (bytes !== undefined) {
        return send(200, bytes, 'application/octet-stream', { 'docker-content-digest': blob?.[1] as string });
      }
      send(404, Buffer.from('{"errors":[{"code":"NAME_UNKNOWN","message":"not here"}]}'), 'application/json');
    });
  }

  /** Starts listening and builds the image: one layer holding `files`. */
  async start(files: Record<string, string>): Promise<number> {
    const tar = pack();
    for (const [name, content] of Object.entries(files)) tar.entry({ name, mode: 0o644 }, content);
    tar.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of tar as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
    const layerTar = Buffer.concat(chunks);
    const layer = gzipSync(layerTar);
    const config = Buffer.from(
      JSON.stringify({
        architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
        os: 'linux',
        config: { Cmd: ['/hello'] },
        rootfs: { type: 'layers', diff_ids: [digest(layerTar)] },
      }),
    );
    this.#blobs.set(digest(layer), layer);
    this.#blobs.set(digest(config), config);
    this.#manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: {
          mediaType: 'application/vnd.docker.container.image.v1+json',
          size: config.length,
          digest: digest(config),
        },
        layers: [
          {
            mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
            size: layer.length,
            digest: digest(layer),
          },
        ],
      }),
    );
    this.#manifestDigest = digest(this.#manifest);
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

function digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
