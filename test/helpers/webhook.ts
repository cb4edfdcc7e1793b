import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A JSON webhook receiver on 127.0.0.1: every body it was sent, parsed, in order. */
export interface Webhook<T> {
  readonly url: string;
  readonly received: T[];
  close(): void;
}

export async function startWebhook<T = unknown>(): Promise<Webhook<T>> {
  const received: T[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      received.push(JSON.parse(body) as T);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    received,
    close: () => server.close(),
  };
}
