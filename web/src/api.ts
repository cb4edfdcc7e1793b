/** The dashboard's view of the monitor: the same API and stream any client uses (docs/monitor.md). */
// The container and engine items are the server's own types (type-only: nothing of the server
// reaches the bundle); the alert object is repeated below (its module needs Node).

export type { DiskView } from '../../src/monitor/hosts/disk-usage.js';
export type { FilesystemSeries, HostSeriesPoint } from '../../src/monitor/hosts/host-history.js';
export type { HostView } from '../../src/monitor/hosts/host-sources.js';
export type { PruneOutcome } from '../../src/monitor/hosts/prune-runner.js';
export type { ContainerItem } from '../../src/monitor/model/container.js';
export type { EngineView } from '../../src/monitor/state/live-state.js';

export interface Alert {
  readonly id: string;
  readonly kind: string;
  readonly engine: string;
  readonly container: { readonly id: string; readonly name: string } | null;
  readonly state: 'open' | 'resolved';
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  readonly acknowledgedAt: string | null;
  readonly count: number;
  readonly summary: string;
}

export type Listener = (event: 'container' | 'engine' | 'alert' | 'status', data: unknown) => void;

/**
 * Follows `/api/v1/stream` (snapshot first, then changes). EventSource reconnects by itself and
 * resends `Last-Event-ID`, so nothing is lost; while it is away the page says so.
 */
export function follow(listener: Listener): () => void {
  const source = new EventSource('/api/v1/stream?snapshot=true');
  source.onopen = () => listener('status', 'live');
  source.onerror = () => listener('status', 'retrying');
  for (const kind of ['container', 'engine', 'alert'] as const) {
    source.addEventListener(kind, (event) =>
      listener(kind, JSON.parse((event as MessageEvent<string>).data)),
    );
  }
  source.addEventListener('resync', () => listener('status', 'resync'));
  return () => source.close();
}

export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  if (!response.ok)
    throw new Error(((await response.json()) as { message?: string }).message ?? response.statusText);
  return (await response.json()) as T;
}

/** Who the dashboard is shown to. */
export interface Me {
  readonly name: string;
  readonly role: 'none' | 'viewer' | 'operator' | 'admin';
  readonly via: 'token' | 'session' | 'anonymous';
  /** A signed-in session's token for changes (X-CSRF-Token). */
  readonly csrf?: string;
  /** The monitor has users: offer to sign in. */
  readonly signIn?: boolean;
  /** This caller may open terminals (and see the recorded sessions). */
  readonly terminal?: boolean;
  /** This caller may search the kept logs (the Logs page). */
  readonly logs?: boolean;
}

/** Sent with every change of a signed-in session (the cookie alone does not do). */
let csrf: string | undefined;

export async function whoAmI(): Promise<Me> {
  const me = await getJson<Me>('/api/v1/me');
  csrf = me.csrf;
  return me;
}

/** Signs in; the session cookie is set by the answer (HttpOnly: this page never sees it). */
export async function signIn(name: string, password: string): Promise<Me> {
  const response = await fetch('/api/v1/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  const body = (await response.json().catch(() => ({}))) as Me & { message?: string };
  if (!response.ok) throw new Error(body.message ?? response.statusText);
  csrf = body.csrf;
  return body;
}

export const canAct = (me: Me): boolean => me.role === 'operator' || me.role === 'admin';

/** A POST or DELETE of the API; throws the API's message on an error status. */
export async function send(method: 'POST' | 'DELETE', path: string): Promise<unknown> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (csrf !== undefined) headers['X-CSRF-Token'] = csrf;
  const response = await fetch(path, { method, headers });
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok) throw new Error(body.message ?? response.statusText);
  return body;
}

/** A POST with a JSON body; throws the API's message on an error status. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/json' };
  if (csrf !== undefined) headers['X-CSRF-Token'] = csrf;
  const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const answer = (await response.json().catch(() => ({}))) as T & { message?: string };
  if (!response.ok) throw new Error(answer.message ?? response.statusText);
  return answer;
}

/** One event of an update's answer (docs/updates.md#the-answer). */
export interface UpdateEvent {
  readonly event: 'progress' | 'result' | 'error';
  readonly data: {
    readonly step?: string;
    readonly message?: string;
    readonly status?: number;
    readonly result?: 'plan' | 'current' | 'updated' | 'rolled-back' | 'failed';
    readonly reason?: string;
    readonly logs?: readonly string[];
    readonly from?: string | null;
    readonly to?: string | null;
    readonly id?: string;
    readonly settings?: readonly {
      setting: string;
      effect: 'kept' | 'changed' | 'dropped';
      from?: string;
      to?: string;
      why: string;
    }[];
    readonly gate?: { kind: string; timeoutMs?: number; settleMs?: number };
  };
}

/**
 * `POST …/update` as server-sent events (fetch, not EventSource: it is a POST with a body), each
 * event handed on as it comes; the last one (`result` or `error`) is returned.
 */
export async function runUpdate(
  path: string,
  body: { dryRun?: boolean; image?: string },
  onEvent: (e: UpdateEvent) => void,
): Promise<UpdateEvent> {
  const headers: Record<string, string> = { Accept: 'text/event-stream', 'Content-Type': 'application/json' };
  if (csrf !== undefined) headers['X-CSRF-Token'] = csrf;
  const response = await fetch(`${path}/update`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!response.ok || response.body === null) {
    const answer = (await response.json().catch(() => ({}))) as { message?: string };
    return {
      event: 'error',
      data: { status: response.status, message: answer.message ?? response.statusText },
    };
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let last: UpdateEvent = { event: 'error', data: { message: 'the answer ended early' } };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (event === undefined || data === undefined) continue;
      const parsed = { event, data: JSON.parse(data) } as UpdateEvent;
      if (parsed.event !== 'progress') last = parsed;
      onEvent(parsed);
    }
  }
  return last;
}
