import type { Alert } from '../alerts/alert-store.js';
import type { NotifyEvent } from './notifiers.js';

/** The text people read: one line, the summary, and where to look. */
export function messageText(event: NotifyEvent, alert: Alert): string {
  const mark = event === 'firing' ? '🔴' : '✅';
  const container = alert.container === null ? '' : ` · ${alert.container.name}`;
  return `${mark} [${alert.kind}] ${alert.summary} (${alert.engine}${container})`;
}

/** Details as short lines: exit codes, restarts, the last log lines. */
export function detailLines(alert: Alert): string[] {
  const d = alert.details as {
    exitCode?: number;
    exitCodes?: number[];
    restarts?: number;
    logs?: string[];
    error?: string;
    duration?: string;
  };
  const lines: string[] = [];
  if (d.exitCode !== undefined) lines.push(`exit code ${d.exitCode}`);
  if (d.exitCodes !== undefined && d.exitCodes.length > 0) lines.push(`exit codes ${d.exitCodes.join(', ')}`);
  if (d.restarts !== undefined) lines.push(`${d.restarts} restarts`);
  if (d.error !== undefined) lines.push(d.error);
  if (d.duration !== undefined) lines.push(`lasted ${d.duration}`);
  if (d.logs !== undefined && d.logs.length > 0)
    lines.push('last log lines:', ...d.logs.map((l) => `  ${l}`));
  return lines;
}
