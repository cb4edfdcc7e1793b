/** The dashboard's view of the monitor: the same API and stream any client uses (docs/monitor.md). */
// The container and engine items are the server's own types (type-only: nothing of the server
// reaches the bundle); the alert object is repeated below (its module needs Node).
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
