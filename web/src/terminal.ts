/**
 * The terminal in the browser (issue 24): xterm.js on the monitor's exec WebSocket. Loaded only
 * when the Terminal tab opens (a chunk of its own: the overview stays small). Binary frames are
 * the terminal's bytes both ways; text frames are control messages (ready, exit, error, resize).
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';

export interface TerminalEvents {
  onReady(cmd: readonly string[]): void;
  onExit(code: number): void;
  onError(message: string): void;
  onClosed(reason: string): void;
}

export interface OpenTerminal {
  /** Sends keys as typed (the phone key bar). */
  send(text: string): void;
  /** Arms Ctrl for the next key typed (the key bar's Ctrl). */
  ctrlOnce(): void;
  close(): void;
}

const encoder = new TextEncoder();

/** Opens a terminal in `box` on `path` (…/containers/{engine}/{id}/exec); `csrf` for a signed-in browser. */
export function openTerminal(
  box: HTMLElement,
  path: string,
  csrf: string | undefined,
  events: TerminalEvents,
): OpenTerminal {
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    convertEol: false,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const query = new URLSearchParams({ cols: String(term.cols), rows: String(term.rows) });
  if (csrf !== undefined) query.set('csrf', csrf);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}${path}?${query}`);
  ws.binaryType = 'arraybuffer';
  let ctrl = false;
  const send = (text: string): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(text));
  };
  ws.onmessage = (e: MessageEvent<ArrayBuffer | string>) => {
    if (typeof e.data !== 'string') {
      term.write(new Uint8Array(e.data));
      return;
    }
    const message = JSON.parse(e.data) as { type: string; code?: number; message?: string; cmd?: string[] };
    if (message.type === 'ready') {
      events.onReady(message.cmd ?? []);
      term.focus();
    } else if (message.type === 'exit') events.onExit(message.code ?? 0);
    else if (message.type === 'error') events.onError(message.message ?? 'the terminal failed');
  };
  ws.onclose = (e) => events.onClosed(e.reason);
  term.onData((data) => {
    if (ctrl && data.length === 1) {
      ctrl = false;
      // Ctrl+letter is the letter's code with the upper bits cleared (Ctrl-C is 0x03).
      send(String.fromCharCode(data.toUpperCase().charCodeAt(0) & 0x1f));
      return;
    }
    send(data);
  });
  term.onBinary((data) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(data, (c) => c.charCodeAt(0)));
  });
  term.onResize(({ cols, rows }) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
  });
  // The box follows the window (and the phone's keyboard): fit, which resizes the exec.
  const observer = new ResizeObserver(() => fit.fit());
  observer.observe(box);
  return {
    send,
    ctrlOnce: () => {
      ctrl = true;
      term.focus();
    },
    close: () => {
      observer.disconnect();
      ws.close();
      term.dispose();
    },
  };
}

/** Plays an asciicast v2 recording into `box` (output and resizes, gaps over 2 s shortened). */
export function replay(box: HTMLElement, cast: string): () => void {
  const lines = cast.trim().split('\n');
  const header = JSON.parse(lines[0] ?? '{}') as { width?: number; height?: number };
  const term = new Terminal({ cols: header.width ?? 80, rows: header.height ?? 24, disableStdin: true });
  term.open(box);
  const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
  const timers: ReturnType<typeof setTimeout>[] = [];
  let at = 0;
  let previous = 0;
  for (const [time, kind, data] of events) {
    at += Math.min(2, Math.max(0, time - previous));
    previous = time;
    timers.push(
      setTimeout(() => {
        if (kind === 'o') term.write(data);
        else if (kind === 'r') {
          const [cols, rows] = data.split('x').map(Number);
          if (cols !== undefined && rows !== undefined) term.resize(cols, rows);
        } else if (kind === 'm') term.write(`\r\n[${data}]\r\n`);
      }, at * 1000),
    );
  }
  return () => {
    for (const timer of timers) clearTimeout(timer);
    term.dispose();
  };
}
