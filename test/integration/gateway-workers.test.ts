import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startDockgate } from '../helpers/dockgate-process.js';
import { RawConnection } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';

/** Pids of the live gateway workers among the children of `pid` (tsx adds an esbuild child). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const isChild =
          Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid && !stat.includes(') Z ');
        return isChild && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('serve');
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function ping(target: { port: number } | { path: string }): Promise<void> {
  const connection = await RawConnection.open(target);
  connection.write('GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n');
  await connection.untilEnded();
  assert.match(connection.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nOK$/);
}

describe('--workers: a pool of gateway processes', () => {
  it('serves on shared TCP and unix listeners, replaces a dead worker, and stops cleanly', async () => {
    const socket = join(mkdtempSync(join(tmpdir(), 'dockgate-pool-')), 'gw.sock');
    const { child, port, stderr, stdout } = await startDockgate([
      '--workers',
      '2',
      '--listen',
      'tcp://127.0.0.1:0',
      '--listen',
      `unix://${socket}`,
    ]);
    try {
      assert.match(stderr(), /\(2 workers\)/);
      assert.equal(statSync(socket).mode & 0o777, 0o660);
      const pid = child.pid ?? 0;
      const workers = childrenOf(pid);
      assert.equal(workers.length, 2);

      for (let i = 0; i < 10; i++) await ping({ port });
      await ping({ path: socket });

      // Access lines are flushed every 250 ms; a SIGKILL loses what is not out yet, so wait for all 11.
      const requestLines = (): number => (stdout().match(/"msg":"request"/g) ?? []).length;
      await waitFor(() => requestLines() === 11, { what: '11 access lines written' });
      process.kill(workers[0] ?? 0, 'SIGKILL');
      await waitFor(() => childrenOf(pid).filter((p) => p !== workers[0]).length >= 2, {
        what: 'the dead worker replaced',
      });
      assert.equal(childrenOf(pid).length, 2, 'the dead worker was replaced');
      for (let i = 0; i < 10; i++) await ping({ port });

      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
      assert.equal(existsSync(socket), false, 'the socket file is removed');
      // Every access line is whole JSON, whichever worker wrote it.
      const lines = stdout().trim().split('\n');
      const requests = lines
        .map((line) => JSON.parse(line) as { msg: string; pid: number })
        .filter((e) => e.msg === 'request');
      assert.equal(requests.length, 21);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
