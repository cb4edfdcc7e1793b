import type { Alert } from '../alerts/alert-store.js';
import type { Notifier, NotifyEvent } from './notifiers.js';

/** What alerts are grouped by (besides their rule): docs/alerts.md#grouping. */
export const GROUP_LABELS = ['engine', 'project', 'image', 'container'] as const;
export type GroupLabel = (typeof GROUP_LABELS)[number];

/** A notifier's grouping, as Alertmanager's route has it. */
export interface GroupRoute {
  readonly by: readonly GroupLabel[];
  readonly waitMs: number;
  readonly intervalMs: number;
}

export const GROUP_DEFAULTS = { by: ['engine', 'project'] as GroupLabel[], wait: '10s', interval: '1m' };

/** What the grouping reads of an alert's container (the live state, or the history). */
export interface AlertFacts {
  readonly project: string | null;
  readonly image: string | null;
}

/** One message to send: a single alert, or a group of them. */
export interface Outgoing {
  readonly notifier: Notifier;
  readonly event: NotifyEvent;
  /** The alert to send: a member itself, or the group's summary. */
  readonly alert: Alert;
  /** The incidents it speaks for (their deliveries are recorded under each). */
  readonly members: readonly string[];
}

interface Group {
  readonly notifier: Notifier;
  readonly event: NotifyEvent;
  /** The project or image the group is of, as people read it. */
  readonly name: string;
  pending: Alert[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * Grouping for the built-in notifiers, as Alertmanager groups (docs/alerts.md#grouping):
 * incidents of one rule with the same `group_by` values that open within `group_wait` leave as
 * one message ("12 containers of worker:1.4 died on prod: exit codes 3 ×11, 137 ×1"); later ones
 * of the group at most every `group_interval`; resolutions likewise. A group of one is sent as the
 * alert itself, and an incident that went alone has its resolution sent at once. Each incident
 * stays its own everywhere else (API, dashboard, Alertmanager, which groups by itself).
 */
export class NotifyGroups {
  readonly #send: (out: Outgoing) => void;
  readonly #facts: (alert: Alert) => AlertFacts;
  readonly #groups = new Map<string, Group>();
  /** `notifier|alert id` of incidents whose firing went in a group message. */
  readonly #grouped = new Set<string>();

  constructor(send: (out: Outgoing) => void, facts: (alert: Alert) => AlertFacts) {
    this.#send = send;
    this.#facts = facts;
  }

  add(notifier: Notifier, route: GroupRoute, event: NotifyEvent, alert: Alert): void {
    const member = `${notifier.name}|${alert.id}`;
    if (event === 'resolved' && !this.#grouped.has(member)) {
      this.#send({ notifier, event, alert, members: [alert.id] });
      return;
    }
    this.#grouped.delete(member);
    const { key: values, name } = this.#label(route, alert);
    const key = `${notifier.name}|${event}|${alert.rule}|${values}`;
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = { notifier, event, name, pending: [], timer: undefined };
      this.#groups.set(key, group);
    }
    group.pending.push(alert);
    // A group under way flushes at its next interval (its timer runs); a new one after group_wait.
    if (group.timer !== undefined) return;
    const g = group;
    g.timer = setTimeout(() => this.#flush(key, g, route), route.waitMs);
    g.timer.unref();
  }

  /** Sends what a group holds now (a stopping monitor flushes every group). */
  flushAll(): void {
    for (const [key, group] of this.#groups) {
      if (group.timer !== undefined) clearTimeout(group.timer);
      if (group.pending.length > 0) this.#emit(group);
      this.#groups.delete(key);
    }
  }

  #flush(key: string, group: Group, route: GroupRoute): void {
    group.timer = undefined;
    if (group.pending.length === 0) {
      // A whole interval without news: the group is over.
      this.#groups.delete(key);
      return;
    }
    this.#emit(group);
    group.timer = setTimeout(() => this.#flush(key, group, route), route.intervalMs);
    group.timer.unref();
  }

  #emit(group: Group): void {
    const members = group.pending.splice(0);
    const [first] = members;
    if (first === undefined) return;
    if (members.length === 1) {
      this.#send({ notifier: group.notifier, event: group.event, alert: first, members: [first.id] });
      return;
    }
    if (group.event === 'firing')
      for (const m of members) this.#grouped.add(`${group.notifier.name}|${m.id}`);
    this.#send({
      notifier: group.notifier,
      event: group.event,
      alert: groupAlert(group.event, group.name, members),
      members: members.map((m) => m.id),
    });
  }

  /** The group's key values, and the name people read (the project or image). */
  #label(route: GroupRoute, alert: Alert): { key: string; name: string } {
    const facts = this.#facts(alert);
    // A container outside compose is grouped by its image instead of a project.
    const project = facts.project ?? facts.image ?? alert.container?.name ?? '';
    const value = (by: GroupLabel): string =>
      by === 'engine'
        ? alert.engine
        : by === 'project'
          ? project
          : by === 'image'
            ? (facts.image ?? '')
            : (alert.container?.name ?? '');
    return {
      key: route.by.map(value).join('\u0000'),
      name: route.by.includes('project') ? project : route.by.includes('image') ? (facts.image ?? '') : '',
    };
  }
}

/** The message of a group: how many, of what, where, and for crashes the exit codes counted. */
export function groupAlert(event: NotifyEvent, name: string, members: readonly Alert[]): Alert {
  const first = members[0] as Alert;
  const n = members.length;
  const engines = [...new Set(members.map((m) => m.engine))];
  const where = engines.length === 1 ? engines[0] : `${engines.length} engines`;
  const of = name === '' ? '' : ` of ${name}`;
  const codes = new Map<number, number>();
  for (const m of members) {
    const code = (m.details as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number') codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  const codeText = [...codes.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code} ×${count}`)
    .join(', ');
  const summary =
    event === 'resolved'
      ? `${n} containers${of} on ${where}: ${first.kind} resolved`
      : first.kind === 'died'
        ? `${n} containers${of} died on ${where}${codeText === '' ? '' : `: exit codes ${codeText}`}`
        : first.kind === 'oom'
          ? `${n} containers${of} were killed on ${where}: out of memory`
          : `${n} containers${of} on ${where}: ${first.kind}`;
  return {
    ...first,
    id: `group-${first.id}`,
    container: null,
    count: n,
    state: event === 'resolved' ? 'resolved' : 'open',
    summary,
    details: {
      alerts: members.map((m) => m.id),
      containers: members.map((m) => m.container?.name ?? m.engine),
      ...(codes.size === 0 ? {} : { exitCodes: Object.fromEntries(codes) }),
    },
  };
}
