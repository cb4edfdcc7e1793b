import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { startDockgate } from '../helpers/dockgate-process.js';
import { RawConnection } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

describe('running out of file descriptors', () => {
  it('regression: out of descriptors (EMFILE) gives a reset or a 502 naming the cause, never a crash; service resumes', async () => {
    // 100 descriptors once it listens: Node and tsx hold about a third; each proxied connection takes two.
    const { child, port } = await startDockgate(['--listen', 'tcp://127.0.0.1:0'], { maxFiles: 100 });
    const streams: RawConnection[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        const connection = await RawConnection.open({ port }).catch(() => undefined);
        if (connection === undefined) continue; // refused at accept: also an acceptable answer
        connection.write('GET /v1.41/events HTTP/1.1\r\nHost: d\r\n\r\n');
        streams.push(connection);
      }
      // Past the limit a connection is either reset at accept (libuv sheds it) or, when the
      // descriptor for the engine side is what is missing, answered 502 naming the cause.
      const settled = (stream: RawConnection): boolean => stream.ended || stream.text.includes('\r\n\r\n');
      await waitFor(() => streams.every(settled), { what: 'every stream answered or reset' });
      const served = streams.filter((stream) => stream.text.startsWith('HTTP/1.1 200'));
      const refused = streams.filter((stream) => !stream.text.startsWith('HTTP/1.1 200'));
      assert.ok(
        served.length > 0 && refused.length > 0,
        `${served.length} served, ${refused.length} refused`,
      );
      for (const stream of refused) {
        if (stream.text === '') continue; // reset at accept
        assert.match(stream.text, /^HTTP\/1\.1 502 /);
        assert.match(stream.text, /EMFILE.*raise ulimit -n/);
      }
      assert.equal(child.exitCode, null, 'the gateway is still running');

      for (const stream of streams) stream.close();
      // Service resumes once the closed connections' descriptors are released (however long that takes).
      await waitFor(
        async () => {
          const ping = await RawConnection.open({ port }).catch(() => undefined);
          if (ping === undefined) return false;
          ping.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
          const ok = await ping
            .until((text) => text.endsWith('OK'), 5_000)
            .then(
              () => true,
              () => false,
            );
          ping.close();
          return ok;
        },
        { what: 'a /_ping answered after the streams closed' },
      );
    } finally {
      for (const stream of streams) stream.close();
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
