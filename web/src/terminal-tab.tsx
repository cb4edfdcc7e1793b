import { useEffect, useRef, useState } from 'preact/hooks';
import type { TerminalRecord } from '../../src/monitor/terminal/terminal-record.js';
import { getJson, type Me } from './api.js';
import { when } from './format.js';
import type { OpenTerminal } from './terminal.js';

/** What the phone's key bar sends: the keys an on-screen keyboard lacks. */
const KEYS: readonly (readonly [label: string, name: string, send: string | 'ctrl'])[] = [
  ['Esc', 'Esc (Escape)', '\x1b'],
  ['Tab', 'Tab', '\t'],
  ['Ctrl', 'Ctrl (for the next key)', 'ctrl'],
  ['←', 'Left', '\x1b[D'],
  ['↑', 'Up', '\x1b[A'],
  ['↓', 'Down', '\x1b[B'],
  ['→', 'Right', '\x1b[C'],
  ['|', 'Pipe', '|'],
  ['~', 'Tilde', '~'],
  ['/', 'Slash', '/'],
];

type State =
  | { kind: 'closed' }
  | { kind: 'connecting' }
  | { kind: 'running'; cmd: string }
  | { kind: 'exited'; code: number }
  | { kind: 'failed'; message: string };

/**
 * The Terminal tab of a container (issue 24): opened on demand (xterm.js is loaded then, not with
 * the page), a shell through the monitor; the exit code shown and a reconnect button after it.
 */
export function TerminalTab({ path, me, running }: { path: string; me: Me; running: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const open = useRef<OpenTerminal | undefined>(undefined);
  const [state, setState] = useState<State>({ kind: 'closed' });
  const connect = async (): Promise<void> => {
    open.current?.close();
    setState({ kind: 'connecting' });
    const { openTerminal } = await import('./terminal.js');
    const el = box.current;
    if (el === null) return;
    el.replaceChildren();
    let ended = false;
    open.current = openTerminal(el, `${path}/exec`, me.csrf, {
      onReady: (cmd) => setState({ kind: 'running', cmd: cmd.join(' ') }),
      onExit: (code) => {
        ended = true;
        setState({ kind: 'exited', code });
      },
      onError: (message) => {
        ended = true;
        setState({ kind: 'failed', message });
      },
      onClosed: (reason) => {
        if (!ended) setState({ kind: 'failed', message: reason === '' ? 'the connection closed' : reason });
      },
    });
  };
  useEffect(() => () => open.current?.close(), []);
  return (
    <section aria-label="Terminal" class="terminal-tab">
      <h3>Terminal</h3>
      <p class="terminal-status" role="status">
        {state.kind === 'closed' ? (
          running ? (
            'A shell in the container, as you.'
          ) : (
            'The container is not running.'
          )
        ) : state.kind === 'connecting' ? (
          'connecting…'
        ) : state.kind === 'running' ? (
          <>
            running <code>{state.cmd}</code>
          </>
        ) : state.kind === 'exited' ? (
          <span data-exit-code={state.code}>exited with code {state.code}</span>
        ) : (
          <span class="error">{state.message}</span>
        )}
      </p>
      {state.kind === 'closed' || state.kind === 'exited' || state.kind === 'failed' ? (
        <button type="button" onClick={() => void connect()} disabled={!running}>
          {state.kind === 'closed' ? 'open a shell' : 'reconnect'}
        </button>
      ) : null}
      <div class="term" ref={box} />
      <div class="keybar" role="toolbar" aria-label="Keys">
        {KEYS.map(([label, name, key]) => (
          <button
            type="button"
            key={name}
            aria-label={name}
            onClick={() => (key === 'ctrl' ? open.current?.ctrlOnce() : open.current?.send(key))}
          >
            {label}
          </button>
        ))}
      </div>
    </section>
  );
}

/** Every terminal session, who opened it and how it ended; a recording replayed in place. */
export function TerminalsPage() {
  const [sessions, setSessions] = useState<TerminalRecord[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [playing, setPlaying] = useState<string | undefined>();
  const screen = useRef<HTMLDivElement>(null);
  useEffect(() => {
    getJson<TerminalRecord[]>('/api/v1/terminals').then(setSessions, (e: Error) => setError(e.message));
  }, []);
  useEffect(() => {
    const el = screen.current;
    if (playing === undefined || el === null) return;
    let stop: (() => void) | undefined;
    let cancelled = false;
    void (async () => {
      const [{ replay }, cast] = await Promise.all([
        import('./terminal.js'),
        fetch(`/api/v1/terminals/${playing}/cast`).then((r) =>
          r.ok ? r.text() : Promise.reject(new Error(r.statusText)),
        ),
      ]);
      if (cancelled) return;
      el.replaceChildren();
      stop = replay(el, cast);
    })().catch((e: Error) => setError(e.message));
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [playing]);
  if (error !== undefined) return <p class="error">{error}</p>;
  if (sessions === undefined) return <p>loading…</p>;
  return (
    <article>
      <h2>Terminal sessions</h2>
      {sessions.length === 0 ? <p class="muted">None yet.</p> : null}
      <ul class="alert-list">
        {sessions.map((s) => (
          <li key={s.id} data-session={s.id}>
            <strong>{s.by}</strong> in <strong>{s.containerName}</strong> ({s.engine}):{' '}
            <code>{s.cmd.join(' ')}</code>
            <span class="muted">
              {' '}
              · {when(s.startedAt)} from {s.from} ·{' '}
              {s.endedAt === null
                ? 'open'
                : `${s.exitCode === null ? s.endReason : `exit ${s.exitCode}`} · ${s.bytesIn} B in, ${s.bytesOut} B out`}
              {s.truncated ? ' · recording truncated' : ''}
            </span>
            {s.record === 'none' ? null : (
              <div class="alert-tools">
                <button type="button" onClick={() => setPlaying(s.id)}>
                  replay
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
      {playing === undefined ? null : <div class="term replay" ref={screen} />}
    </article>
  );
}
