import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HostAnswer, HostFilesystem } from '../../src/engine/host/host-answer.js';
import {
  deviceNumber,
  parseDiskStats,
  parseMountInfo,
  parseNetDev,
  readTemperatures,
} from '../../src/engine/host/host-reader.js';
import { alertsSchema, compileAlertRules } from '../../src/monitor/alerts/alert-rules.js';
import { diskView, type SystemDf } from '../../src/monitor/hosts/disk-usage.js';
import { cpuPercent, type FreeSample, hostPoint } from '../../src/monitor/hosts/host-collector.js';
import { fullIn, hostConditions, hottest, watched } from '../../src/monitor/hosts/host-rules.js';
import type { HostView } from '../../src/monitor/hosts/host-sources.js';
import { planPrune } from '../../src/monitor/hosts/prune-plan.js';

const GiB = 1024 ** 3;

function fs(mount: string, usedGiB: number, sizeGiB: number, dockerRoot = false): HostFilesystem {
  return {
    mount,
    device: `/dev/${mount.replace(/\//g, '_')}`,
    fsType: 'ext4',
    sizeBytes: sizeGiB * GiB,
    usedBytes: usedGiB * GiB,
    availableBytes: (sizeGiB - usedGiB) * GiB,
    inodes: 1000,
    inodesUsed: 10,
    readOnly: false,
    dockerRoot,
  };
}

function view(filesystems: HostFilesystem[], extra: Partial<HostAnswer> = {}): HostView {
  return {
    read: '2026-12-07T10:00:00.000Z',
    hostname: 'h',
    kernel: '6',
    os: 'Debian',
    uptimeSeconds: 100,
    cpu: null,
    memory: { totalBytes: 16 * GiB, availableBytes: 8 * GiB, swapTotalBytes: 0, swapUsedBytes: 0 },
    filesystems,
    network: [],
    disks: [],
    temperatures: [],
    unavailable: [],
    source: 'gateway',
    engine: {
      name: 'h',
      kernel: '6',
      os: 'Debian',
      cores: 2,
      memoryTotalBytes: 16 * GiB,
      dockerRootDir: '/var/lib/docker',
      storageDriver: 'overlay2',
      driverStatus: [],
    },
    ...extra,
  };
}

describe('host rules (pure)', () => {
  const rules = compileAlertRules(undefined);

  it('defaults: disk and disk-fill on, the docker root watched at 90 %', () => {
    assert.equal(rules.rules.disk.enabled, true);
    assert.equal(rules.rules['disk-fill'].enabled, true);
    assert.equal(rules.rules['host-memory'].enabled, false);
    assert.equal(rules.rules['host-cpu'].enabled, false);
    assert.deepEqual(rules.host.disk.mounts, ['docker-root']);
    assert.equal(rules.host.disk.usedPercent, 90);
    assert.equal(rules.host.diskFill.withinMs, 24 * 3_600_000);
  });

  it('disk: the docker root above 90 % is active; another filesystem is not watched by default', () => {
    const conditions = hostConditions(rules.host, {
      engine: 'e',
      view: view([fs('/var/lib/docker', 95, 100, true), fs('/home', 99, 100)]),
      point: undefined,
      free: [],
    });
    const disk = conditions.filter((c) => c.kind === 'disk');
    assert.equal(disk.length, 1);
    assert.equal(disk[0]?.target, 'e/host:/var/lib/docker');
    assert.equal(disk[0]?.active, true);
    assert.match(disk[0]?.summary ?? '', /95\.0% full/);
  });

  it('disk: availableBytes fires below a size even under usedPercent', () => {
    const r = compileAlertRules({ disk: { availableBytes: '10GiB', mounts: ['*'] } });
    const [c] = hostConditions(r.host, {
      engine: 'e',
      view: view([fs('/', 95, 100)]),
      point: undefined,
      free: [],
    });
    assert.equal(c?.active, true, '5 GiB left is below 10 GiB');
  });

  it('watched: docker-root, * (writable ones) and mount points', () => {
    const list = [fs('/a', 1, 2, true), fs('/b', 1, 2), { ...fs('/c', 1, 2), readOnly: true }];
    assert.deepEqual(
      watched(list, ['docker-root']).map((f) => f.mount),
      ['/a'],
    );
    assert.deepEqual(
      watched(list, ['*']).map((f) => f.mount),
      ['/a', '/b'],
    );
    assert.deepEqual(
      watched(list, ['/c']).map((f) => f.mount),
      ['/c'],
    );
  });

  it('fullIn: a steady fall predicts the time to zero; too short a history decides nothing; a rise is never full', () => {
    const samples = (perSecond: number, seconds: number, start = 1000): FreeSample[] =>
      Array.from({ length: seconds + 1 }, (_, i) => ({
        t: i * 1000,
        free: new Map([['/x', start + perSecond * i]]),
      }));
    const fit = fullIn(samples(-10, 20), '/x', 20_000);
    assert.ok(fit !== undefined && fit.secondsToFull !== null);
    assert.equal(Math.round(fit.secondsToFull), 80, '800 bytes left at 10 a second');
    assert.equal(fullIn(samples(-10, 5), '/x', 20_000), undefined, 'spans less than half the window');
    assert.equal(fullIn(samples(5, 20), '/x', 20_000)?.secondsToFull, null);
  });

  it('disk-fill: active when predicted within `within`, nothing without enough history', () => {
    const r = compileAlertRules({ 'disk-fill': { within: '2m', window: '20s', mounts: ['/x'] } });
    const free: FreeSample[] = Array.from({ length: 21 }, (_, i) => ({
      t: i * 1000,
      free: new Map([['/x', 1000 - 10 * i]]),
    }));
    const v = view([{ ...fs('/x', 0, 1), availableBytes: 800 }]);
    const [c] = hostConditions(r.host, { engine: 'e', view: v, point: undefined, free }).filter(
      (x) => x.kind === 'disk-fill',
    );
    assert.equal(c?.active, true);
    assert.equal(c?.details.fullInSeconds, 80);
    assert.deepEqual(
      hostConditions(r.host, { engine: 'e', view: v, point: undefined, free: free.slice(-3) }).filter(
        (x) => x.kind === 'disk-fill',
      ),
      [],
    );
  });

  it('disk_fill_folds_into_disk: a filesystem past its disk threshold gets no disk-fill decision (one incident, no resolve)', () => {
    const r = compileAlertRules({ disk: { mounts: ['/x'] }, 'disk-fill': { within: '2m', window: '20s' } });
    const free: FreeSample[] = Array.from({ length: 21 }, (_, i) => ({
      t: i * 1000,
      free: new Map([['/x', 1000 - 10 * i]]),
    }));
    const nearlyFull = view([
      { ...fs('/x', 0, 1), sizeBytes: 10_000, usedBytes: 9_500, availableBytes: 500 },
    ]);
    const kinds = hostConditions(r.host, { engine: 'e', view: nearlyFull, point: undefined, free })
      .filter((c) => c.kind === 'disk' || c.kind === 'disk-fill')
      .map((c) => `${c.kind}:${c.active}`);
    assert.deepEqual(kinds, ['disk:true'], 'disk fires; disk-fill says nothing while it does');
  });

  it('host-memory and host-cpu: thresholds; a host read through /info only gives no condition', () => {
    const r = compileAlertRules({ 'host-memory': { below: '60%' }, 'host-cpu': { above: 50 } });
    const point = { t: 0, cpuPercent: 75 } as unknown as Parameters<typeof hostConditions>[1]['point'];
    const kinds = hostConditions(r.host, { engine: 'e', view: view([]), point, free: [] });
    assert.deepEqual(
      kinds.map((c) => [c.kind, c.active]),
      [
        ['host-memory', true],
        ['host-cpu', true],
      ],
    );
    const blind = view([], { memory: null, source: 'engine' } as Partial<HostAnswer>);
    assert.deepEqual(hostConditions(r.host, { engine: 'e', view: blind, point: undefined, free: [] }), []);
  });
});

describe('host network (pure)', () => {
  it('host-network: off by default at 100 MiB/s; in and out together above `above` (a size per second); no rates, no decision', () => {
    assert.equal(compileAlertRules(undefined).rules['host-network'].enabled, false);
    assert.equal(compileAlertRules(undefined).host.networkAboveBytesPerSecond, 100 * 1024 * 1024);
    const r = compileAlertRules({ 'host-network': { above: '10MiB' } });
    const point = (rx: number | null, tx: number | null) =>
      ({ t: 0, cpuPercent: null, netRxBytesPerSecond: rx, netTxBytesPerSecond: tx }) as unknown as Parameters<
        typeof hostConditions
      >[1]['point'];
    const net = (p: ReturnType<typeof point>) =>
      hostConditions(r.host, { engine: 'e', view: view([]), point: p, free: [] }).filter(
        (c) => c.kind === 'host-network',
      );
    const [busy] = net(point(6 * 1024 * 1024, 5 * 1024 * 1024));
    assert.equal(busy?.active, true, '11 MiB/s together');
    assert.match(
      busy?.summary ?? '',
      /moves 11\.0 MiB\/s \(in 6\.0 MiB\/s, out 5\.0 MiB\/s; above 10\.0 MiB\/s\)/,
    );
    assert.equal(net(point(6 * 1024 * 1024, 1024))[0]?.active, false);
    assert.deepEqual(net(point(null, null)), [], 'the first reading has no rate');
  });
});

describe('host temperature (pure)', () => {
  const sensor = (celsius: number, criticalCelsius: number | null, label: string | null = null) => ({
    chip: 'coretemp',
    sensor: 'temp1',
    label,
    celsius,
    criticalCelsius,
  });

  it("host-temperature: off by default; above a set limit, or the chip's critical limit less 5 °C; no limit known, no decision", () => {
    assert.equal(compileAlertRules(undefined).rules['host-temperature'].enabled, false);
    const own = compileAlertRules({ 'host-temperature': {} });
    const hot = view([], { temperatures: [sensor(60, 100), sensor(97, 100, 'Package id 0')] });
    const [c] = hostConditions(own.host, { engine: 'e', view: hot, point: undefined, free: [] }).filter(
      (x) => x.kind === 'host-temperature',
    );
    assert.equal(c?.active, true, '97 °C past 100 - 5');
    assert.match(c?.summary ?? '', /coretemp Package id 0 at 97 °C \(limit 95 °C\)/);
    assert.equal(hottest([sensor(90, 100)], undefined)?.over, false);
    assert.equal(hottest([sensor(70, null)], undefined), undefined, 'no limit: nothing decided');
    const set = compileAlertRules({ 'host-temperature': { above: 65 } });
    assert.equal(hottest([sensor(70, null), sensor(50, 100)], set.host.temperatureAboveCelsius)?.over, true);
    assert.equal(
      hostConditions(set.host, { engine: 'e', view: view([]), point: undefined, free: [] }).some(
        (x) => x.kind === 'host-temperature',
      ),
      false,
      'a host without sensors gives no condition',
    );
    assert.equal(alertsSchema.safeParse({ 'host-temperature': { above: -1 } }).success, false);
    assert.equal(alertsSchema.safeParse({ 'host-temperature': { above: 80, for: '1m' } }).success, true);
  });

  it('readTemperatures: every hwmon temp*_input in °C with its label and critical (else max) limit; an unreadable sensor left out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-hwmon-'));
    try {
      const chip = (name: string, files: Record<string, string>) => {
        mkdirSync(join(dir, name));
        for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, name, f), `${v}\n`);
      };
      chip('hwmon0', {
        name: 'coretemp',
        temp1_input: '45000',
        temp1_label: 'Package id 0',
        temp1_crit: '100000',
        temp10_input: '44500',
        temp2_input: '43000',
        temp2_max: '84000',
      });
      chip('hwmon1', { name: 'acpitz' });
      chip('hwmon2', { name: 'nvme', temp1_input: 'oops' });
      assert.deepEqual(readTemperatures(dir), [
        { chip: 'coretemp', sensor: 'temp1', label: 'Package id 0', celsius: 45, criticalCelsius: 100 },
        { chip: 'coretemp', sensor: 'temp2', label: null, celsius: 43, criticalCelsius: 84 },
        { chip: 'coretemp', sensor: 'temp10', label: null, celsius: 44.5, criticalCelsius: null },
      ]);
      assert.deepEqual(readTemperatures(join(dir, 'none')), []);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('host readings (pure)', () => {
  it('parseDiskStats: whole disks (node_exporter leaves partitions, loop and ram out); sectors of 512 bytes; io time in seconds', () => {
    const disks = parseDiskStats(
      [
        '   7       0 loop0 10 0 20 0 0 0 0 0 0 0 0 0 0 0 0 0 0',
        ' 254       0 vda 39697 8220 2438074 12234 56094 32832 5171976 23163 0 8096 36715 13743 36 555168 931 9194 386',
        ' 254       1 vda1 100 0 200 0 0 0 0 0 0 0 0 0 0 0 0 0 0',
        ' 259       0 nvme0n1 1 0 8 0 2 0 16 0 0 1500 0',
        ' 259       1 nvme0n1p1 1 0 8 0 2 0 16 0 0 1500 0',
        ' 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0',
        ' 253       1 dm-0 5 0 8 0 6 0 16 0 0 4 0',
      ].join('\n'),
    );
    assert.deepEqual(
      disks.map((d) => d.device),
      ['vda', 'nvme0n1', 'dm-0'],
    );
    assert.deepEqual(disks[0], {
      device: 'vda',
      reads: 39697,
      readBytes: 2438074 * 512,
      writes: 56094,
      writtenBytes: 5171976 * 512,
      ioTimeSeconds: 8.096,
    });
  });

  it('parseMountInfo reads device numbers, roots and escapes; deviceNumber encodes as mountinfo prints', () => {
    const [m, bind] = parseMountInfo(
      '36 35 8:17 / /mnt/my\\040disk rw,noatime shared:1 - ext4 /dev/sdb1 rw\n' +
        '40 35 8:17 /data /srv ro,relatime - ext4 /dev/sdb1 rw\n',
    );
    assert.deepEqual(m, {
      dev: '8:17',
      root: '/',
      mount: '/mnt/my disk',
      fsType: 'ext4',
      device: '/dev/sdb1',
      readOnly: false,
    });
    assert.equal(bind?.root, '/data');
    assert.equal(bind?.readOnly, true);
    assert.equal(deviceNumber(2065n), '8:17');
    assert.equal(deviceNumber((259n << 8n) | 3n), '259:3');
    const net = parseNetDev(
      'Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n  eth0: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n',
    );
    assert.deepEqual(net, [{ interface: 'eth0', rxBytes: 100, txBytes: 200 }]);
  });

  it('cpuPercent: busy share of all cores between two readings; hostPoint: rates without virtual interfaces', () => {
    const usage = (busy: number, idle: number) => ({
      user: busy,
      nice: 0,
      system: 0,
      idle,
      iowait: 0,
      irq: 0,
      softirq: 0,
      steal: 0,
    });
    const a = view([], {
      read: '2026-12-07T10:00:00.000Z',
      cpu: { cores: 2, usageSeconds: usage(10, 90), perCore: [], load1: 0, load5: 0, load15: 0 },
      network: [
        { interface: 'eth0', rxBytes: 1000, txBytes: 0 },
        { interface: 'veth1', rxBytes: 5000, txBytes: 0 },
      ],
    });
    const b = view([], {
      read: '2026-12-07T10:00:10.000Z',
      cpu: { cores: 2, usageSeconds: usage(15, 105), perCore: [], load1: 0, load5: 0, load15: 0 },
      network: [
        { interface: 'eth0', rxBytes: 3000, txBytes: 0 },
        { interface: 'veth1', rxBytes: 99_000, txBytes: 0 },
      ],
    });
    assert.equal(cpuPercent(a, b), 25);
    const p = hostPoint(a, b);
    assert.equal(p.netRxBytesPerSecond, 200, 'eth0 only: 2000 bytes in 10 s');
    assert.equal(p.memoryUsedBytes, 8 * GiB);
    assert.equal(hostPoint(undefined, b).cpuPercent, null, 'one reading: no rate');
    const disk = (device: string, readBytes: number, writtenBytes: number) => ({
      device,
      reads: 0,
      writes: 0,
      readBytes,
      writtenBytes,
      ioTimeSeconds: 0,
    });
    const io = hostPoint(
      { ...a, disks: [disk('sda', 0, 0), disk('dm-0', 0, 0)] },
      {
        ...b,
        disks: [disk('sda', 40_960, 10_240), disk('dm-0', 40_960, 10_240)],
        temperatures: [
          { chip: 'k10temp', sensor: 'temp1', label: 'Tctl', celsius: 51.2, criticalCelsius: null },
          { chip: 'nvme', sensor: 'temp1', label: 'Composite', celsius: 38, criticalCelsius: 84.8 },
        ],
      },
    );
    assert.equal(io.diskReadBytesPerSecond, 4096, 'sda only: device-mapper counts the same I/O again');
    assert.equal(io.diskWriteBytesPerSecond, 1024);
    assert.equal(io.temperatureCelsius, 51.2, 'the hottest sensor');
    assert.equal(p.temperatureCelsius, null, 'no sensor: null, not 0');
  });
});

describe('prune plan (pure)', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const old = now / 1000 - 30 * 86_400;
  const df: SystemDf = {
    LayersSize: 1000,
    Images: [
      { Id: 'sha256:used', RepoTags: ['app:1'], Created: old, Size: 300, SharedSize: 100, Containers: 1 },
      { Id: 'sha256:free', RepoTags: ['old:1'], Created: old, Size: 200, SharedSize: 100, Containers: 0 },
      {
        Id: 'sha256:dangle',
        RepoTags: ['<none>:<none>'],
        Created: old,
        Size: 50,
        SharedSize: 0,
        Containers: 0,
      },
      {
        Id: 'sha256:keep',
        RepoTags: ['keep:1'],
        Created: old,
        Size: 70,
        SharedSize: 0,
        Containers: 0,
        Labels: { 'dockgate.keep': 'true' },
      },
      { Id: 'sha256:new', RepoTags: ['new:1'], Created: now / 1000, Size: 10, SharedSize: 0, Containers: 0 },
      { Id: 'sha256:gone-with', RepoTags: ['x:1'], Created: old, Size: 40, SharedSize: 0, Containers: 1 },
    ],
    Containers: [
      {
        Id: 'run',
        Names: ['/run'],
        Image: 'app:1',
        ImageID: 'sha256:used',
        Created: old,
        State: 'running',
        SizeRw: 5,
      },
      { Id: 'loop', Names: ['/loop'], Image: 'x:1', ImageID: 'sha256:x', Created: old, State: 'restarting' },
      {
        Id: 'done',
        Names: ['/done'],
        Image: 'x:1',
        ImageID: 'sha256:gone-with',
        Created: old,
        State: 'exited',
        SizeRw: 7,
      },
      {
        Id: 'kept',
        Names: ['/kept'],
        Image: 'x:1',
        ImageID: 'sha256:x',
        Created: old,
        State: 'exited',
        Labels: { 'dockgate.keep': 'true' },
      },
    ],
    Volumes: [
      { Name: 'a'.repeat(64), UsageData: { Size: 9, RefCount: 0 } },
      { Name: 'named', UsageData: { Size: 11, RefCount: 0 } },
      { Name: 'busy', UsageData: { Size: 13, RefCount: 1 } },
    ],
  };

  it('exited containers first, then images no remaining container uses; keep labels and running images stay', () => {
    const plan = planPrune(df, { images: 'unused', containers: 'exited' }, now);
    assert.deepEqual(
      plan.containers.map((c) => c.id),
      ['done'],
    );
    // gone-with's only container goes, but the restarting one names x:1 — a tag some container uses.
    assert.deepEqual(
      plan.images.map((i) => i.id),
      ['sha256:free', 'sha256:dangle', 'sha256:new'],
    );
    assert.equal(plan.bytes, 7 + 100 + 50 + 10);
  });

  it('olderThan on creation; dangling only untagged; volumes only when asked, anonymous unless all', () => {
    assert.deepEqual(
      planPrune(df, { images: 'unused', olderThan: '168h' }, now).images.map((i) => i.id),
      ['sha256:free', 'sha256:dangle'],
    );
    assert.deepEqual(
      planPrune(df, { images: 'dangling' }, now).images.map((i) => i.id),
      ['sha256:dangle'],
    );
    assert.deepEqual(planPrune(df, { images: 'dangling' }, now).volumes, []);
    assert.deepEqual(
      planPrune(df, { volumes: true }, now).volumes.map((v) => v.id),
      ['a'.repeat(64)],
    );
    assert.deepEqual(
      planPrune(df, { volumes: 'all' }, now).volumes.map((v) => v.id),
      ['a'.repeat(64), 'named'],
    );
    assert.throws(() => planPrune(df, { images: 'unused', olderThan: 'soon' }, now), /olderThan/);
  });

  it("diskView: docker system df's reclaimable figures", () => {
    const d = diskView(df, 12, now);
    assert.equal(d.images.count, 6);
    assert.equal(d.images.active, 2);
    assert.equal(d.images.reclaimableBytes, 1000 - (300 - 100) - 40, 'layers minus the used images’ own');
    assert.equal(d.containers.reclaimableBytes, 7, 'the stopped ones');
    assert.equal(d.volumes.reclaimableBytes, 20);
    assert.equal(d.tookMs, 12);
  });
});
