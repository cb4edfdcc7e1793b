import type { ContainerItem } from './api.js';

/** 1536 → "1.5 KiB". */
export function bytes(n: number | null): string {
  if (n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function uptime(c: ContainerItem, now: number): string {
  if (c.state !== 'running' || c.startedAt === null) return '—';
  const s = Math.max(0, Math.floor((now - Date.parse(c.startedAt)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d`;
}

/** An ISO time as people read it, in their time zone. */
export function when(iso: string | null): string {
  return iso === null ? '—' : new Date(iso).toLocaleString();
}

/**
 * A name that may wrap only after `-`, `_` or `.` (never inside a word, issue 23): a zero-width
 * break opportunity after each of them; with `overflow-wrap: normal` nothing else breaks.
 */
export function breakable(name: string): (string | { wbr: true })[] {
  const out: (string | { wbr: true })[] = [];
  for (const part of name.split(/(?<=[-_.])/)) {
    if (out.length > 0) out.push({ wbr: true });
    out.push(part);
  }
  return out;
}

/** Where a long name is cut for an ellipsis in the middle: its head and the tail kept whole. */
export function middleSplit(name: string): { head: string; tail: string } {
  const keep = Math.min(10, Math.floor(name.length / 2));
  return { head: name.slice(0, name.length - keep), tail: name.slice(name.length - keep) };
}
