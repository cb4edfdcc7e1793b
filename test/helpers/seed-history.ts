import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { type ContainerItem, UNKNOWN_UPDATE } from '../../src/monitor/model/container.js';
import { History } from '../../src/monitor/store/history.js';
import { openStore } from '../../src/monitor/store/open-store.js';
import { testStoreUrl } from './monitor-process.js';

const STATES = ['running', 'running', 'running', 'exited', 'restarting', 'paused'] as const;

/**
 * Writes `count` containers of engine `engine` into a monitor's data directory, through the
 * monitor's own store (the last known state it restores at start): a fleet to render without
 * starting one. A tenth are problems (exited non-zero, unhealthy, restarting); they spread over
 * 12 compose projects; restart counts and resources vary, so sorting has something to sort.
 */
export async function seedContainers(data: string, engine: string, count: number): Promise<ContainerItem[]> {
  const log = pino({ level: 'silent' });
  // The store the monitor of that data directory will open (PostgreSQL in a --store=postgres run).
  const url = testStoreUrl(data);
  const store = await openStore(
    url === undefined ? { kind: 'sqlite', dir: data } : { kind: 'postgres', url },
    log,
  );
  const history = new History(store.sql, store.writer, log, {
    rawMs: 86_400_000,
    minuteMs: 7 * 86_400_000,
    hourMs: 90 * 86_400_000,
  });
  const items: ContainerItem[] = [];
  const started = new Date(Date.now() - 3_600_000).toISOString();
  for (let i = 0; i < count; i++) {
    const state = STATES[i % STATES.length] as (typeof STATES)[number];
    const project = `project-${String(i % 12).padStart(2, '0')}`;
    const item: ContainerItem = {
      engine,
      id: randomBytes(32).toString('hex'),
      name: `seeded-${String(i).padStart(4, '0')}`,
      image: `registry.example/app-${i % 7}:1.${i % 5}`,
      state,
      health: i % 10 === 3 ? 'unhealthy' : i % 4 === 0 ? 'healthy' : 'none',
      exitCode: state === 'exited' ? (i % 9 === 0 ? 0 : 1) : null,
      oomKilled: false,
      restartCount: (i * 7) % 23,
      startedAt: started,
      finishedAt: state === 'exited' ? new Date().toISOString() : null,
      labels: {
        'com.docker.compose.project': project,
        'com.docker.compose.service': `svc-${i % 5}`,
        tier: i % 2 === 0 ? 'web' : 'worker',
      },
      compose: { project, service: `svc-${i % 5}` },
      restartPolicy: 'unless-stopped',
      cpuPercent: state === 'running' ? (i % 100) / 3 : null,
      memoryBytes: state === 'running' ? (i % 64) * 4_194_304 : null,
      memoryLimitBytes: null,
      networkRxBytes: null,
      networkTxBytes: null,
      blockReadBytes: null,
      blockWriteBytes: null,
      pids: null,
      // Every 25th from the 8th: a newer image on the registry.
      update:
        i % 25 === 7
          ? {
              status: 'outdated',
              checkedAt: started,
              current: `sha256:${'1'.repeat(64)}`,
              available: `sha256:${'2'.repeat(64)}`,
            }
          : UNKNOWN_UPDATE,
    };
    items.push(item);
    history.saveContainer(item);
  }
  await store.close();
  return items;
}
