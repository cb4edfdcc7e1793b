import { setTimeout as sleep } from 'node:timers/promises';
import type { DockerClient } from '../../src/client/index.js';
import type { ContainerItem } from '../../src/monitor/model/container.js';
import { SseReader } from '../../test/helpers/monitor-process.js';

export const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
export const p95 = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.95) - 1] ?? Number.NaN;

/**
 * Kill-to-event: a running container is killed through the engine; the time until the monitor's
 * stream shows it exited, from the kill request and from the engine's own `die` time.
 */
export async function killLatency(
  client: DockerClient,
  image: string,
  url: string,
  kills: number,
  options: { keep?: boolean } = {},
): Promise<{ fromRequest: number[]; fromDie: number[]; ids: string[] }> {
  const ids: string[] = [];
  const fromRequest: number[] = [];
  const fromDie: number[] = [];
  const stream = new SseReader(`${url}/api/v1/stream`);
  await sleep(500);
  for (let i = 0; i < kills; i++) {
    const { Id } = await client.json<{ Id: string }>('POST', '/containers/create', {
      body: { Image: image, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } },
    });
    await client.json('POST', `/containers/${Id}/start`);
    for (let j = 0; j < 300; j++) {
      if (
        stream.events.some(
          (e) => (e.data as ContainerItem).id === Id && (e.data as ContainerItem).state === 'running',
        )
      )
        break;
      await sleep(20);
    }
    const sent = performance.now();
    const wall = Date.now();
    await client.json('POST', `/containers/${Id}/kill`);
    for (let j = 0; j < 1000; j++) {
      const seen = stream.events.find(
        (e) => (e.data as ContainerItem).id === Id && (e.data as ContainerItem).state === 'exited',
      );
      if (seen !== undefined) {
        fromRequest.push(seen.at - sent);
        const died = Date.parse((seen.data as ContainerItem).finishedAt ?? '');
        fromDie.push(seen.at - sent + (wall - died));
        break;
      }
      await sleep(5);
    }
    ids.push(Id);
    if (options.keep !== true) await client.json('DELETE', `/containers/${Id}`, { query: { force: 1 } });
  }
  await stream.close();
  return { fromRequest, fromDie, ids };
}
