import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import {
  type Alert,
  type ContainerItem,
  canAct,
  type EngineView,
  getJson,
  type HostView,
  type Me,
  send,
} from './api.js';
import { UsedMeter, usedPercent } from './engine-page.js';
import { bytes, when } from './format.js';
import { Breakable } from './names.js';
import { TerminalTab } from './terminal-tab.js';
import { UpdateButton } from './update-dialog.js';

interface TimelineEntry {
  readonly time: string;
  readonly kind: string;
  readonly action: string;
  readonly exitCode?: number;
  readonly expected?: boolean;
  readonly by?: string;
  readonly detail?: Readonly<Record<string, string>>;
}

interface Point {
  readonly time: string;
  readonly cpuPercent: number | null;
  readonly memoryBytes: number | null;
}

interface LogLine {
  readonly time: string | null;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

const RANGES = [
  ['15m', '15m', '5s'],
  ['1h', '1h', '10s'],
  ['24h', '24h', '5m'],
  ['7d', '7d', '1h'],
] as const;

/** A container: summary, actions (operators), charts, timeline, live logs. */
export function ContainerPage({
  engine,
  id,
  live,
  me,
}: {
  engine: string;
  id: string;
  live: { containers: ReadonlyMap<string, ContainerItem> };
  me: Me;
}) {
  const [detail, setDetail] = useState<(ContainerItem & { timeline: TimelineEntry[] }) | undefined>();
  const [error, setError] = useState<string | undefined>();
  // Until a range is picked, the range fits the container: 15 min while it is younger than that.
  const [picked, setRange] = useState<(typeof RANGES)[number] | undefined>();
  const [points, setPoints] = useState<Point[]>([]);
  const [busy, setBusy] = useState<string | undefined>();
  const confirm = useRef<HTMLDialogElement>(null);
  const [pending, setPending] = useState<string | undefined>();
  const current =
    detail === undefined ? undefined : (live.containers.get(`${engine}/${detail.id}`) ?? detail);
  const path = `/api/v1/containers/${encodeURIComponent(engine)}/${encodeURIComponent(id)}`;
  const range = picked ?? defaultRange(current?.startedAt ?? null);

  const load = (): void => {
    getJson<ContainerItem & { timeline: TimelineEntry[] }>(path).then(setDetail, (e: Error) =>
      setError(e.message),
    );
  };
  useEffect(load, [path]);
  // The timeline follows the live state: reload it when the state changes.
  useEffect(load, [current?.state, current?.health, current?.restartCount]);
  useEffect(() => {
    getJson<{ points: Point[] }>(`${path}/stats?since=${range[1]}&step=${range[2]}`).then(
      (r) => setPoints(r.points),
      () => {},
    );
  }, [path, range, current?.cpuPercent]);

  if (error !== undefined) return <p class="error">{error}</p>;
  if (current === undefined || detail === undefined) return <p>loading…</p>;

  const act = (action: string): void => {
    setBusy(action);
    send(
      action === 'remove' ? 'DELETE' : 'POST',
      action === 'remove' ? `${path}?force=true` : `${path}/${action}`,
    )
      .then(load, (e: Error) => setError(e.message))
      .finally(() => setBusy(undefined));
  };
  const ask = (action: string): void => {
    // Destructive actions are confirmed in a real <dialog> (keyboard and screen readers included).
    if (['stop', 'restart', 'kill', 'remove'].includes(action)) {
      setPending(action);
      confirm.current?.showModal();
    } else act(action);
  };

  return (
    <article class="container-page" data-container={current.name} data-state={current.state}>
      <h2>
        <span class="full-name">
          <Breakable text={current.name} />
        </span>{' '}
        <span class={`state chip-s ${current.state}`}>{current.state}</span>
        {current.health === 'none' ? null : <span class={`health ${current.health}`}> {current.health}</span>}
      </h2>
      <dl class="summary">
        <dt>Engine</dt>
        <dd>{current.engine}</dd>
        <dt>Image</dt>
        <dd>{current.image}</dd>
        <dt>Registry</dt>
        <dd class="update-status" data-update={current.update.status}>
          {updateText(current.update)}
        </dd>
        <dt>Id</dt>
        <dd class="mono">{current.id.slice(0, 12)}</dd>
        <dt>Compose</dt>
        <dd>{current.compose === null ? '—' : `${current.compose.project} / ${current.compose.service}`}</dd>
        <dt>Exit code</dt>
        <dd>
          {current.exitCode ?? '—'}
          {current.oomKilled ? ' (OOM-killed)' : ''}
        </dd>
        <dt>Restarts</dt>
        <dd>{current.restartCount}</dd>
        <dt>Started</dt>
        <dd>{when(current.startedAt)}</dd>
        <dt>CPU / memory</dt>
        <dd>
          {current.cpuPercent === null ? '—' : `${current.cpuPercent.toFixed(1)}%`} /{' '}
          {bytes(current.memoryBytes)} of {bytes(current.memoryLimitBytes)}
        </dd>
      </dl>
      {canAct(me) ? (
        <fieldset class="actions">
          <legend class="visually-hidden">Actions</legend>
          {(current.state === 'running'
            ? ['stop', 'restart', 'kill', 'pause']
            : current.state === 'paused'
              ? ['unpause', 'stop']
              : ['start', 'remove']
          ).map((action) => (
            <button type="button" key={action} disabled={busy !== undefined} onClick={() => ask(action)}>
              {action}
            </button>
          ))}
          {current.state === 'removed' ? null : (
            <UpdateButton
              item={current}
              onUpdated={(next) => {
                // The updated container is a new one (a new id): its page.
                history.pushState(null, '', `/containers/${encodeURIComponent(current.engine)}/${next}`);
                window.dispatchEvent(new PopStateEvent('popstate'));
              }}
            />
          )}
        </fieldset>
      ) : null}
      <dialog ref={confirm} aria-labelledby="confirm-title">
        <form method="dialog">
          <p id="confirm-title">
            {pending} {current.name}?
          </p>
          <button type="submit" value="cancel">
            Cancel
          </button>
          <button
            type="submit"
            value="ok"
            class="danger"
            onClick={() => pending !== undefined && act(pending)}
          >
            {pending}
          </button>
        </form>
      </dialog>

      <section aria-label="Resources">
        <h3>Resources</h3>
        <fieldset class="ranges">
          <legend class="visually-hidden">Range</legend>
          {RANGES.map((r) => (
            <button type="button" key={r[0]} aria-pressed={r === range} onClick={() => setRange(r)}>
              {r[0]}
            </button>
          ))}
        </fieldset>
        <Chart points={points} seconds={rangeSeconds(range[1])} />
      </section>

      <section aria-label="Timeline">
        <h3>Timeline</h3>
        <ol class="timeline">
          {[...detail.timeline].reverse().map((t, i) => (
            <li
              key={`${t.time}-${i}`}
              class={
                (t.action === 'die' && t.expected !== true && t.exitCode !== 0) ||
                t.action === 'update-failed'
                  ? 'bad'
                  : ''
              }
            >
              <time dateTime={t.time}>{when(t.time)}</time> <strong>{t.action}</strong>
              {t.exitCode === undefined ? '' : ` (exit ${t.exitCode})`}
              {t.expected === true ? ' expected' : ''}
              {t.by === undefined ? '' : ` by ${t.by}`}
              {t.action === 'update' && t.detail !== undefined
                ? ` (${shortDigest(t.detail.from)} → ${shortDigest(t.detail.to)})`
                : ''}
              {t.action === 'update-failed' && t.detail !== undefined ? `: ${t.detail.reason ?? ''}` : ''}
              {t.kind === 'event' ? '' : <span class="muted"> {t.kind}</span>}
            </li>
          ))}
        </ol>
      </section>

      {canAct(me) ? (
        <Logs path={path} engine={current.engine} name={current.name} kept={me.logs === true} />
      ) : null}
      {me.terminal === true ? (
        <TerminalTab path={path} me={me} running={current.state === 'running'} />
      ) : null}
    </article>
  );
}

/** CPU and memory over the chosen range, with uPlot (about 20 KB). */
function Chart({ points, seconds }: { points: readonly Point[]; seconds: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (el === null || points.length === 0) return;
    const data: uPlot.AlignedData = [
      points.map((p) => Date.parse(p.time) / 1000),
      points.map((p) => p.cpuPercent),
      points.map((p) => (p.memoryBytes === null ? null : p.memoryBytes / 1048576)),
    ];
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 200,
        // The whole range on the x axis, even with few points (one point alone spans years).
        scales: { x: { time: true, range: () => [Date.now() / 1000 - seconds, Date.now() / 1000] } },
        series: [
          {},
          { label: 'CPU %', stroke: '#2456c6', scale: '%' },
          { label: 'Memory MiB', stroke: '#c2410c', scale: 'mb' },
        ],
        axes: [{}, { scale: '%' }, { scale: 'mb', side: 1 }],
      },
      data,
      el,
    );
    return () => plot.destroy();
  }, [points, seconds]);
  return <div class="chart" ref={box} data-points={points.length} />;
}

/** The log, followed live (server-sent events); pause, search, stdout and stderr apart, download. */
/**
 * The container's log: the engine's tail, live; above it, "older" reaches into the kept logs
 * (every incarnation under this name) and scrolling to the top loads more.
 */
function Logs({ path, engine, name, kept }: { path: string; engine: string; name: string; kept: boolean }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [olderNext, setOlderNext] = useState<string | null | undefined>(undefined);
  const loading = useRef(false);
  const older = (): void => {
    if (!kept || olderNext === null || loading.current) return;
    loading.current = true;
    const first = lines[0]?.time;
    const params = new URLSearchParams({ engine, container: name, limit: '200' });
    if (olderNext !== undefined) params.set('before', olderNext);
    else if (first !== null && first !== undefined)
      params.set('until', new Date(Date.parse(first) - 1).toISOString());
    getJson<{ lines: { time: string; stream: string; text: string }[]; next: string | null }>(
      `/api/v1/logs?${params.toString()}`,
    ).then(
      (page) => {
        const got = page.lines
          .filter((l) => l.stream !== 'dockgate')
          .reverse()
          .map((l) => ({ time: l.time, stream: l.stream as LogLine['stream'], text: l.text }));
        setLines((prev) => [...got, ...prev]);
        setOlderNext(page.next);
        loading.current = false;
      },
      () => {
        loading.current = false;
      },
    );
  };
  const [paused, setPaused] = useState(false);
  const [search, setSearch] = useState('');
  const [streams, setStreams] = useState({ stdout: true, stderr: true });
  useEffect(() => {
    if (paused) return;
    const source = new EventSource(`${path}/logs?follow=true&tail=200`);
    source.addEventListener('log', (e) => {
      const line = JSON.parse((e as MessageEvent<string>).data) as LogLine;
      setLines((prev) => [...prev.slice(-999), line]);
    });
    return () => source.close();
  }, [path, paused]);
  const shown = lines.filter(
    (l) => streams[l.stream] && (search === '' || l.text.toLowerCase().includes(search.toLowerCase())),
  );
  const download = (): void => {
    const blob = new Blob([lines.map((l) => `${l.time ?? ''} ${l.stream} ${l.text}`).join('\n')], {
      type: 'text/plain',
    });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'logs.txt';
    a.click();
  };
  return (
    <section aria-label="Logs">
      <h3>Logs</h3>
      <div class="log-tools">
        <button type="button" onClick={() => setPaused(!paused)} aria-pressed={paused}>
          {paused ? 'follow' : 'pause'}
        </button>
        <label>
          <input
            type="checkbox"
            checked={streams.stdout}
            onChange={() => setStreams({ ...streams, stdout: !streams.stdout })}
          />{' '}
          stdout
        </label>
        <label>
          <input
            type="checkbox"
            checked={streams.stderr}
            onChange={() => setStreams({ ...streams, stderr: !streams.stderr })}
          />{' '}
          stderr
        </label>
        <label>
          Search{' '}
          <input
            type="search"
            value={search}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="button" onClick={download}>
          download
        </button>
      </div>
      {kept && olderNext !== null ? (
        <button type="button" onClick={older}>
          older (kept logs, every incarnation)
        </button>
      ) : null}
      <pre
        class="logs"
        aria-live="off"
        onScroll={(e) => {
          if ((e.target as HTMLElement).scrollTop === 0) older();
        }}
      >
        {shown.map((l, i) => (
          <span key={i} class={l.stream}>
            <span class="muted">{l.time === null ? '' : l.time.slice(11, 19)}</span> {l.text}
            {'\n'}
          </span>
        ))}
      </pre>
    </section>
  );
}

/** Open incidents (acknowledge), resolved ones, and each one's deliveries. */
export function AlertsPage({
  alerts,
  me,
  onChange,
}: {
  alerts: ReadonlyMap<string, Alert>;
  me: Me;
  onChange: (a: Alert) => void;
}) {
  const [resolved, setResolved] = useState<Alert[]>([]);
  const [deliveries, setDeliveries] = useState<
    Record<
      string,
      { notifier: string; attempt: number; ok: boolean; status: number | null; error: string | null }[]
    >
  >({});
  useEffect(() => {
    getJson<Alert[]>('/api/v1/alerts?state=resolved').then(setResolved, () => {});
  }, [alerts]);
  const open = [...alerts.values()]
    .filter((a) => a.state === 'open')
    .sort((a, b) => b.openedAt.localeCompare(a.openedAt));
  const show = (id: string): void => {
    getJson<{ deliveries: (typeof deliveries)[string] }>(`/api/v1/alerts/${id}`).then(
      (a) => setDeliveries((d) => ({ ...d, [id]: a.deliveries })),
      () => {},
    );
  };
  const row = (a: Alert) => (
    <li key={a.id} class={a.state === 'open' ? 'bad' : ''} data-alert={a.kind}>
      <span class="tag">{a.kind}</span> {a.summary}
      <span class="muted"> · {when(a.openedAt)}</span>
      {a.acknowledgedAt === null ? null : <span class="muted"> · acknowledged</span>}
      <div class="alert-tools">
        {a.state === 'open' && a.acknowledgedAt === null && canAct(me) ? (
          <button
            type="button"
            onClick={() =>
              send('POST', `/api/v1/alerts/${a.id}/ack`).then(
                (x) => onChange(x as Alert),
                () => {},
              )
            }
          >
            acknowledge
          </button>
        ) : null}
        <button type="button" onClick={() => show(a.id)}>
          deliveries
        </button>
        {a.container === null ? null : (
          <a
            href={`/logs?${new URLSearchParams({
              engine: a.engine,
              container: a.container.id,
              since: new Date(Date.parse(a.openedAt) - 5 * 60_000).toISOString(),
              ...(a.resolvedAt === null
                ? {}
                : { until: new Date(Date.parse(a.resolvedAt) + 60_000).toISOString() }),
            }).toString()}`}
          >
            show the lines
          </a>
        )}
      </div>
      {deliveries[a.id] === undefined ? null : (
        <ul class="deliveries">
          {deliveries[a.id]?.map((d, i) => (
            <li key={i}>
              {d.notifier} attempt {d.attempt}:{' '}
              {d.ok ? `ok ${d.status ?? ''}` : `failed ${d.status ?? ''} ${d.error ?? ''}`}
            </li>
          ))}
        </ul>
      )}
    </li>
  );
  return (
    <article class="alerts-page">
      <h2>Open alerts</h2>
      {open.length === 0 ? <p class="ok">None.</p> : <ul class="alert-list">{open.map(row)}</ul>}
      <h2>Resolved</h2>
      <ul class="alert-list">{resolved.slice(0, 100).map(row)}</ul>
    </article>
  );
}

/** One engine's host as `GET /api/v1/hosts` has it (docs/hosts.md). */
interface HostSummary {
  readonly engine: string;
  readonly latest: HostView | null;
  readonly point: {
    cpuPercent: number | null;
    memoryUsedBytes: number | null;
    memoryAvailableBytes: number | null;
  } | null;
}

/** Every engine: reachability, versions, its host at a glance, how stats and logs are read. */
export function EnginesPage({ engines }: { engines: ReadonlyMap<string, EngineView> }) {
  const [hosts, setHosts] = useState<ReadonlyMap<string, HostSummary>>(new Map());
  useEffect(() => {
    let live = true;
    const load = (): void => {
      getJson<HostSummary[]>('/api/v1/hosts').then(
        (list) => {
          if (live) setHosts(new Map(list.map((h) => [h.engine, h])));
        },
        () => {},
      );
    };
    load();
    const timer = setInterval(load, 15_000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  return (
    <article>
      <h2>Engines</h2>
      <table class="containers">
        <thead>
          <tr>
            <th scope="col">Engine</th>
            <th scope="col">Status</th>
            <th scope="col">Docker root</th>
            <th scope="col" class="wide">
              Host
            </th>
            <th scope="col">Version</th>
            <th scope="col" class="wide">
              Address
            </th>
            <th scope="col">Containers</th>
            <th scope="col" class="wide">
              Stats
            </th>
            <th scope="col" class="wide">
              Logs
            </th>
          </tr>
        </thead>
        <tbody>
          {[...engines.values()].map((e) => {
            const host = hosts.get(e.name);
            const root = host?.latest?.filesystems.find((f) => f.dockerRoot);
            const used = root === undefined ? undefined : usedPercent(root);
            const point = host?.point;
            const memory =
              point?.memoryUsedBytes == null || point.memoryAvailableBytes == null
                ? undefined
                : Math.round(
                    (point.memoryUsedBytes / (point.memoryUsedBytes + point.memoryAvailableBytes)) * 100,
                  );
            return (
              <tr key={e.name} data-engine={e.name}>
                <th scope="row">
                  <a href={`/engines/${encodeURIComponent(e.name)}`}>{e.name}</a>
                </th>
                <td>
                  <span class={`engine ${e.status}`}>{e.status}</span>{' '}
                  <span class="muted">since {when(e.since)}</span>
                  {e.error === undefined ? null : <span class="health unhealthy">{e.error}</span>}
                </td>
                <td data-docker-root={used === undefined ? undefined : String(used)}>
                  {root === undefined || used === undefined ? (
                    <span class="muted">—</span>
                  ) : (
                    <>
                      <UsedMeter percent={used} label={`${e.name} docker root used`} /> {used}%{' '}
                      <span class="muted">{bytes(root.availableBytes)} free</span>
                    </>
                  )}
                </td>
                <td class="wide">
                  {point === null || point === undefined ? (
                    <span class="muted">{host?.latest?.source === 'engine' ? 'no gateway' : '—'}</span>
                  ) : (
                    <>
                      CPU {point.cpuPercent ?? '—'}% · memory {memory ?? '—'}%
                    </>
                  )}
                </td>
                <td>
                  {e.version ?? '—'} <span class="muted">API {e.apiVersion ?? '—'}</span>
                </td>
                <td class="wide mono">{e.url}</td>
                <td>
                  {e.containers.running} / {e.containers.total}
                </td>
                <td class="wide">
                  {e.statsPath ?? '—'}
                  {e.gateway === true ? ' (through a dockgate gateway)' : ''}
                </td>
                <td class="wide">{e.logsPath ?? '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </article>
  );
}

/** The chart's first range: 15 min for a container started less than 15 min ago, else 1 h. */
function defaultRange(startedAt: string | null): (typeof RANGES)[number] {
  const age = startedAt === null ? Number.POSITIVE_INFINITY : Date.now() - Date.parse(startedAt);
  return age < 15 * 60_000 ? RANGES[0] : RANGES[1];
}

function rangeSeconds(text: string): number {
  const n = Number(text.slice(0, -1));
  return text.endsWith('d') ? n * 86_400 : text.endsWith('h') ? n * 3600 : n * 60;
}

/** The image against its registry, in words (docs/updates.md). */
function shortDigest(digest: string | undefined): string {
  return digest === undefined || digest === '' ? '?' : digest.replace(/^sha256:/, '').slice(0, 12);
}

function updateText(update: ContainerItem['update']): string {
  const short = (digest: string | null): string => (digest === null ? '—' : digest.slice(7, 19));
  switch (update.status) {
    case 'outdated':
      return `outdated: runs ${short(update.current)}, the tag is now ${short(update.available)}`;
    case 'current':
      return `current (${short(update.current)})`;
    case 'pinned':
      return `pinned to ${short(update.current)}`;
    case 'local':
      return 'built or imported here: no registry to ask';
    default:
      return update.error === undefined ? 'not checked yet' : `unknown: ${update.error}`;
  }
}
