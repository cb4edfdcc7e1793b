import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadServeConfig, SERVE_DEFAULTS } from '../../src/config/serve-config.js';
import type { HostAnswer } from '../../src/engine/host/host-answer.js';
import { HostReader } from '../../src/engine/host/host-reader.js';
import { testClient } from '../helpers/engine.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { type MonitorProcess, startMonitor } from '../helpers/monitor-process.js';
import { promtool } from '../helpers/prometheus.js';
import { ask } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait.js';
import { startWebhook, type Webhook } from '../helpers/webhook.js';

/**
 * Hosts (issue 29): the gateway's `GET /dockgate/v1/host` against what `free -b`, `df -B1` and
 * `/proc/stat` say at the same moment; the monitor's host alerts on real small filesystems
 * (tmpfs mounts this test makes and watches), its API and its node_ metrics.
 */
const client = testClient();
const dir = mkdtempSync(join(tmpdir(), 'dockgate-hosts-'));
const mounts: string[] = [];

/** A tmpfs of `mib` MiB, mounted for this test (root: the suite runs as root, as CI does). */
function tmpfs(name: string, mib: number): string {
  const at = join(dir, name);
  mkdirSync(at);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, `dg-${name}`, at]);
  mounts.push(at);
  return at;
}

after(() => {
  for (const at of mounts) {
    try {
      execFileSync('umount', [at]);
    } catch {
      execFileSync('umount', ['-l', at]);
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** `df -B1 PATH`: size, used, available and the mount point. */
function df(path: string): { size: number; used: number; available: number; mount: string } {
  const line = execFileSync('df', ['-B1', '--output=size,used,avail,target', path], { encoding: 'utf8' })
    .trim()
    .split('\n')[1] as string;
  const [size, used, available, mount] = line.trim().split(/\s+/);
  return { size: Number(size), used: Number(used), available: Number(available), mount: mount as string };
}

const within = (actual: number, expected: number, fraction: number, what: string): void =>
  assert.ok(
    Math.abs(actual - expected) <= Math.max(expected * fraction, 1),
    `${what}: ${actual} vs ${expected} (more than ${fraction * 100}% apart)`,
  );

describe('GET /dockgate/v1/host', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ profile: 'read-only' });
  });
  after(() => gateway.stop());

  it('host_figures_match_free_and_df: memory as free -b, the docker root as df -B1 (within 2 %), CPU seconds as /proc/stat', async () => {
    const stat = (): number[] =>
      (/^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '').trim().split(/\s+/).map(Number);
    const before = stat();
    const answer = await ask(gateway.port, 'GET', '/dockgate/v1/host');
    const afterStat = stat();
    const free = execFileSync('free', ['-b'], { encoding: 'utf8' });
    assert.equal(answer.status, 200, answer.body);
    const host = JSON.parse(answer.body) as HostAnswer;
    const mem = /^Mem:\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s+(\d+)/m.exec(free);
    assert.ok(mem !== null, free);
    assert.equal(host.memory?.totalBytes, Number(mem[1]), 'total memory: the same kernel figure');
    within(host.memory?.availableBytes ?? 0, Number(mem[2]), 0.02, 'available memory');
    const info = await client.system.info();
    const root = df(info.DockerRootDir ?? '/');
    const marked = host.filesystems.filter((f) => f.dockerRoot);
    assert.equal(marked.length, 1, 'exactly one filesystem holds the docker root');
    const fs = marked[0];
    assert.ok(fs !== undefined);
    // df names the innermost mount (dockerd bind-mounts its data root onto itself); the answer
    // lists each filesystem once, at its shortest mount point: the same device either way.
    assert.ok(
      root.mount === fs.mount || root.mount.startsWith(fs.mount === '/' ? '/' : `${fs.mount}/`),
      `${fs.mount} holds ${root.mount}`,
    );
    assert.equal(host.filesystems[0]?.dockerRoot, true, 'the docker root comes first');
    assert.equal(fs.sizeBytes, root.size);
    within(fs.usedBytes, root.used, 0.02, 'used');
    within(fs.availableBytes, root.available, 0.02, 'available');
    // CPU: the answer's user seconds lie between two readings of /proc/stat taken around it.
    const user = host.cpu?.usageSeconds.user ?? -1;
    assert.ok(user >= (before[0] ?? 0) / 100 && user <= (afterStat[0] ?? 0) / 100, `user ${user}`);
    assert.equal(host.cpu?.cores, host.cpu?.perCore.length);
    assert.ok((host.cpu?.cores ?? 0) >= 1);
    assert.ok((host.uptimeSeconds ?? 0) > 0);
    assert.ok(host.kernel !== null && host.kernel.length > 0);
    assert.ok(
      host.network.some((n) => n.interface === 'lo'),
      'every interface, lo included',
    );
    // Counters grow: a second reading has at least the first one's CPU time.
    const again = JSON.parse((await ask(gateway.port, 'GET', '/dockgate/v1/host')).body) as HostAnswer;
    const total = (h: HostAnswer): number =>
      Object.values(h.cpu?.usageSeconds ?? {}).reduce((a, b) => a + b, 0);
    assert.ok(total(again) >= total(host), 'cumulative CPU seconds do not go back');
    const line = gateway.logs.findLast((l) => l.path === '/dockgate/v1/host');
    assert.equal(line?.decision, 'allow', 'decided like any request, with an audit line');
    assert.equal(line?.route, 'GET /dockgate/v1/host');
  });

  it("host_disks_match_diskstats: whole disks with /proc/diskstats' counters (growing), partitions and loop devices left out; temperatures read or said unavailable", async () => {
    const stats = (): Map<string, number[]> =>
      new Map(
        readFileSync('/proc/diskstats', 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .map((f) => [f[2] as string, f.slice(3).map(Number)]),
      );
    const before = stats();
    const host = JSON.parse((await ask(gateway.port, 'GET', '/dockgate/v1/host')).body) as HostAnswer;
    const afterStats = stats();
    assert.ok(host.disks.length >= 1, 'this machine has a disk');
    for (const d of host.disks) {
      assert.doesNotMatch(d.device, /^(loop|z?ram)\d+$|^(h|s|v|xv)d[a-z]\d+$|^nvme\d+n\d+p\d+$/, d.device);
      const [a, b] = [before.get(d.device), afterStats.get(d.device)];
      assert.ok(a !== undefined && b !== undefined, `${d.device} is in /proc/diskstats`);
      // Each field as the kernel counts it (sectors, milliseconds), from the answer's unit.
      const between = (value: number, i: number, count: (v: number) => number, what: string) =>
        assert.ok(
          Math.round(count(value)) >= (a[i] ?? 0) && Math.round(count(value)) <= (b[i] ?? 0),
          `${d.device} ${what} ${value} between ${a[i]} and ${b[i]} (as the kernel counts)`,
        );
      between(d.reads, 0, (v) => v, 'reads');
      between(d.readBytes, 2, (v) => v / 512, 'read bytes');
      between(d.writes, 4, (v) => v, 'writes');
      between(d.writtenBytes, 6, (v) => v / 512, 'written bytes');
      between(d.ioTimeSeconds, 9, (v) => v * 1000, 'io milliseconds');
    }
    // This machine's sensors as sysfs has them: none on a virtual machine, said so, never 0 °C.
    const sensors = existsSync('/sys/class/hwmon')
      ? readdirSync('/sys/class/hwmon').flatMap((c) =>
          readdirSync(join('/sys/class/hwmon', c)).filter((f) => /^temp\d+_input$/.test(f)),
        )
      : [];
    assert.equal(host.temperatures.length <= sensors.length, true);
    if (sensors.length === 0) {
      assert.deepEqual(host.temperatures, []);
      assert.match(
        host.unavailable.find((u) => u.field === 'temperatures')?.reason ?? '',
        /no temperature sensor in \/sys\/class\/hwmon/,
      );
    } else
      for (const t of host.temperatures) assert.ok(t.celsius > -50 && t.celsius < 150, JSON.stringify(t));
  });

  it('host_tmpfs_listed: a filesystem mounted now is in the next answer, with df -B1 figures', async () => {
    const at = tmpfs('listed', 8);
    writeFileSync(join(at, 'f'), Buffer.alloc(2 * 1024 * 1024));
    const host = JSON.parse((await ask(gateway.port, 'GET', '/dockgate/v1/host')).body) as HostAnswer;
    const fs = host.filesystems.find((f) => f.mount === at);
    assert.ok(fs, `${at} listed`);
    const d = df(at);
    assert.equal(fs.fsType, 'tmpfs');
    assert.equal(fs.sizeBytes, d.size);
    assert.equal(fs.usedBytes, d.used);
    assert.equal(fs.dockerRoot, false);
  });
});

describe('the host endpoint refused and unavailable', () => {
  it('host_route_policy_regression: a profile without the route is refused (403), like any request', async () => {
    const config = join(dir, 'policy.yaml');
    writeFileSync(config, 'version: 1\nprofiles:\n  pings:\n    rules:\n      - allow: "GET /_ping"\n');
    const gateway = await startGateway({ profile: 'pings', config });
    try {
      const answer = await ask(gateway.port, 'GET', '/dockgate/v1/host');
      assert.equal(answer.status, 403, answer.body);
      assert.equal(gateway.logs.findLast((l) => l.path === '/dockgate/v1/host')?.decision, 'deny');
    } finally {
      await gateway.stop();
    }
  });

  it('host_root_missing_regression: --host-root that does not exist fails at start, naming the mount', () => {
    assert.throws(
      () =>
        loadServeConfig({
          listen: ['tcp://127.0.0.1:0'],
          profile: 'read-only',
          socketMode: SERVE_DEFAULTS.socketMode,
          shutdownGrace: SERVE_DEFAULTS.shutdownGrace,
          maxHeaderSize: SERVE_DEFAULTS.maxHeaderSize,
          logLevel: 'info',
          insecure: false,
          hostRoot: join(dir, 'no-such-host'),
        }),
      /--host-root .* does not exist: mount the host's root there \(-v \/:.*:ro\)/,
    );
  });

  it('host_root_without_proc_regression: a host root with no procfs says what is missing and never guesses', async () => {
    const fake = join(dir, 'fake-host');
    mkdirSync(join(fake, 'etc'), { recursive: true });
    writeFileSync(join(fake, 'etc/hostname'), 'fakehost\n');
    const host = await new HostReader({ root: fake }).read('/var/lib/docker');
    assert.deepEqual(host.filesystems, [], 'no filesystems from this container’s own mounts');
    assert.deepEqual(host.network, []);
    const missing = new Map(host.unavailable.map((u) => [u.field, u.reason]));
    assert.match(missing.get('filesystems') ?? '', /mount the host's root with -v \/:.*:ro/);
    assert.match(missing.get('network') ?? '', /-v \/:/);
    assert.equal(host.hostname, 'fakehost', "the hostname from the host root's /etc/hostname");
    assert.ok(host.memory !== null && host.cpu !== null, 'kernel-wide figures are read from any procfs');
  });
});

describe('the monitor: host alerts, API, metrics', () => {
  let gateway: TestGateway;
  let monitor: MonitorProcess;
  let hook: Webhook<{ status: string; alert: { kind: string; details: Record<string, unknown> } }>;
  let full: string;
  let filling: string;
  before(async () => {
    gateway = await startGateway({ profile: 'read-only' });
    hook = await startWebhook();
    full = tmpfs('full', 16);
    filling = tmpfs('filling', 32);
    const config = join(dir, 'monitor.yaml');
    writeFileSync(
      config,
      `version: 1
engines:
  - { name: host, url: "${gateway.dockerHost}" }
alerts:
  disk: { mounts: ["${full}"], usedPercent: 50, for: 0s }
  disk-fill: { mounts: ["${filling}"], within: 10m, window: 8s, for: 0s }
notify:
  - { url: "${hook.url}" }
`,
    );
    monitor = await startMonitor(['--config', config, '--data', join(dir, 'data'), '--interval', '1s']);
  });
  after(async () => {
    await monitor?.stop();
    hook?.close();
    await gateway?.stop();
  });

  const diskEvents = (kind: string, mount: string): string[] =>
    hook.received
      .filter((m) => m.alert.kind === kind && m.alert.details.mount === mount)
      .map((m) => m.status);

  it('host_disk_alert_once: a filesystem filled past usedPercent opens one disk incident, freed resolves it', async () => {
    const target = full;
    writeFileSync(join(full, 'ballast'), Buffer.alloc(10 * 1024 * 1024)); // 62.5 % of 16 MiB
    await waitFor(() => diskEvents('disk', target).includes('firing'), {
      what: 'the disk alert',
      timeout: 30_000,
    });
    // Stays full a while: still one incident, not one per reading.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(diskEvents('disk', target), ['firing']);
    const open = (await (await fetch(`${monitor.url}/api/v1/alerts?state=open`)).json()) as {
      kind: string;
      engine: string;
      details: { usedPercent: number; mount: string };
    }[];
    const incident = open.find((a) => a.kind === 'disk' && a.details.mount === full && a.engine === 'host');
    assert.ok(incident, 'listed as open');
    assert.ok(incident.details.usedPercent > 50, `${incident.details.usedPercent}%`);
    rmSync(join(full, 'ballast'));
    await waitFor(() => diskEvents('disk', target).includes('resolved'), {
      what: 'resolved',
      timeout: 30_000,
    });
    assert.deepEqual(diskEvents('disk', target), ['firing', 'resolved']);
  });

  it('host_disk_fill_before_full: a steady writer gets disk-fill before the filesystem is full', async () => {
    const target = filling;
    const file = join(filling, 'growing');
    const chunk = Buffer.alloc(256 * 1024);
    // 1 MiB/s into 32 MiB: full in about half a minute; predicted long before.
    const writer = setInterval(() => {
      try {
        appendFileSync(file, chunk);
      } catch {
        // full: the alert came too late, asserted below
      }
    }, 250);
    try {
      await waitFor(() => diskEvents('disk-fill', target).includes('firing'), {
        what: 'disk-fill',
        timeout: 40_000,
      });
      const left = statfsSync(filling);
      assert.ok(left.bavail > 0, 'fired while there was still room');
      const fired = hook.received.find((m) => m.alert.kind === 'disk-fill' && m.status === 'firing');
      assert.ok((fired?.alert.details.availableBytes as number) > 0);
      assert.ok((fired?.alert.details.fullInSeconds as number) < 600, 'predicted full within 10 minutes');
    } finally {
      clearInterval(writer);
    }
    rmSync(file);
    await waitFor(() => diskEvents('disk-fill', target).includes('resolved'), {
      what: 'disk-fill resolved once it stopped filling',
      timeout: 40_000,
    });
    assert.deepEqual(diskEvents('disk-fill', target), ['firing', 'resolved']);
  });

  it('host_api_and_metrics: latest with the agent names, the series with the contract names, node_ metrics with engine', async () => {
    const answer = (await (await fetch(`${monitor.url}/api/v1/engines/host/host?range=15m`)).json()) as {
      latest: HostAnswer & { source: string };
      series: Record<string, unknown>[];
    };
    assert.equal(answer.latest.source, 'gateway');
    assert.ok(answer.latest.filesystems.some((f) => f.dockerRoot));
    assert.ok(answer.series.length >= 1);
    const last = answer.series.at(-1) as Record<string, unknown>;
    for (const key of [
      'time',
      'cpuPercent',
      'memoryUsedBytes',
      'memoryAvailableBytes',
      'dockerRootUsedBytes',
      'dockerRootAvailableBytes',
      'load1',
      'netRxBytesPerSecond',
      'netTxBytesPerSecond',
      'diskReadBytesPerSecond',
      'diskWriteBytesPerSecond',
      'temperatureCelsius',
    ])
      assert.ok(key in last, `series has ${key}`);
    assert.ok(
      answer.series.some((p) => typeof p.diskWriteBytesPerSecond === 'number'),
      'disk rates from two readings',
    );
    assert.equal(typeof last.memoryAvailableBytes, 'number');
    const tmp = (
      answer as unknown as { filesystems: { mount: string; points: { availableBytes: number }[] }[] }
    ).filesystems.find((f) => f.mount === full);
    assert.ok(tmp !== undefined && tmp.points.length > 0, 'each filesystem has its own series');
    assert.equal(typeof last.cpuPercent, 'number');
    const bad = await fetch(`${monitor.url}/api/v1/engines/host/host?range=forever`);
    assert.equal(bad.status, 400);
    assert.equal((await fetch(`${monitor.url}/api/v1/engines/nope/host`)).status, 404);
    const disk = (await (await fetch(`${monitor.url}/api/v1/engines/host/disk`)).json()) as {
      images: { count: number };
      tookMs: number;
    };
    assert.ok(disk.images.count >= 1, 'the test image at least');
    const metrics = await (await fetch(`${monitor.url}/metrics`)).text();
    const avail = new RegExp(
      `^node_filesystem_avail_bytes\\{engine="host",device="dg-full",fstype="tmpfs",mountpoint="${full.replace(/[/.]/g, '\\$&')}"\\} (\\d+)$`,
      'm',
    ).exec(metrics);
    assert.ok(avail, 'node_filesystem_avail_bytes for the tmpfs, with the engine label');
    within(Number(avail[1]), statfsSync(full).bavail * statfsSync(full).bsize, 0.02, 'avail as statfs');
    assert.match(metrics, /^node_cpu_seconds_total\{engine="host",cpu="0",mode="idle"\} [\d.]+$/m);
    assert.match(metrics, /^node_memory_MemAvailable_bytes\{engine="host"\} \d+$/m);
    assert.match(metrics, /^node_load1\{engine="host"\} [\d.]+$/m);
    const disk0 = answer.latest.disks[0]?.device ?? 'none';
    assert.match(
      metrics,
      new RegExp(`^node_disk_written_bytes_total\\{engine="host",device="${disk0}"\\} \\d+$`, 'm'),
    );
    assert.match(
      metrics,
      new RegExp(`^node_disk_io_time_seconds_total\\{engine="host",device="${disk0}"\\} [\\d.e+-]+$`, 'm'),
    );
    assert.match(metrics, /^dockgate_engine_disk_bytes\{engine="host",type="images"\} \d+$/m);
    // promtool's only remark is the one it makes of node_exporter itself: meminfo's camelCase names,
    // kept as they are so node_exporter's dashboards find them.
    const remarks = promtool(['check', 'metrics'], metrics)
      .out.split('\n')
      .filter(
        (l) => l !== '' && !/^node_memory_\w+_bytes metric names should be written in 'snake_case'/.test(l),
      );
    assert.deepEqual(remarks, [], 'promtool check metrics: nothing else to say');
  });
});

describe('the monitor: a host sensor', () => {
  it('host_temperature_alert_once: a sensor past its critical limit less 5 °C opens one host-temperature incident, cooled resolves it; node_hwmon_ metrics and the series', async () => {
    // This machine (a virtual one) has no hwmon: the gateway is given a host root whose sysfs holds
    // one chip in the kernel's own format (millidegrees), which the test heats and cools.
    const root = join(dir, 'sensor-host');
    const chip = join(root, 'sys/class/hwmon/hwmon0');
    mkdirSync(chip, { recursive: true });
    writeFileSync(join(chip, 'name'), 'coretemp\n');
    writeFileSync(join(chip, 'temp1_label'), 'Package id 0\n');
    writeFileSync(join(chip, 'temp1_crit'), '100000\n');
    writeFileSync(join(chip, 'temp1_input'), '45000\n');
    const gateway = await startGateway({ profile: 'read-only', hostRoot: root });
    const hook = await startWebhook<{ status: string; alert: { kind: string; summary: string } }>();
    const config = join(dir, 'sensor-monitor.yaml');
    writeFileSync(
      config,
      `version: 1
engines:
  - { name: warm, url: "${gateway.dockerHost}" }
alerts:
  host-temperature: { enabled: true, for: 0s }
notify:
  - { url: "${hook.url}" }
`,
    );
    const monitor = await startMonitor([
      '--config',
      config,
      '--data',
      join(dir, 'sensor-data'),
      '--interval',
      '1s',
    ]);
    const events = (): string[] =>
      hook.received.filter((m) => m.alert.kind === 'host-temperature').map((m) => m.status);
    try {
      await waitFor(
        async () => {
          const host = (await (await fetch(`${monitor.url}/api/v1/engines/warm/host?range=15m`)).json()) as {
            latest: HostAnswer | null;
          };
          return host.latest?.temperatures.length === 1;
        },
        { what: 'the sensor read through the gateway' },
      );
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(events(), [], '45 °C: nothing');
      writeFileSync(join(chip, 'temp1_input'), '97000\n');
      await waitFor(() => events().includes('firing'), { what: 'the temperature alert', timeout: 30_000 });
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(events(), ['firing'], 'one incident while it stays hot');
      assert.match(
        hook.received.find((m) => m.alert.kind === 'host-temperature')?.alert.summary ?? '',
        /coretemp Package id 0 at 97 °C \(limit 95 °C\)/,
      );
      const metrics = await (await fetch(`${monitor.url}/metrics`)).text();
      assert.match(metrics, /^node_hwmon_temp_celsius\{engine="warm",chip="coretemp",sensor="temp1"\} 97$/m);
      assert.match(
        metrics,
        /^node_hwmon_temp_crit_celsius\{engine="warm",chip="coretemp",sensor="temp1"\} 100$/m,
      );
      assert.match(
        metrics,
        /^node_hwmon_sensor_label\{engine="warm",chip="coretemp",sensor="temp1",label="Package id 0"\} 1$/m,
      );
      const series = (
        (await (await fetch(`${monitor.url}/api/v1/engines/warm/host?range=15m&step=1s`)).json()) as {
          series: { temperatureCelsius: number | null }[];
        }
      ).series;
      assert.ok(
        series.some((p) => p.temperatureCelsius === 97),
        'the hottest sensor in the series',
      );
      writeFileSync(join(chip, 'temp1_input'), '60000\n');
      await waitFor(() => events().includes('resolved'), { what: 'resolved once cool', timeout: 30_000 });
      assert.deepEqual(events(), ['firing', 'resolved']);
    } finally {
      await monitor.stop();
      hook.close();
      await gateway.stop();
    }
  });
});
