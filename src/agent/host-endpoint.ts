import type { DockerClient } from '../client/docker-client.js';
import type { HostAnswer } from '../engine/host/host-answer.js';
import { HostReader } from '../engine/host/host-reader.js';

/** The gateway's own endpoint (docs/hosts.md). */
export const HOST_ROUTE = 'GET /dockgate/v1/host';

/** The engine's DockerRootDir is asked again after this long (a restarted dockerd may move it). */
const ROOT_DIR_TTL_MS = 60_000;

/**
 * `GET /dockgate/v1/host`: the engine's machine — CPU, memory, filesystems, network, pressure —
 * read from `/proc` and `statfs` where the gateway runs (`--host-root` when that is a container),
 * with the filesystem holding the engine's `DockerRootDir` marked. The only engine call is one
 * `/info` a minute, for that directory.
 */
export class HostEndpoint {
  readonly #engine: DockerClient;
  readonly #reader: HostReader;
  #rootDir: { value: string | undefined; at: number } | undefined;

  constructor(engine: DockerClient, reader: HostReader = new HostReader()) {
    this.#engine = engine;
    this.#reader = reader;
  }

  async answer(): Promise<{ status: number; body: HostAnswer }> {
    return { status: 200, body: await this.#reader.read(await this.#dockerRoot()) };
  }

  async #dockerRoot(): Promise<string | undefined> {
    const now = Date.now();
    if (this.#rootDir !== undefined && now - this.#rootDir.at < ROOT_DIR_TTL_MS) return this.#rootDir.value;
    try {
      const info = await this.#engine.json<{ DockerRootDir?: string }>('GET', '/info', { timeout: 5_000 });
      this.#rootDir = { value: info.DockerRootDir, at: now };
    } catch {
      // The engine is away: the host is still read, the docker root unmarked (said in `unavailable`).
      this.#rootDir = { value: this.#rootDir?.value, at: now - ROOT_DIR_TTL_MS + 5_000 };
    }
    return this.#rootDir.value;
  }
}
