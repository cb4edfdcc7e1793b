import type { Command } from 'commander';
import { DockerClient } from '../client/index.js';
import { DockgateError } from '../errors.js';
import { DOCKGATE_VERSION } from '../version.js';

/** `dockgate version [--upstream URL]`: dockgate's version and the engine's, through the client. */
export function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description("print dockgate's version and the Docker engine's")
    .option('--upstream <url>', 'engine address (default: DOCKER_HOST, then the standard socket)')
    .action(async (options: { upstream?: string }) => {
      const client = new DockerClient(options.upstream === undefined ? {} : { engine: options.upstream });
      try {
        const engine = await client.version(AbortSignal.timeout(10_000));
        process.stdout.write(
          `dockgate ${DOCKGATE_VERSION}\nengine   ${client.endpoint.url}: Docker ${engine.Version}, API ${engine.ApiVersion} (${engine.Os}/${engine.Arch})\n`,
        );
      } catch (cause) {
        throw new DockgateError(
          'DG_ENGINE_UNREACHABLE',
          `cannot reach the Docker engine at ${client.endpoint.url}: ${(cause as Error).message}`,
          { cause },
        );
      } finally {
        await client.close();
      }
    });
}
