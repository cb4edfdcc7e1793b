import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import {
  type DiskView,
  type EngineView,
  type FilesystemSeries,
  getJson,
  type HostSeriesPoint,
  type HostView,
  type Me,
  type PruneOutcome,
  postJson,
} from './api.js';
import { bytes, when } from './format.js';

const RANGES = ['15m', '1h', '6h', '24h', '7d'] as const;
const SECONDS: Record<(typeof RANGES)[number], number> = {
  '15m': 900,
  '1h': 3600,
  '6h': 21_600,
  '24h': 86_400,
  '7d': 604_800,
};

type HostAnswer = { latest: HostView | null; series: HostSeriesPoint[]; filesystems: FilesystemSeries[] };

type Disk = DiskView & {
  prunes: readonly { id: string; time: string; by: string; reclaimedBytes: number }[];
};

/**
 * One engine's machine (docs/hosts.md): the host's charts over a range, its filesystems as bars
 * (the docker root first), Docker's own disk use, and for admins a Clean up dialog that shows
 * the dry run before asking.
 */
export function EnginePage({ name, engine, me }: { name: string; engine: EngineView | undefined; me: Me }) {
  const [range, setRange] = useState<(typeof RANGES)[number]>('1h');
  const [host, setHost] = useState<HostAnswer | undefined>();
  const [disk, setDisk] = useState<Disk | undefined>();
  const [error, setError] = useState<string | undefined>();
  const path = `/api/v1/engines/${encodeURIComponent(name)}`;
  const loadDisk = (): void => {
    getJson<Disk>(`${path}/disk`).then(setDisk, (e: Error) => setError(e.message));
  };
  useEffect(() => {
    let live = true;
    const load = (): void => {
      getJson<HostAnswer>(`${path}/host?range=${range}`).then(
        (h) => {
          if (!live) return;
          setHost(h);
          setError(undefined);
        },
        (e: Error) => live && setError(e.message),
      );
    };
    load();
    const timer = setInterval(load, 10_000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [path, range]);
  useEffect(loadDisk, [path]);
  const latest = host?.latest ?? null;
  // Made once per answer: a new array each render would redraw the chart on every state change.
  const fsChart = useMemo(
    () =>
      host === undefined || host.filesystems.length < 2
        ? undefined
        : { points: fsPoints(host.filesystems), lines: fsLines(host.filesystems) },
    [host],
  );
  return (
    <article class="engine-page" data-engine={name}>
      <h2>
        {name} <span class={`engine ${engine?.status ?? 'connecting'}`}>{engine?.status ?? '…'}</span>
      </h2>
      {error === undefined ? null : (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {latest === null ? null : <HostFacts host={latest} />}
      <section aria-label="Host charts">
        <fieldset class="ranges">
          <legend class="visually-hidden">Range</legend>
          {RANGES.map((r) => (
            <button key={r} type="button" aria-pressed={r === range} onClick={() => setRange(r)}>
              {r}
            </button>
          ))}
        </fieldset>
        {host === undefined || host.series.length === 0 ? (
          <p class="muted">
            No samples yet{latest?.source === 'engine' ? ': this engine has no dockgate gateway' : ''}.
          </p>
        ) : (
          <>
            <SeriesChart
              label="CPU, memory, docker root, network"
              points={host.series}
              lines={HOST_LINES}
              seconds={SECONDS[range]}
            />
            {host.series.some((p) => p.diskReadBytesPerSecond !== null || p.temperatureCelsius !== null) ? (
              <SeriesChart
                label="Disk I/O and temperature"
                points={host.series}
                lines={IO_LINES}
                seconds={SECONDS[range]}
              />
            ) : null}
            {fsChart !== undefined ? (
              <SeriesChart
                label="Filesystems used"
                points={fsChart.points}
                lines={fsChart.lines}
                seconds={SECONDS[range]}
              />
            ) : null}
          </>
        )}
      </section>
      {latest === null ? null : <Filesystems host={latest} />}
      <section aria-labelledby="disk-title">
        <h3 id="disk-title">Docker's disk use</h3>
        {disk === undefined ? <p class="muted">Reading…</p> : <DiskTable disk={disk} />}
        {me.role === 'admin' ? <CleanUp path={path} onDone={loadDisk} /> : null}
      </section>
    </article>
  );
}

function HostFacts({ host }: { host: HostView }) {
  return (
    <dl class="facts">
      <dt>Host</dt>
      <dd>{host.hostname ?? '—'}</dd>
      <dt>System</dt>
      <dd>
        {host.os ?? '—'} <span class="muted">{host.kernel ?? ''}</span>
      </dd>
      <dt>CPU</dt>
      <dd>
        {host.cpu?.cores ?? host.engine.cores ?? '—'} cores
        {host.cpu === null ? null : (
          <span class="muted">
            {' '}
            load {host.cpu.load1} {host.cpu.load5} {host.cpu.load15}
          </span>
        )}
      </dd>
      <dt>Memory</dt>
      <dd>
        {host.memory === null
          ? bytes(host.engine.memoryTotalBytes)
          : `${bytes(host.memory.availableBytes)} available of ${bytes(host.memory.totalBytes)}`}
        {host.memory !== null && host.memory.swapTotalBytes > 0
          ? ` · swap ${bytes(host.memory.swapUsedBytes)} of ${bytes(host.memory.swapTotalBytes)}`
          : ''}
      </dd>
      {host.pressure === undefined ? null : (
        <>
          <dt>Pressure</dt>
          <dd>
            cpu {host.pressure.cpu?.some.avg60 ?? '—'}% · memory {host.pressure.memory?.some.avg60 ?? '—'}% ·
            io {host.pressure.io?.some.avg60 ?? '—'}% <span class="muted">(some, 60 s)</span>
          </dd>
        </>
      )}
      <dt>Read</dt>
      <dd>
        {when(host.read)}{' '}
        <span class="muted">
          through {host.source === 'gateway' ? 'a dockgate gateway' : "the engine's /info"}
        </span>
      </dd>
      {host.unavailable.length === 0 ? null : (
        <>
          <dt>Not available</dt>
          <dd class="muted" data-unavailable>
            {host.unavailable.map((u) => `${u.field}: ${u.reason}`).join('; ')}
          </dd>
        </>
      )}
    </dl>
  );
}

/** One line of a chart: its label, colour, axis and value at a point. */
interface Line<P> {
  readonly label: string;
  readonly stroke: string;
  readonly scale: '%' | 'rate' | '°C';
  readonly value: (p: P) => number | null;
}

const percentOf = (used: number | null, other: number | null): number | null =>
  used === null || other === null || used + other === 0 ? null : (used / (used + other)) * 100;
const kib = (v: number | null): number | null => (v === null ? null : v / 1024);

const HOST_LINES: readonly Line<HostSeriesPoint>[] = [
  { label: 'CPU %', stroke: '#2456c6', scale: '%', value: (p) => p.cpuPercent },
  {
    label: 'Memory %',
    stroke: '#c2410c',
    scale: '%',
    value: (p) => percentOf(p.memoryUsedBytes, p.memoryAvailableBytes),
  },
  {
    label: 'Docker root %',
    stroke: '#7c3aed',
    scale: '%',
    value: (p) => percentOf(p.dockerRootUsedBytes, p.dockerRootAvailableBytes),
  },
  { label: 'Net in KiB/s', stroke: '#15803d', scale: 'rate', value: (p) => kib(p.netRxBytesPerSecond) },
  { label: 'Net out KiB/s', stroke: '#0e7490', scale: 'rate', value: (p) => kib(p.netTxBytesPerSecond) },
];

const IO_LINES: readonly Line<HostSeriesPoint>[] = [
  { label: 'Disk read KiB/s', stroke: '#15803d', scale: 'rate', value: (p) => kib(p.diskReadBytesPerSecond) },
  {
    label: 'Disk write KiB/s',
    stroke: '#b91c1c',
    scale: 'rate',
    value: (p) => kib(p.diskWriteBytesPerSecond),
  },
  { label: 'Hottest sensor °C', stroke: '#a16207', scale: '°C', value: (p) => p.temperatureCelsius },
];

const FS_COLOURS = ['#7c3aed', '#2456c6', '#c2410c', '#15803d', '#0e7490', '#a16207', '#be185d', '#4b5563'];

/** Every filesystem's points on one time axis (their buckets are the host series' buckets). */
function fsPoints(
  filesystems: readonly FilesystemSeries[],
): { time: string; used: Map<string, number | null> }[] {
  const byTime = new Map<string, Map<string, number | null>>();
  for (const fs of filesystems)
    for (const p of fs.points) {
      const used = byTime.get(p.time) ?? byTime.set(p.time, new Map()).get(p.time) ?? new Map();
      used.set(fs.mount, percentOf(p.usedBytes, p.availableBytes));
    }
  return [...byTime]
    .sort(([a], [b]) => Date.parse(a) - Date.parse(b))
    .map(([time, used]) => ({ time, used }));
}

function fsLines(filesystems: readonly FilesystemSeries[]): Line<ReturnType<typeof fsPoints>[number]>[] {
  return filesystems.map((fs, i) => ({
    label: `${fs.mount} %`,
    stroke: FS_COLOURS[i % FS_COLOURS.length] ?? '#4b5563',
    scale: '%',
    value: (p) => p.used.get(fs.mount) ?? null,
  }));
}

/** A uPlot chart of some lines over the range: percent on the left axis, the other unit on the right. */
function SeriesChart<P extends { time: string }>({
  label,
  points,
  lines,
  seconds,
}: {
  label: string;
  points: readonly P[];
  lines: readonly Line<P>[];
  seconds: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const data: uPlot.AlignedData = [
      points.map((p) => Date.parse(p.time) / 1000),
      ...lines.map((line) => points.map((p) => line.value(p))),
    ];
    const scales = [...new Set(lines.map((l) => l.scale))];
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 220,
        scales: {
          x: { time: true, range: () => [Date.now() / 1000 - seconds, Date.now() / 1000] },
          '%': { range: [0, 100] },
        },
        series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.stroke, scale: l.scale }))],
        axes: [
          {},
          ...scales.map((scale, i) => ({
            scale,
            side: i === 0 ? 3 : 1,
            label: scale === 'rate' ? 'KiB/s' : scale,
          })),
        ],
      },
      data,
      el,
    );
    return () => plot.destroy();
  }, [points, lines, seconds]);
  return (
    <figure class="chart-figure">
      <figcaption>{label}</figcaption>
      <div class="chart" ref={box} data-label={label} data-points={points.length} />
    </figure>
  );
}

function Filesystems({ host }: { host: HostView }) {
  if (host.filesystems.length === 0) return null;
  return (
    <section aria-labelledby="fs-title">
      <h3 id="fs-title">Filesystems</h3>
      <ul class="filesystems">
        {host.filesystems.map((fs) => {
          const percent = usedPercent(fs);
          return (
            <li key={fs.mount} data-mount={fs.mount} data-docker-root={fs.dockerRoot ? 'true' : undefined}>
              <span class="fs-name">
                <code>{fs.mount}</code>
                {fs.dockerRoot ? <span class="badge">docker root</span> : null}
                <span class="muted">
                  {' '}
                  {fs.device} · {fs.fsType}
                  {fs.readOnly ? ' · read-only' : ''}
                </span>
              </span>
              <UsedMeter percent={percent} label={`${fs.mount} used`} />
              <span class="fs-figures">
                {percent}% · {bytes(fs.availableBytes)} free of {bytes(fs.sizeBytes)}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** A filesystem's use as a bar: amber past 80 %, red past 90 % (the `disk` rule's default). */
export function UsedMeter({ percent, label }: { percent: number; label: string }) {
  return <meter min={0} max={100} low={80} high={90} optimum={0} value={percent} aria-label={label} />;
}

/** df's Use%: used over what a user could have (root's reserve left out), one decimal. */
export function usedPercent(fs: { usedBytes: number; availableBytes: number }): number {
  const usable = fs.usedBytes + fs.availableBytes;
  return usable === 0 ? 0 : Math.round((fs.usedBytes / usable) * 1000) / 10;
}

function DiskTable({ disk }: { disk: Disk }) {
  const rows = [
    ['Images', disk.images],
    ['Containers', disk.containers],
    ['Volumes', disk.volumes],
    ['Build cache', disk.buildCache],
  ] as const;
  return (
    <>
      <table class="disk">
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Total</th>
            <th scope="col">Active</th>
            <th scope="col">Size</th>
            <th scope="col">Reclaimable</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, line]) => (
            <tr key={label} data-type={label}>
              <th scope="row">{label}</th>
              <td>{line.count}</td>
              <td>{line.active}</td>
              <td>{bytes(line.sizeBytes)}</td>
              <td>{bytes(line.reclaimableBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        Read {when(disk.read)} in {disk.tookMs} ms (at most every 15 minutes).
        {disk.prunes[0] === undefined
          ? ''
          : ` Last cleanup ${when(disk.prunes[0].time)} by ${disk.prunes[0].by}: ${bytes(disk.prunes[0].reclaimedBytes)} freed.`}
      </p>
    </>
  );
}

type CleanPhase =
  | { kind: 'choose' }
  | { kind: 'previewing' }
  | { kind: 'preview'; outcome: PruneOutcome }
  | { kind: 'running' }
  | { kind: 'done'; outcome: PruneOutcome }
  | { kind: 'failed'; message: string };

/** Admins: what to clean up, then the dry run's exact list and bytes, then the real removal. */
function CleanUp({ path, onDone }: { path: string; onDone: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [phase, setPhase] = useState<CleanPhase>({ kind: 'choose' });
  const [images, setImages] = useState<'' | 'dangling' | 'unused'>('dangling');
  const [containers, setContainers] = useState(true);
  const [buildCache, setBuildCache] = useState(true);
  const [volumes, setVolumes] = useState(false);
  const [olderThan, setOlderThan] = useState('');
  const body = (dryRun: boolean): Record<string, unknown> => ({
    ...(images === '' ? {} : { images }),
    ...(containers ? { containers: 'exited' } : {}),
    ...(buildCache ? { buildCache: true } : {}),
    ...(volumes ? { volumes: true } : {}),
    ...(olderThan.trim() === '' ? {} : { olderThan: olderThan.trim() }),
    dryRun,
  });
  const preview = (): void => {
    setPhase({ kind: 'previewing' });
    postJson<PruneOutcome>(`${path}/prune`, body(true)).then(
      (outcome) => setPhase({ kind: 'preview', outcome }),
      (e: Error) => setPhase({ kind: 'failed', message: e.message }),
    );
  };
  const run = (): void => {
    setPhase({ kind: 'running' });
    postJson<PruneOutcome>(`${path}/prune`, body(false)).then(
      (outcome) => {
        setPhase({ kind: 'done', outcome });
        onDone();
      },
      (e: Error) => setPhase({ kind: 'failed', message: e.message }),
    );
  };
  const count = (o: PruneOutcome): number =>
    o.plan.containers.length + o.plan.images.length + o.plan.volumes.length + o.plan.buildCache.length;
  return (
    <>
      <button
        type="button"
        class="clean-up"
        onClick={() => {
          setPhase({ kind: 'choose' });
          dialog.current?.showModal();
        }}
      >
        Clean up…
      </button>
      <dialog ref={dialog} class="update-dialog clean-dialog" aria-labelledby="clean-title">
        <h3 id="clean-title">Clean up</h3>
        {phase.kind === 'choose' || phase.kind === 'previewing' ? (
          <fieldset disabled={phase.kind === 'previewing'}>
            <label>
              Images{' '}
              <select
                value={images}
                onChange={(e) => setImages((e.target as HTMLSelectElement).value as typeof images)}
              >
                <option value="">keep</option>
                <option value="dangling">dangling (untagged)</option>
                <option value="unused">unused by any container</option>
              </select>
            </label>
            <label>
              <input
                type="checkbox"
                checked={containers}
                onChange={(e) => setContainers((e.target as HTMLInputElement).checked)}
              />{' '}
              Exited containers
            </label>
            <label>
              <input
                type="checkbox"
                checked={buildCache}
                onChange={(e) => setBuildCache((e.target as HTMLInputElement).checked)}
              />{' '}
              Build cache
            </label>
            <label>
              <input
                type="checkbox"
                checked={volumes}
                onChange={(e) => setVolumes((e.target as HTMLInputElement).checked)}
              />{' '}
              Anonymous volumes no container uses
            </label>
            <label>
              Older than{' '}
              <input
                type="text"
                placeholder="168h"
                value={olderThan}
                size={6}
                onInput={(e) => setOlderThan((e.target as HTMLInputElement).value)}
              />
            </label>
            <p class="muted">
              Nothing a running or restarting container uses is removed, nor anything labelled
              dockgate.keep=true.
            </p>
          </fieldset>
        ) : null}
        {phase.kind === 'preview' || phase.kind === 'done' ? (
          <div class="prune-list" data-phase={phase.kind}>
            <p role="status">
              {phase.kind === 'preview'
                ? `${count(phase.outcome)} objects would go: ${bytes(phase.outcome.plan.bytes)}.`
                : `Removed ${count(phase.outcome) - (phase.outcome.failed?.length ?? 0)} objects; ${bytes(phase.outcome.reclaimedBytes ?? 0)} freed.`}
            </p>
            <ul>
              {[
                ...phase.outcome.plan.containers.map((c) => ['container', c] as const),
                ...phase.outcome.plan.images.map((i) => ['image', i] as const),
                ...phase.outcome.plan.volumes.map((v) => ['volume', v] as const),
                ...phase.outcome.plan.buildCache.map((b) => ['build cache', b] as const),
              ].map(([kind, item]) => (
                <li key={`${kind}-${item.id}`} data-kind={kind}>
                  {kind} <code>{item.name || item.id.slice(0, 19)}</code>{' '}
                  <span class="muted">{bytes(item.bytes)}</span>
                </li>
              ))}
            </ul>
            {phase.kind === 'done' && (phase.outcome.failed?.length ?? 0) > 0 ? (
              <ul class="error">
                {phase.outcome.failed?.map((f) => (
                  <li key={f.id}>
                    {f.kind} {f.name}: {f.error}
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
        ) : null}
        {phase.kind === 'running' ? <p aria-live="polite">Removing…</p> : null}
        {phase.kind === 'failed' ? (
          <p class="error" role="alert">
            {phase.message}
          </p>
        ) : null}
        <form method="dialog" class="dialog-buttons">
          <button type="submit" value="close" disabled={phase.kind === 'running'}>
            {phase.kind === 'done' ? 'Close' : 'Cancel'}
          </button>
          {phase.kind === 'choose' || phase.kind === 'previewing' ? (
            <button type="button" class="primary" disabled={phase.kind === 'previewing'} onClick={preview}>
              Show what would go
            </button>
          ) : null}
          {phase.kind === 'preview' && count(phase.outcome) > 0 ? (
            <button type="button" class="primary danger" onClick={run}>
              Remove {count(phase.outcome)} ({bytes(phase.outcome.plan.bytes)})
            </button>
          ) : null}
        </form>
      </dialog>
    </>
  );
}
