/**
 * The Dozzle way of collecting stats, for comparison (bench/monitor-bench.ts): one streaming
 * `GET /containers/{id}/stats` per running container, each sample parsed, for as long as it runs.
 *
 *   node --import tsx bench/lib/stats-streams.ts unix:///…/docker.sock
 */
import { DockerClient } from '../../src/client/index.js';

const client = new DockerClient({ engine: process.argv[2] ?? '' });
const running = await client.containers.list();
let samples = 0;
await Promise.all(
  running.map(async (c) => {
    for await (const sample of client.containers.stats(c.Id, { stream: true })) {
      if (sample.read !== undefined) samples++;
    }
  }),
);
process.stdout.write(`${samples} samples\n`);
