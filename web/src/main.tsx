import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  type Alert,
  type ContainerItem,
  canAct,
  type EngineView,
  follow,
  getJson,
  type Me,
  send,
  signIn,
  whoAmI,
} from './api.js';
import './styles.css';
import '@xterm/xterm/css/xterm.css';
import { EnginePage } from './engine-page.js';
import { bytes, uptime } from './format.js';
import { LogsPage } from './logs-page.js';
import { Breakable, Name } from './names.js';
import { AlertsPage, ContainerPage, EnginesPage } from './pages.js';
import { TerminalsPage } from './terminal-tab.js';
import { BulkUpdate } from './update-dialog.js';

/** Filters live in the URL, so a view can be bookmarked and shared. */
interface Filters {
  q: string;
  state: string;
  engine: string;
  /** `outdated`: only containers whose image's tag moved on its registry. */
  update: string;
  group: 'none' | 'engine' | 'project';
  sort: 'problems' | 'name' | 'cpu' | 'memory' | 'restarts';
}

function readFilters(): Filters {
  const p = new URLSearchParams(location.search);
  const group = p.get('group');
  const sort = p.get('sort');
  return {
    q: p.get('q') ?? '',
    state: p.get('state') ?? '',
    engine: p.get('engine') ?? '',
    update: p.get('update') === 'outdated' ? 'outdated' : '',
    group: group === 'engine' || group === 'project' ? group : 'none',
    sort: sort === 'name' || sort === 'cpu' || sort === 'memory' || sort === 'restarts' ? sort : 'problems',
  };
}

function writeFilters(f: Filters): void {
  const p = new URLSearchParams();
  if (f.q !== '') p.set('q', f.q);
  if (f.state !== '') p.set('state', f.state);
  if (f.engine !== '') p.set('engine', f.engine);
  if (f.update !== '') p.set('update', f.update);
  if (f.group !== 'none') p.set('group', f.group);
  if (f.sort !== 'problems') p.set('sort', f.sort);
  const query = p.toString();
  history.replaceState(null, '', query === '' ? location.pathname : `?${query}`);
}

/** Why a container is a problem, or undefined. */
function problem(c: ContainerItem): string | undefined {
  if (c.oomKilled && c.state !== 'running') return 'OOM-killed';
  if (c.health === 'unhealthy') return 'unhealthy';
  if (c.state === 'restarting') return 'restarting';
  if ((c.state === 'exited' || c.state === 'dead') && c.exitCode !== null && c.exitCode !== 0)
    return `exited ${c.exitCode}`;
  return undefined;
}

const key = (c: { engine: string; id: string }): string => `${c.engine}/${c.id}`;

/** A short recent CPU history per container, kept from the stream (no request per row). */
const history_ = new Map<string, number[]>();

function Sparkline({ values }: { values: readonly number[] }) {
  if (values.length < 2) return <span class="spark" aria-hidden="true" />;
  const max = Math.max(1, ...values);
  const points = values.map((v, i) => `${(i / (values.length - 1)) * 60},${18 - (v / max) * 16}`).join(' ');
  return (
    <svg class="spark" viewBox="0 0 60 20" aria-hidden="true">
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

interface Live {
  readonly containers: ReadonlyMap<string, ContainerItem>;
  readonly engines: ReadonlyMap<string, EngineView>;
  readonly alerts: ReadonlyMap<string, Alert>;
  readonly changed: ReadonlySet<string>;
  readonly now: number;
}

/** Problems listed before "show all": a fleet-wide failure must not push the table off screen. */
const PROBLEMS_SHOWN = 8;

function Overview({ containers, engines, alerts, changed, now, canOperate }: Live & { canOperate: boolean }) {
  const [filters, setFilters] = useState(readFilters);
  const [allProblems, setAllProblems] = useState(false);
  const update = (change: Partial<Filters>): void => {
    const next = { ...filters, ...change };
    setFilters(next);
    writeFilters(next);
  };

  const all = [...containers.values()];
  const shown = useMemo(() => {
    const q = filters.q.toLowerCase();
    const list = all.filter(
      (c) =>
        (filters.state === '' || c.state === filters.state) &&
        (filters.engine === '' || c.engine === filters.engine) &&
        (filters.update === '' || c.update.status === filters.update) &&
        (q === '' ||
          c.name.toLowerCase().includes(q) ||
          c.image.toLowerCase().includes(q) ||
          (c.compose?.project.toLowerCase().includes(q) ?? false) ||
          Object.entries(c.labels).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(q))),
    );
    const by: Record<Filters['sort'], (a: ContainerItem, b: ContainerItem) => number> = {
      problems: (a, b) =>
        Number(problem(b) !== undefined) - Number(problem(a) !== undefined) || a.name.localeCompare(b.name),
      name: (a, b) => a.name.localeCompare(b.name),
      cpu: (a, b) => (b.cpuPercent ?? -1) - (a.cpuPercent ?? -1),
      memory: (a, b) => (b.memoryBytes ?? -1) - (a.memoryBytes ?? -1),
      restarts: (a, b) => b.restartCount - a.restartCount,
    };
    return list.sort(by[filters.sort]);
  }, [containers, filters]);

  const open = [...alerts.values()].filter((a) => a.state === 'open');
  const problems = all.filter((c) => problem(c) !== undefined);
  const down = [...engines.values()].filter((e) => e.status === 'down');
  const problemRows = problems
    .filter((c) => !open.some((a) => a.container?.id === c.id))
    .sort((a, b) => a.name.localeCompare(b.name));
  // Engines down and open alerts are always listed; containers' own problems up to the cap.
  const room = Math.max(0, PROBLEMS_SHOWN - down.length - open.length);
  const listed = allProblems ? problemRows.length : Math.min(room, problemRows.length);
  const total = down.length + open.length + problemRows.length;
  const counts = new Map<string, number>();
  for (const c of all) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
  // Not a problem: a newer image is on the registry (docs/updates.md).
  const outdated = all.filter((c) => c.update.status === 'outdated').length;
  const groups = new Map<string, ContainerItem[]>();
  for (const c of shown) {
    const g =
      filters.group === 'engine'
        ? c.engine
        : filters.group === 'project'
          ? (c.compose?.project ?? '(no project)')
          : '';
    const list = groups.get(g);
    if (list === undefined) groups.set(g, [c]);
    else list.push(c);
  }

  return (
    <>
      <section aria-labelledby="problems-title" class="problems">
        <h2 id="problems-title">Problems</h2>
        {open.length === 0 && problems.length === 0 && down.length === 0 ? (
          <p class="ok">Nothing needs attention.</p>
        ) : (
          <ul>
            {down.map((e) => (
              <li key={`engine-${e.name}`} class="bad">
                engine <strong>{e.name}</strong> is down{e.error === undefined ? '' : `: ${e.error}`}
              </li>
            ))}
            {open.map((a) => (
              <li key={a.id} class="bad" data-alert={a.kind}>
                <span class="tag">{a.kind}</span> {a.summary}
              </li>
            ))}
            {problemRows.slice(0, listed).map((c) => (
              <li key={key(c)} class="warn">
                <strong>
                  <Breakable text={c.name} />
                </strong>{' '}
                ({c.engine}): {problem(c)}
              </li>
            ))}
          </ul>
        )}
        {problemRows.length > room ? (
          <button
            type="button"
            class="more"
            aria-expanded={allProblems}
            onClick={() => setAllProblems(!allProblems)}
          >
            {allProblems ? 'show fewer' : `show all ${total} problems (${problemRows.length - listed} more)`}
          </button>
        ) : null}
      </section>

      <section aria-label="Counts by state" class="counts">
        {[...counts.entries()].sort().map(([state, n]) => (
          <button
            type="button"
            key={state}
            class={filters.state === state ? 'chip on' : 'chip'}
            aria-pressed={filters.state === state}
            onClick={() => update({ state: filters.state === state ? '' : state })}
          >
            {state} <strong>{n}</strong>
          </button>
        ))}
        {outdated > 0 || filters.update !== '' ? (
          <button
            type="button"
            class={filters.update === 'outdated' ? 'chip on' : 'chip'}
            aria-pressed={filters.update === 'outdated'}
            onClick={() => update({ update: filters.update === 'outdated' ? '' : 'outdated' })}
          >
            outdated <strong>{outdated}</strong>
          </button>
        ) : null}
        <span class="engines">
          {[...engines.values()].map((e) => (
            <span key={e.name} class={`engine ${e.status}`} title={e.url}>
              {e.name}: {e.status}
            </span>
          ))}
        </span>
      </section>

      <search>
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <label>
            Search
            <input
              type="search"
              value={filters.q}
              placeholder="name, image, label, project"
              onInput={(e) => update({ q: (e.target as HTMLInputElement).value })}
            />
          </label>
          <label>
            Engine
            <select
              value={filters.engine}
              onChange={(e) => update({ engine: (e.target as HTMLSelectElement).value })}
            >
              <option value="">all</option>
              {[...engines.keys()].map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Sort
            <select
              value={filters.sort}
              onChange={(e) => update({ sort: (e.target as HTMLSelectElement).value as Filters['sort'] })}
            >
              <option value="problems">problems first</option>
              <option value="name">name</option>
              <option value="cpu">CPU</option>
              <option value="memory">memory</option>
              <option value="restarts">restarts</option>
            </select>
          </label>
          <label>
            Group
            <select
              value={filters.group}
              onChange={(e) => update({ group: (e.target as HTMLSelectElement).value as Filters['group'] })}
            >
              <option value="none">none</option>
              <option value="engine">engine</option>
              <option value="project">compose project</option>
            </select>
          </label>
        </form>
      </search>

      {[...groups.entries()].map(([group, items]) => (
        <section key={group} aria-label={group === '' ? 'Containers' : group}>
          {group === '' ? null : <h2 class="group">{group}</h2>}
          {canOperate && filters.group === 'project' && group !== '(no project)' ? (
            <BulkUpdate project={group} items={items} />
          ) : null}
          <table class="containers">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col" class="wide">
                  Engine
                </th>
                <th scope="col" class="wide">
                  Project
                </th>
                <th scope="col" class="wide">
                  Uptime
                </th>
                <th scope="col">Restarts</th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr
                  key={key(c)}
                  data-container={c.name}
                  data-state={c.state}
                  class={`${changed.has(key(c)) ? 'changed' : ''} ${problem(c) === undefined ? '' : 'problem'} ${engines.get(c.engine)?.status === 'down' ? 'stale' : ''}`}
                  title={
                    engines.get(c.engine)?.status === 'down'
                      ? `engine ${c.engine} is down: the last known state`
                      : undefined
                  }
                >
                  <th scope="row" class="cell-name">
                    <a class="name" href={`/containers/${c.engine}/${c.id}`} title={c.name}>
                      <Name text={c.name} />
                    </a>
                    <span class="image">
                      <Breakable text={c.image} />
                    </span>
                  </th>
                  <td class="cell-state">
                    <span class={`state chip-s ${c.state}`}>{c.state}</span>
                    {c.health === 'none' ? null : <span class={`health chip-s ${c.health}`}>{c.health}</span>}
                    {c.update.status === 'outdated' ? (
                      <span
                        class="update chip-s outdated"
                        title={`newer on the registry: ${c.update.available ?? ''}`}
                      >
                        outdated
                      </span>
                    ) : null}
                  </td>
                  <td class="wide meta">{c.engine}</td>
                  <td class="wide meta">
                    {c.compose === null ? '—' : <Breakable text={c.compose.project} />}
                  </td>
                  <td class={`wide meta${c.state === 'running' ? ' uptime' : ''}`}>{uptime(c, now)}</td>
                  <td class="meta restarts">{c.restartCount}</td>
                  <td class="meta">
                    <Sparkline values={history_.get(key(c)) ?? []} />{' '}
                    {c.cpuPercent === null ? '—' : `${c.cpuPercent.toFixed(1)}%`}
                  </td>
                  <td class="meta">{bytes(c.memoryBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}

/** The page shown for a path: overview, a container, alerts, engines. */
type Route =
  | { page: 'overview' }
  | { page: 'container'; engine: string; id: string }
  | { page: 'alerts' }
  | { page: 'engines' }
  | { page: 'engine'; name: string }
  | { page: 'terminals' }
  | { page: 'logs' }
  | { page: 'login' };

function route(): Route {
  const m = /^\/containers\/([^/]+)\/([^/]+)$/.exec(location.pathname);
  if (m !== null)
    return {
      page: 'container',
      engine: decodeURIComponent(m[1] as string),
      id: decodeURIComponent(m[2] as string),
    };
  if (location.pathname === '/alerts') return { page: 'alerts' };
  if (location.pathname === '/engines') return { page: 'engines' };
  const e = /^\/engines\/([^/]+)$/.exec(location.pathname);
  if (e !== null) return { page: 'engine', name: decodeURIComponent(e[1] as string) };
  if (location.pathname === '/terminals') return { page: 'terminals' };
  if (location.pathname === '/logs') return { page: 'logs' };
  if (location.pathname === '/login') return { page: 'login' };
  return { page: 'overview' };
}

/**
 * Who is looking decides what is shown: a caller with no role gets the sign-in form (nothing
 * else is fetched); anyone else the dashboard, with actions for operators.
 */
function App() {
  const [me, setMe] = useState<Me | undefined>(undefined);
  const [failed, setFailed] = useState<string | undefined>(undefined);
  useEffect(() => {
    whoAmI().then(setMe, (error: Error) => setFailed(error.message));
  }, []);
  if (failed !== undefined)
    return (
      <main>
        <p class="error" role="alert">
          The monitor did not answer: {failed}
        </p>
      </main>
    );
  if (me === undefined) return <main aria-busy="true" />;
  if (me.role === 'none' || location.pathname === '/login') return <SignIn me={me} />;
  return <Dashboard me={me} />;
}

/** The sign-in form: name and password, then back to the page that was asked for. */
function SignIn({ me }: { me: Me }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      await signIn(String(form.get('name') ?? ''), String(form.get('password') ?? ''));
      const next = new URLSearchParams(location.search).get('next');
      // Only a path of this site: `next` must not send the browser elsewhere.
      location.assign(next !== null && /^\/(?!\/)/.test(next) ? next : '/');
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>dockgate monitor</h1>
      <form
        onSubmit={(e) => void submit(e)}
        aria-describedby={error === undefined ? undefined : 'sign-in-error'}
      >
        <h2>Sign in</h2>
        {me.signIn === false ? (
          <p class="muted">
            No users yet: create one on the monitor's host with{' '}
            <code>dockgate monitor user add NAME --role viewer</code>.
          </p>
        ) : null}
        <label>
          User name
          <input name="name" autocomplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        {error === undefined ? null : (
          <p class="error" id="sign-in-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

/** Signed in as …, or a link to sign in when the monitor has users. */
function WhoAmI({ me }: { me: Me }) {
  if (me.via === 'session')
    return (
      <p class="me">
        <span>{me.name}</span>{' '}
        <button
          type="button"
          onClick={() => void send('DELETE', '/api/v1/session').finally(() => location.assign('/login'))}
        >
          Sign out
        </button>
      </p>
    );
  if (me.via === 'anonymous' && me.signIn === true)
    return (
      <p class="me">
        <a href={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} data-reload>
          Sign in
        </a>
      </p>
    );
  return null;
}

/**
 * Stream events come in bursts (the snapshot at connect: one per container; a compose up): they
 * are applied together once per frame, so 500 containers cost one render, not 500.
 */
function batched<T>(apply: (items: T[]) => void): (item: T) => void {
  let queue: T[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const items = queue;
    queue = [];
    apply(items);
  };
  return (item) => {
    queue.push(item);
    if (scheduled) return;
    scheduled = true;
    // A hidden tab gets no frames: a timer keeps its state current for when it is shown.
    if (document.hidden) setTimeout(flush, 100);
    else requestAnimationFrame(flush);
  };
}

function Dashboard({ me }: { me: Me }) {
  const [containers, setContainers] = useState(new Map<string, ContainerItem>());
  const [engines, setEngines] = useState(new Map<string, EngineView>());
  const [alerts, setAlerts] = useState(new Map<string, Alert>());
  const [status, setStatus] = useState('connecting');
  const [changed, setChanged] = useState(new Set<string>());
  const [now, setNow] = useState(Date.now());
  const [where, setWhere] = useState(route);

  useEffect(() => {
    void getJson<Alert[]>('/api/v1/alerts?state=open').then(
      (list) =>
        setAlerts((prev) => {
          const next = new Map(prev);
          for (const a of list) if (!next.has(a.id)) next.set(a.id, a);
          return next;
        }),
      () => {},
    );
    // Links inside the app change the page without a reload.
    const onClick = (event: MouseEvent): void => {
      const link = (event.target as HTMLElement).closest('a');
      if (
        link === null ||
        link.origin !== location.origin ||
        link.hasAttribute('data-reload') ||
        event.ctrlKey ||
        event.metaKey ||
        event.shiftKey
      )
        return;
      event.preventDefault();
      history.pushState(null, '', link.href);
      setWhere(route());
      window.scrollTo(0, 0);
    };
    const onPop = (): void => setWhere(route());
    document.addEventListener('click', onClick);
    window.addEventListener('popstate', onPop);
    const timer = setInterval(() => setNow(Date.now()), 5000);
    // The snapshot at (re)connect is not news: only later changes are highlighted.
    let quietUntil = Date.now() + 2000;
    const containerChanges = batched<ContainerItem>((items) => {
      for (const c of items)
        if (c.cpuPercent !== null)
          history_.set(key(c), [...(history_.get(key(c)) ?? []).slice(-29), c.cpuPercent]);
      setContainers((prev) => {
        const next = new Map(prev);
        for (const c of items) {
          if (c.state === 'removed') next.delete(key(c));
          else next.set(key(c), c);
        }
        return next;
      });
      if (Date.now() < quietUntil) return;
      // Highlight a change briefly.
      const keys = items.map(key);
      setChanged((prev) => new Set([...prev, ...keys]));
      setTimeout(
        () =>
          setChanged((prev) => {
            const next = new Set(prev);
            for (const k of keys) next.delete(k);
            return next;
          }),
        1500,
      );
    });
    const stop = follow((event, data) => {
      if (event === 'status') {
        if (data === 'live') quietUntil = Date.now() + 2000;
        setStatus(data as string);
        return;
      }
      if (event === 'container') containerChanges(data as ContainerItem);
      else if (event === 'engine') {
        const e = data as EngineView;
        setEngines((prev) => new Map(prev).set(e.name, e));
      } else if (event === 'alert') {
        const a = data as Alert;
        setAlerts((prev) => new Map(prev).set(a.id, a));
      }
    });
    return () => {
      stop();
      clearInterval(timer);
      document.removeEventListener('click', onClick);
      window.removeEventListener('popstate', onPop);
    };
  }, []);

  const live: Live = { containers, engines, alerts, changed, now };
  const openAlerts = [...alerts.values()].filter((a) => a.state === 'open').length;
  return (
    <main>
      <header class="bar">
        <h1>
          <a href="/">dockgate monitor</a>
        </h1>
        <nav aria-label="Pages">
          <a href="/" aria-current={where.page === 'overview' ? 'page' : undefined}>
            Overview
          </a>
          <a href="/alerts" aria-current={where.page === 'alerts' ? 'page' : undefined}>
            Alerts{openAlerts > 0 ? ` (${openAlerts})` : ''}
          </a>
          <a
            href="/engines"
            aria-current={where.page === 'engines' || where.page === 'engine' ? 'page' : undefined}
          >
            Engines
          </a>
          {me.logs === true ? (
            <a href="/logs" aria-current={where.page === 'logs' ? 'page' : undefined}>
              Logs
            </a>
          ) : null}
          {me.terminal === true ? (
            <a href="/terminals" aria-current={where.page === 'terminals' ? 'page' : undefined}>
              Terminals
            </a>
          ) : null}
        </nav>
        <p class={`live ${status}`} role="status" aria-live="polite">
          {status === 'live' ? 'live' : status === 'connecting' ? 'connecting…' : 'disconnected, retrying…'}
        </p>
        <WhoAmI me={me} />
      </header>
      {where.page === 'overview' ? <Overview {...live} canOperate={canAct(me)} /> : null}
      {where.page === 'container' ? (
        <ContainerPage engine={where.engine} id={where.id} live={live} me={me} />
      ) : null}
      {where.page === 'alerts' ? (
        <AlertsPage
          alerts={alerts}
          me={me}
          onChange={(a) => setAlerts((prev) => new Map(prev).set(a.id, a))}
        />
      ) : null}
      {where.page === 'engines' ? <EnginesPage engines={engines} /> : null}
      {where.page === 'engine' ? (
        <EnginePage name={where.name} engine={engines.get(where.name)} me={me} />
      ) : null}
      {where.page === 'terminals' ? <TerminalsPage /> : null}
      {where.page === 'logs' ? <LogsPage /> : null}
    </main>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
