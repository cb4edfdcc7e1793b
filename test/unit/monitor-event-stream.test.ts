import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, get, type IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { EventStream } from '../../src/monitor/api/event-stream.js';

/** A real HTTP server on 127.0.0.1:0 serving one EventStream; clients read raw text. */
async function serve(stream: EventStream): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const last = req.headers['last-event-id'];
    stream.attach(res, Array.isArray(last) ? last[0] : last, () => [['engine', { name: 'now' }]]);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => {
      stream.close();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function read(
  url: string,
  headers: Record<string, string>,
  until: (text: string) => boolean,
): Promise<string> {
  const res = await new Promise<IncomingMessage>((resolve) => get(url, { headers }, resolve));
  let text = '';
  res.setEncoding('utf8');
  for await (const chunk of res) {
    text += chunk as string;
    if (until(text)) break;
  }
  res.destroy();
  return text;
}

describe('monitor event stream (server-sent events)', () => {
  it('Last-Event-ID resumes after that event, without loss', async () => {
    const stream = new EventStream();
    const server = await serve(stream);
    try {
      stream.publish('container', { n: 1 });
      stream.publish('container', { n: 2 });
      stream.publish('container', { n: 3 });
      const first = await read(server.url, {}, () => true);
      assert.match(first, /retry: 2000/);
      // An id from this run: only what came after it.
      const id = /id: (\S+-1)\n/.exec(
        await read(server.url, { 'Last-Event-ID': 'x-0' }, (t) => t.includes('"name":"now"')),
      );
      assert.equal(id, null, 'an unknown run gets resync and the state, not old events');
      const all = await read(server.url, { 'Last-Event-ID': 'x-0' }, (t) => t.includes('"name":"now"'));
      assert.match(all, /event: resync/);
      const boot = /stream (\w+)/.exec(first)?.[1];
      const resumed = await read(server.url, { 'Last-Event-ID': `${boot}-1` }, (t) => t.includes('"n":3'));
      assert.doesNotMatch(resumed, /"n":1/);
      assert.match(resumed, /id: \w+-2\nevent: container\ndata: \{"n":2\}/);
      assert.match(resumed, /"n":3/);
    } finally {
      await server.close();
    }
  });
});
