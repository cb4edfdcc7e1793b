import nodemailer from 'nodemailer';
import { DockgateError } from '../../errors.js';
import type { AlertKind } from '../alerts/alert-rules.js';
import type { Alert } from '../alerts/alert-store.js';
import { maskPassword } from '../config/mask-url.js';
import { detailLines, messageText } from './alert-text.js';
import { AlertmanagerNotifier, type AlertmanagerOptions } from './alertmanager-notifier.js';
import { type Answer, post } from './http-post.js';
import type { GroupRoute } from './notify-groups.js';

export type { Answer } from './http-post.js';

export { detailLines, messageText };

export type NotifyEvent = 'firing' | 'resolved';

/** Where notifications go: a URL's scheme picks the service (docs/alerts.md). */
export interface Notifier {
  /** The URL with credentials and paths' secrets masked, for the log and the deliveries. */
  readonly name: string;
  /** Kinds routed here; empty: every kind. */
  readonly kinds: ReadonlySet<AlertKind>;
  /**
   * One attempt; throws when the receiver refused (status ≥ 300) or could not be reached. `key`:
   * the transition's dedupKey (outbox.ts), in the payload where the service has room for it.
   */
  send(event: NotifyEvent, alert: Alert, signal: AbortSignal, key?: string): Promise<Answer>;
  /** How its messages are grouped; none: each alert alone (alertmanager+, which groups by itself). */
  readonly grouping?: GroupRoute | undefined;
  /** Incidents open when the monitor started (a receiver that expects re-sends gets them). */
  resume?(alerts: readonly Alert[]): void;
  stop?(): void;
}

/** `${VAR}` in a notifier URL: secrets come from the environment, not the config file. */
export function expandSecrets(url: string, env: NodeJS.ProcessEnv = process.env): string {
  return url.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const value = env[name];
    if (value === undefined) throw new DockgateError('DG_CONFIG_INVALID', `notify: \${${name}} is not set`);
    return value;
  });
}

/** A URL with its password and (for webhook services) its secret path masked. */
export function maskUrl(url: string): string {
  return maskPassword(url).replace(
    /(hooks\.slack\.com\/services\/|discord(?:app)?\.com\/api\/webhooks\/)[^?\s]+/,
    '$1***',
  );
}

/**
 * A notifier from its URL:
 * - `http(s)://…`: a generic JSON webhook, `POST {"status": "firing"|"resolved", "alert": …}`;
 * - `slack+https://…`: a Slack incoming webhook (`{ text, blocks }`);
 * - `discord+https://…`: a Discord webhook (`{ content, embeds }`);
 * - `ntfy+https://host/topic` (and `ntfy+http`): ntfy's publish API (title, priority, tags headers);
 * - `smtp://user:pass@host:port/?from=…&to=…`: an email through nodemailer (STARTTLS when offered);
 * - `alertmanager+http(s)://host:9093[,host2:9093…]`: every Alertmanager listed, `POST /api/v2/alerts`,
 *   re-sent as Prometheus does (alertmanager-notifier.ts).
 */
export function notifierFor(
  raw: string,
  kinds: readonly AlertKind[] = [],
  env: NodeJS.ProcessEnv = process.env,
  alertmanager: AlertmanagerOptions = { baseUrl: () => undefined },
  group?: GroupRoute,
): Notifier {
  const notifier = buildNotifier(raw, kinds, env, alertmanager);
  return notifier instanceof AlertmanagerNotifier || group === undefined
    ? notifier
    : Object.assign(notifier, { grouping: group });
}

function buildNotifier(
  raw: string,
  kinds: readonly AlertKind[],
  env: NodeJS.ProcessEnv,
  alertmanager: AlertmanagerOptions,
): Notifier {
  const url = expandSecrets(raw, env);
  const name = maskUrl(raw);
  const routed = new Set(kinds);
  const scheme = /^([a-z0-9+]+):/i.exec(url)?.[1]?.toLowerCase();
  const target = (prefix: string): string => {
    const rest = url.slice(prefix.length + 1);
    try {
      return new URL(rest).toString();
    } catch {
      throw new DockgateError('DG_CONFIG_INVALID', `notify ${name}: not a URL after ${prefix}+`);
    }
  };
  switch (scheme) {
    case 'http':
    case 'https': {
      const to = new URL(url).toString();
      return {
        name,
        kinds: routed,
        send: (event, alert, signal, key) =>
          post(
            to,
            JSON.stringify({ status: event, alert, dedupKey: key ?? `${alert.id}:${event}` }),
            { 'content-type': 'application/json' },
            signal,
          ),
      };
    }
    case 'slack+https':
    case 'slack+http': {
      const to = target('slack');
      return {
        name,
        kinds: routed,
        send: (event, alert, signal, key) =>
          post(
            to,
            JSON.stringify({
              text: messageText(event, alert),
              blocks: [
                { type: 'section', text: { type: 'mrkdwn', text: `*${messageText(event, alert)}*` } },
                ...detailLines(alert).map((line) => ({
                  type: 'context',
                  elements: [{ type: 'mrkdwn', text: line }],
                })),
                // The outbox's key (docs/alerts.md#outbox): a bot relaying these can drop a repeat.
                {
                  type: 'context',
                  elements: [{ type: 'mrkdwn', text: `dedupKey ${key ?? `${alert.id}:${event}`}` }],
                },
              ],
            }),
            { 'content-type': 'application/json' },
            signal,
          ),
      };
    }
    case 'discord+https':
    case 'discord+http': {
      const to = target('discord');
      return {
        name,
        kinds: routed,
        send: (event, alert, signal, key) =>
          post(
            to,
            JSON.stringify({
              content: messageText(event, alert).slice(0, 2000),
              embeds: [
                {
                  title: `${alert.kind}: ${alert.container?.name ?? alert.engine}`.slice(0, 256),
                  description: detailLines(alert).join('\n').slice(0, 4096),
                  color: event === 'firing' ? 0xd32f2f : 0x388e3c,
                  timestamp: event === 'firing' ? alert.openedAt : (alert.resolvedAt ?? alert.openedAt),
                  footer: { text: `dedupKey ${key ?? `${alert.id}:${event}`}` },
                },
              ],
            }),
            { 'content-type': 'application/json' },
            signal,
          ),
      };
    }
    case 'ntfy+https':
    case 'ntfy+http': {
      const to = target('ntfy');
      return {
        name,
        kinds: routed,
        send: (event, alert, signal, key) =>
          post(
            to,
            [alert.summary, ...detailLines(alert)].join('\n'),
            {
              'content-type': 'text/plain; charset=utf-8',
              'x-dockgate-dedup-key': key ?? `${alert.id}:${event}`,
              title: encodeHeader(
                `${event === 'firing' ? 'Alert' : 'Resolved'}: ${alert.kind} ${alert.container?.name ?? alert.engine}`,
              ),
              priority: event === 'firing' ? 'high' : 'default',
              tags: event === 'firing' ? 'rotating_light' : 'white_check_mark',
            },
            signal,
          ),
      };
    }
    case 'smtp':
    case 'smtps':
      return smtpNotifier(url, name, routed);
    case 'alertmanager+http':
    case 'alertmanager+https':
      return new AlertmanagerNotifier(url.slice('alertmanager+'.length), name, routed, alertmanager);
    default:
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `notify ${name}: unknown scheme; use http(s)://, slack+https://, discord+https://, ntfy+https://, smtp://, alertmanager+http://`,
      );
  }
}

function smtpNotifier(url: string, name: string, kinds: ReadonlySet<AlertKind>): Notifier {
  const u = new URL(url);
  const from = u.searchParams.get('from');
  const to = u.searchParams.getAll('to').flatMap((t) => t.split(','));
  if (from === null || to.length === 0)
    throw new DockgateError('DG_CONFIG_INVALID', `notify ${name}: smtp needs ?from=…&to=…`);
  const secure = u.protocol === 'smtps:';
  const transport = nodemailer.createTransport({
    host: u.hostname,
    port: u.port === '' ? (secure ? 465 : 587) : Number(u.port),
    secure,
    // STARTTLS is used when the server offers it (nodemailer's default), never required here.
    ...(u.username === ''
      ? {}
      : { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } }),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 10_000,
  });
  return {
    name,
    kinds,
    async send(event, alert, _signal, key) {
      const info = await transport.sendMail({
        from,
        to,
        headers: { 'X-Dockgate-Dedup-Key': key ?? `${alert.id}:${event}` },
        subject: messageText(event, alert),
        text: [
          alert.summary,
          '',
          ...detailLines(alert),
          '',
          `alert ${alert.id}, opened ${alert.openedAt}`,
        ].join('\n'),
      });
      return { status: 250, body: String(info.response ?? '') };
    },
  };
}

/** ntfy reads headers as Latin-1; RFC 2047 keeps other characters. */
function encodeHeader(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;
}
