import { type Clock, systemClock } from '../../clock.js';
import { DockgateError } from '../../errors.js';
import type { AlertKind } from '../alerts/alert-rules.js';
import type { Alert } from '../alerts/alert-store.js';
import { detailLines } from './alert-text.js';
import { type Answer, post } from './http-post.js';
import type { Notifier, NotifyEvent } from './notifiers.js';

/** Firing alerts are sent again this often (Prometheus' resend delay). */
export const RESEND_MS = 60_000;
/** A resolved alert is sent again for this long (Prometheus' resolvedRetention). */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

/** What the notifier needs besides its URL. */
export interface AlertmanagerOptions {
  /** The monitor's URL, for each alert's generatorURL (undefined until it listens). */
  readonly baseUrl: () => string | undefined;
  readonly now?: Clock;
}

/**
 * `alertmanager+http(s)://host:9093[,host2:9093…][/prefix]`: Alertmanager's client contract, as
 * Prometheus keeps it (docs/prometheus.md#alertmanager): every alert goes to **every**
 * Alertmanager listed (never load-balanced: a cluster deduplicates by itself); a firing alert is
 * sent again every minute with `endsAt` = now + 4 minutes, so an Alertmanager that missed two
 * re-sends resolves it by itself rather than forever; a resolved alert is sent with `endsAt` = its
 * resolution time and again every minute for 15 minutes. Labels are the same whichever monitor
 * sends (no instance label, no incident id), so monitors sharing engines deduplicate there.
 */
export class AlertmanagerNotifier implements Notifier {
  readonly name: string;
  readonly kinds: ReadonlySet<AlertKind>;
  readonly #targets: readonly string[];
  readonly #options: AlertmanagerOptions;
  readonly #now: Clock;
  /** Alerts to send again: firing ones, and resolved ones until their retention ends. */
  readonly #kept = new Map<string, { alert: Alert; resolvedAt: number | undefined }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(url: string, name: string, kinds: ReadonlySet<AlertKind>, options: AlertmanagerOptions) {
    this.name = name;
    this.kinds = kinds;
    this.#targets = alertmanagerTargets(url, name);
    this.#options = options;
    this.#now = options.now ?? systemClock;
  }

  async send(event: NotifyEvent, alert: Alert, signal: AbortSignal, _key?: string): Promise<Answer> {
    this.#keep(event, alert);
    return this.#post([this.payload(event, alert)], signal);
  }

  /** Open incidents from before a restart: sent again from now on, or Alertmanager would end them. */
  resume(alerts: readonly Alert[]): void {
    for (const alert of alerts) this.#keep('firing', alert);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Alertmanager's v2 alert. */
  payload(event: NotifyEvent, alert: Alert): Record<string, unknown> {
    const now = this.#now();
    const base = this.#options.baseUrl();
    const page =
      alert.container === null
        ? '/alerts'
        : `/containers/${encodeURIComponent(alert.engine)}/${encodeURIComponent(alert.container.id)}`;
    return {
      labels: alertmanagerLabels(alert),
      // Alertmanager deduplicates by labels itself; the key names the incident and transition.
      annotations: {
        summary: alert.summary,
        description: detailLines(alert).join('\n'),
        dedup_key: `${alert.id}:${event}`,
      },
      startsAt: alert.openedAt,
      endsAt:
        event === 'resolved'
          ? (alert.resolvedAt ?? new Date(now).toISOString())
          : new Date(now + 4 * RESEND_MS).toISOString(),
      ...(base === undefined ? {} : { generatorURL: `${base}${page}` }),
    };
  }

  #keep(event: NotifyEvent, alert: Alert): void {
    this.#kept.set(alert.id, {
      alert,
      resolvedAt: event === 'resolved' ? this.#now() : undefined,
    });
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#resend(), RESEND_MS);
      this.#timer.unref();
    }
  }

  /** Every minute: firing alerts with a new endsAt, resolved ones within their retention. */
  async #resend(): Promise<void> {
    const now = this.#now();
    const batch: Record<string, unknown>[] = [];
    for (const [id, { alert, resolvedAt }] of this.#kept) {
      if (resolvedAt !== undefined && now - resolvedAt > RESOLVED_RETENTION_MS) {
        this.#kept.delete(id);
        continue;
      }
      batch.push(this.payload(resolvedAt === undefined ? 'firing' : 'resolved', alert));
    }
    if (batch.length === 0) {
      this.stop();
      return;
    }
    // Best effort: a missed re-send is made up by the next one (endsAt leaves room for two).
    await this.#post(batch, AbortSignal.timeout(10_000)).catch(() => {});
  }

  /** POSTs to every Alertmanager; fails (for a retry) if any refused or was unreachable. */
  async #post(alerts: Record<string, unknown>[], signal: AbortSignal): Promise<Answer> {
    const body = JSON.stringify(alerts);
    const results = await Promise.allSettled(
      this.#targets.map((target) =>
        post(`${target}/api/v2/alerts`, body, { 'content-type': 'application/json' }, signal),
      ),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [[this.#targets[i], r.reason]] : []));
    if (failed.length > 0) {
      const [first] = failed;
      const reason = first?.[1] as Error & { status?: number; body?: string };
      throw Object.assign(
        new Error(
          `${failed.length} of ${this.#targets.length} Alertmanagers did not take it: ${failed
            .map(([t, e]) => `${t}: ${(e as Error).message}`)
            .join('; ')}`,
        ),
        { status: reason.status, body: reason.body },
      );
    }
    const ok = results[0] as PromiseFulfilledResult<Answer>;
    return { status: ok.value.status, body: `${this.#targets.length} Alertmanager(s): ${ok.value.body}` };
  }
}

/** `http://a:9093,b:9093/prefix` → `http://a:9093/prefix`, `http://b:9093/prefix`. */
export function alertmanagerTargets(url: string, name: string): string[] {
  const m = /^(https?):\/\/([^/?#]+)([^?#]*)$/.exec(url);
  if (m === null)
    throw new DockgateError('DG_CONFIG_INVALID', `notify ${name}: not a URL after alertmanager+`);
  const [, scheme, hosts = '', path = ''] = m;
  return hosts.split(',').map((host) => {
    if (host === '')
      throw new DockgateError('DG_CONFIG_INVALID', `notify ${name}: an empty host in the list`);
    try {
      return new URL(`${scheme}://${host}${path}`).toString().replace(/\/+$/, '');
    } catch {
      throw new DockgateError('DG_CONFIG_INVALID', `notify ${name}: "${host}" is not a host`);
    }
  });
}

/**
 * Labels identify an alert to Alertmanager (it deduplicates on them): the same whichever monitor
 * sends it — the rule, the engine, the container (name and id), and what the rule watches (a log
 * rule's name, a missing selector, an image digest) — never an instance or an incident id.
 */
export function alertmanagerLabels(alert: Alert): Record<string, string> {
  const d = alert.details as { selector?: unknown; available?: unknown };
  return {
    alertname: `dockgate_${alert.kind.replace(/-/g, '_')}`,
    severity: WARNING.has(alert.kind) ? 'warning' : 'critical',
    engine: alert.engine,
    ...(alert.container === null
      ? {}
      : { container: alert.container.name, container_id: alert.container.id }),
    ...(alert.rule !== alert.kind ? { rule: alert.rule } : {}),
    ...(typeof d.selector === 'string' ? { selector: d.selector } : {}),
    ...(alert.kind === 'update-available' && typeof d.available === 'string' ? { digest: d.available } : {}),
  };
}

const WARNING = new Set<AlertKind>([
  'cpu',
  'memory',
  'update-available',
  'disk-fill',
  'host-cpu',
  'host-network',
]);
