import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blkioV1, cpuPercent, ioStatV2, netDev, statValue } from '../../src/engine/cgroup-stats.js';
import { fromEngineStats } from '../../src/monitor/stats/stats-sources.js';

describe('cgroup counters: the file formats', () => {
  it('memory.stat / cpu.stat / meminfo lines', () => {
    assert.equal(statValue('cache 10\ntotal_inactive_file 4096\n', 'total_inactive_file'), 4096);
    assert.equal(statValue('usage_usec 1500\nuser_usec 1000\n', 'usage_usec'), 1500);
    assert.equal(statValue('inactive_anon 5\n', 'inactive_file'), undefined);
  });

  it('blkio (v1) and io.stat (v2), summed over devices', () => {
    assert.deepEqual(blkioV1('8:0 Read 4096\n8:0 Write 512\n8:16 Read 4\n8:0 Total 4612\nTotal 4612\n'), {
      read: 4100,
      write: 512,
    });
    assert.deepEqual(ioStatV2('8:0 rbytes=4096 wbytes=512 rios=1 wios=1\n8:16 rbytes=4 wbytes=0\n'), {
      read: 4100,
      write: 512,
    });
  });

  it('/proc/<pid>/net/dev without lo', () => {
    const text =
      'Inter-|   Receive                                                |  Transmit\n' +
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
      '    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n' +
      '  eth0:    2048      20    0    0    0     0          0         0      512       5    0    0    0     0       0          0\n';
    assert.deepEqual(netDev(text), { rx: 2048, tx: 512 });
  });

  it('CPU percent of one core from two samples', () => {
    const at = Date.now();
    const before = {
      cpuNs: 0,
      memoryBytes: 0,
      memoryLimitBytes: 0,
      pids: 1,
      blockReadBytes: 0,
      blockWriteBytes: 0,
      netRxBytes: 0,
      netTxBytes: 0,
      at,
    };
    assert.equal(cpuPercent(before, { ...before, cpuNs: 500_000_000, at: at + 1000 }), 50);
    assert.equal(cpuPercent(undefined, before), null);
    assert.equal(cpuPercent(before, { ...before, cpuNs: 1, at }), null, 'no time passed');
  });

  it("the engine's stats answer: usage minus inactive file, networks and blkio summed", () => {
    const counters = fromEngineStats({
      read: '2026-12-01T08:00:00Z',
      cpu_stats: { cpu_usage: { total_usage: 900 }, throttling_data: { periods: 50, throttled_periods: 5 } },
      memory_stats: { usage: 1000, limit: 4000, stats: { total_inactive_file: 300 } },
      networks: { eth0: { rx_bytes: 5, tx_bytes: 6 }, eth1: { rx_bytes: 1, tx_bytes: 1 } },
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'Read', value: 7 },
          { op: 'write', value: 8 },
        ],
      },
      pids_stats: { current: 3 },
    });
    assert.deepEqual(counters && { ...counters, at: 0 }, {
      cpuNs: 900,
      memoryBytes: 700,
      memoryLimitBytes: 4000,
      memoryUsageBytes: 1000,
      cpuPeriods: 50,
      cpuThrottledPeriods: 5,
      pids: 3,
      blockReadBytes: 7,
      blockWriteBytes: 8,
      netRxBytes: 6,
      netTxBytes: 7,
      at: 0,
    });
    assert.equal(
      fromEngineStats({ cpu_stats: {}, memory_stats: {} }),
      undefined,
      'a stopped container answers nothing',
    );
  });
});
