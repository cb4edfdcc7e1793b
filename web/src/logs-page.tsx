import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';

/** One kept line, as `GET /api/v1/logs` returns it (docs/logs.md). */
export interface KeptLine {
  readonly engine: string;
  readonly id: string;
  readonly name: string;
  readonly project: string | null;
  readonly service: string | null;
  readonly stream: 'stdout' | 'stderr' | 'dockgate';
  readonly time: string;
  readonly text: string;
  readonly cursor: string;
}

interface Page {
  readonly lines: KeptLine[];
  readonly next: string | null;
  readonly took_ms: number;
}

/** The filters shown as chips; they are the API's own query parameters, kept in the page's URL. */
const FILTERS = ['engine', 'container', 'project', 'service', 'stream', 'since', 'until'] as const;
const RANGES = ['15m', '1h', '24h', '7d'] as const;

function fromUrl(): Record<string, string> {
  const params = new URLSearchParams(location.search);
  const out: Record<string, string> = {};
  for (const key of ['q', ...FILTERS]) {
    const value = params.get(key);
    if (value !== null && value !== '') out[key] = value;
  }
  return out;
}

/**
 * The Logs page: one search over every container of every engine (the kept logs), filters as
 * chips, newest first with "older" paging, live results (follow), and each hit's context.
 */
export function LogsPage() {
  const [asked, setAsked] = useState<Record<string, string>>(fromUrl);
  const [text, setText] = useState(asked.q ?? '');
  const [lines, setLines] = useState<KeptLine[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [took, setTook] = useState<number | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [live, setLive] = useState(false);
  const [context, setContext] = useState<{ cursor: string; lines: KeptLine[] } | undefined>(undefined);
  const query = new URLSearchParams(asked).toString();

  useEffect(() => {
    history.replaceState(null, '', `/logs${query === '' ? '' : `?${query}`}`);
    setError(undefined);
    // An answer to a search typed over is dropped: it must not replace the newer one's lines.
    let current = true;
    getJson<Page>(`/api/v1/logs?${query}`).then(
      (page) => {
        if (!current) return;
        setLines(page.lines);
        setNext(page.next);
        setTook(page.took_ms);
      },
      (e: Error) => {
        if (current) setError(e.message);
      },
    );
    return () => {
      current = false;
    };
  }, [query]);

  useEffect(() => {
    if (!live) return;
    const source = new EventSource(`/api/v1/logs?follow=1${query === '' ? '' : `&${query}`}`);
    source.addEventListener('line', (e) => {
      const line = JSON.parse((e as MessageEvent<string>).data) as KeptLine;
      setLines((prev) =>
        prev.some((l) => l.cursor === line.cursor) ? prev : [line, ...prev].slice(0, 2000),
      );
    });
    return () => source.close();
  }, [live, query]);

  const older = (): void => {
    if (next === null) return;
    getJson<Page>(`/api/v1/logs?${query}${query === '' ? '' : '&'}before=${next}`).then(
      (page) => {
        setLines((prev) => [...prev, ...page.lines]);
        setNext(page.next);
      },
      (e: Error) => setError(e.message),
    );
  };
  const set = (key: string, value: string | undefined): void => {
    const copy = { ...asked };
    if (value === undefined || value === '') delete copy[key];
    else copy[key] = value;
    setAsked(copy);
  };
  const showContext = (cursor: string): void => {
    if (context?.cursor === cursor) {
      setContext(undefined);
      return;
    }
    getJson<{ before: KeptLine[]; line: KeptLine; after: KeptLine[] }>(
      `/api/v1/logs/context?cursor=${cursor}&lines=10`,
    ).then(
      (c) => setContext({ cursor, lines: [...c.before, c.line, ...c.after] }),
      (e: Error) => setError(e.message),
    );
  };

  return (
    <section aria-label="Logs" class="logs-page">
      <h2>Logs</h2>
      <form
        class="log-search"
        onSubmit={(e) => {
          e.preventDefault();
          set('q', text.trim());
        }}
      >
        <input
          type="search"
          aria-label="Search every container's logs"
          placeholder='error timeout · "a phrase" · -exclude · /regex/'
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Search</button>
        <label>
          <input type="checkbox" checked={live} onChange={() => setLive(!live)} /> live
        </label>
        <a href={`/api/v1/logs?${query}${query === '' ? '' : '&'}format=ndjson`} download>
          export
        </a>
      </form>
      <fieldset class="chips">
        <legend class="muted">Filters</legend>
        {FILTERS.filter((k) => asked[k] !== undefined).map((k) => (
          <button
            key={k}
            type="button"
            class="chip"
            onClick={() => set(k, undefined)}
            title="remove this filter"
          >
            {k}: {asked[k]} ×
          </button>
        ))}
        <select
          aria-label="Range"
          value={asked.since ?? ''}
          onChange={(e) => set('since', (e.target as HTMLSelectElement).value)}
        >
          <option value="">all kept</option>
          {RANGES.map((r) => (
            <option key={r} value={r}>
              last {r}
            </option>
          ))}
        </select>
        <select
          aria-label="Stream"
          value={asked.stream ?? ''}
          onChange={(e) => set('stream', (e.target as HTMLSelectElement).value)}
        >
          <option value="">stdout and stderr</option>
          <option value="stdout">stdout</option>
          <option value="stderr">stderr</option>
          <option value="dockgate">dockgate's notes (gaps, drops)</option>
        </select>
      </fieldset>
      {error === undefined ? null : (
        <p class="bad" role="alert">
          {error}
        </p>
      )}
      <p class="muted" role="status">
        {lines.length} lines{took === undefined ? '' : ` · ${took} ms`}
      </p>
      <ol class="hits">
        {lines.map((l) => (
          <li key={l.cursor} class={l.stream} data-cursor={l.cursor}>
            <span class="muted">
              <time dateTime={l.time}>{l.time.replace('T', ' ').slice(0, 23)}</time>{' '}
              <button
                type="button"
                class="linkish"
                onClick={() => set('container', l.name)}
                title="only this container"
              >
                {l.name}
              </button>{' '}
              <a href={`/containers/${l.engine}/${l.id}`} class="muted">
                {l.engine}
              </a>
            </span>
            <pre>{l.text}</pre>
            <button type="button" class="linkish" onClick={() => showContext(l.cursor)}>
              {context?.cursor === l.cursor ? 'hide context' : 'context'}
            </button>
            {context?.cursor === l.cursor ? (
              <pre class="logs context">
                {context.lines.map((c) => (
                  <span key={c.cursor} class={c.cursor === l.cursor ? 'hit' : c.stream}>
                    {c.time.slice(11, 23)} {c.text}
                    {'\n'}
                  </span>
                ))}
              </pre>
            ) : null}
          </li>
        ))}
      </ol>
      {next === null ? null : (
        <button type="button" onClick={older}>
          older
        </button>
      )}
    </section>
  );
}
