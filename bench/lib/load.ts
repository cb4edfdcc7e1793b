import { connect, type Socket } from 'node:net';
import { run } from './processes.js';

/** Requests per second from wrk (keep-alive unless `close`), one run. */
export async function wrk(
  url: string,
  connections: number,
  seconds: number,
  close = false,
  script?: string,
): Promise<number> {
  const args = ['-t', String(Math.min(2, connections)), '-c', String(connections), '-d', `${seconds}s`];
  if (close) args.push('-H', 'Connection: close');
  if (script !== undefined) args.push('-s', script);
  const { stdout } = await run('wrk', [...args, url], { timeout: (seconds + 30) * 1000 });
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1];
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1];
  if (rate === undefined) throw new Error(`wrk printed no rate:\n${stdout}`);
  if (errors !== undefined) throw new Error(`wrk saw ${errors} error answers from ${url}`);
  return Number(rate);
}

/**
 * Opens `count` idle `GET /events` streams into `sockets` and resolves once every answer head
 * has arrived. On failure, `sockets` holds those that did open.
 */
export async function openIdleStreams(port: number, count: number, sockets: Socket[]): Promise<void> {
  // Small batches: socat's listen backlog is 5, and a burst of SYNs it cannot queue would
  // measure retransmission timers instead of memory.
  const batch = 25;
  for (let start = 0; start < count; start += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, count - start) }, () => openEventStream(port)),
    );
    sockets.push(...opened);
  }
}

function openEventStream(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let head = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer head within 30 s'));
    }, 30_000);
    socket.once('connect', () => socket.write('GET /v1.41/events HTTP/1.1\r\nHost: docker\r\n\r\n'));
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.resume();
        if (!head.startsWith('HTTP/1.1 200')) reject(new Error(`events answered ${head.split('\r\n')[0]}`));
        else resolve(socket);
      }
    };
    socket.on('data', onData);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
