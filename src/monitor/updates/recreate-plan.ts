import { isDeepStrictEqual } from 'node:util';

/** A container's inspect answer, as far as a recreate reads it (every other field is copied as is). */
export interface OldContainer {
  readonly Id: string;
  readonly Name: string;
  readonly Config: Readonly<Record<string, unknown>>;
  readonly HostConfig: Readonly<Record<string, unknown>>;
  readonly NetworkSettings?: {
    readonly Networks?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  };
  readonly Mounts?: readonly Readonly<Record<string, unknown>>[];
  readonly State?: { readonly Running?: boolean };
}

/** An image's `Config` (its defaults): what `docker run` fills in when the user gave nothing. */
export type ImageDefaults = Readonly<Record<string, unknown>>;

/** One line of what an update does to a setting (shown before it is done). */
export interface SettingChange {
  /** `Env APP_VERSION`, `Cmd`, `Labels org.opencontainers.image.version`, `HostConfig.Binds`, `Network web`. */
  readonly setting: string;
  /** kept: the container keeps it; changed: the new image's default replaces the old one's;
   * dropped: the old image's default, which the new image no longer has. */
  readonly effect: 'kept' | 'changed' | 'dropped';
  readonly from?: string;
  readonly to?: string;
  readonly why: string;
}

/** How a new container proves it started (docs/updates.md#the-gate). */
export type GateSpec =
  | { readonly kind: 'health'; readonly timeoutMs: number }
  | { readonly kind: 'running'; readonly settleMs: number }
  /** The old container was not running: the new one is created, not started. */
  | { readonly kind: 'none' };

/** Everything a recreate sends, decided before the engine is asked anything. */
export interface RecreatePlan {
  readonly name: string;
  /** The reference the new container runs, as given (`repo:tag` stays `repo:tag`). */
  readonly image: string;
  /** `POST /containers/create`'s body: Config, HostConfig and the first network. */
  readonly body: Record<string, unknown>;
  /** Further networks, connected before the start (API 1.41 takes one at create). */
  readonly connect: readonly { readonly network: string; readonly endpoint: Record<string, unknown> }[];
  readonly settings: readonly SettingChange[];
  readonly gate: GateSpec;
}

/** Fields of `Config` that are the image's defaults unless the user set them. */
const IMAGE_SCALARS = ['Cmd', 'Entrypoint', 'WorkingDir', 'User', 'Healthcheck', 'StopSignal'] as const;
/** Network modes whose containers have no endpoint settings of their own to carry. */
const NO_ENDPOINTS = /^(none|host|container:.+)$/;
/** Docker's healthcheck defaults (daemon/health.go). */
const HEALTH_INTERVAL_MS = 30_000;
const HEALTH_START_MS = 0;
/** However the healthcheck is set, the gate waits at most this long. */
export const GATE_MAX_MS = 10 * 60_000;

/**
 * The create call that makes a container like `old` on a new image: every setting of `Config`,
 * `HostConfig` in full, every network attachment (aliases, static addresses, MAC), the name —
 * minus what came from the **old image's defaults** (Env entries, Cmd, Entrypoint, WorkingDir,
 * User, ExposedPorts, Volumes, Labels, Healthcheck, StopSignal), so the new image's defaults apply:
 * a copied `PATH` or `APP_VERSION` is the bug users report most about other tools' recreates
 * (../shared/notes/manage.md §C). Anonymous volumes are mounted into the new container by name
 * (their data stays with the service, as `docker compose up` does).
 */
export function planRecreate(
  old: OldContainer,
  oldImage: ImageDefaults,
  newImage: ImageDefaults,
  image: string,
  settleMs: number,
): RecreatePlan {
  const settings: SettingChange[] = [];
  const config: Record<string, unknown> = { ...old.Config, Image: image };
  delete config.ArgsEscaped;
  const name = old.Name.replace(/^\//, '');
  // A hostname equal to the old id's first 12 characters is Docker's default, not a setting.
  if (config.Hostname === old.Id.slice(0, 12)) {
    delete config.Hostname;
    settings.push({
      setting: 'Hostname',
      effect: 'changed',
      why: "Docker's default: the new container's id",
    });
  }
  config.Env = subtractEnv(
    asStrings(old.Config.Env),
    asStrings(oldImage.Env),
    asStrings(newImage.Env),
    settings,
  );
  config.Labels = subtractMap(
    'Labels',
    asRecord(old.Config.Labels),
    asRecord(oldImage.Labels),
    asRecord(newImage.Labels),
    settings,
  );
  for (const key of ['ExposedPorts', 'Volumes'] as const) {
    config[key] = subtractMap(
      key,
      asRecord(old.Config[key]),
      asRecord(oldImage[key]),
      asRecord(newImage[key]),
      settings,
    );
  }
  for (const key of IMAGE_SCALARS) {
    const mine = old.Config[key];
    const before = oldImage[key];
    const after = newImage[key];
    if (isEmpty(mine)) continue;
    if (!isEmpty(before) && isDeepStrictEqual(mine, before)) {
      delete config[key];
      if (isEmpty(after))
        settings.push({ setting: key, effect: 'dropped', from: show(before), why: 'the old image default' });
      else if (!isDeepStrictEqual(before, after))
        settings.push({
          setting: key,
          effect: 'changed',
          from: show(before),
          to: show(after),
          why: "the new image's default",
        });
      else settings.push({ setting: key, effect: 'kept', from: show(after), why: 'the image default' });
    } else settings.push({ setting: key, effect: 'kept', from: show(mine), why: 'set for this container' });
  }

  const host: Record<string, unknown> = { ...old.HostConfig };
  // Inspect shows links as `/db:/web/db`; create takes `db:db`.
  if (Array.isArray(host.Links))
    host.Links = (host.Links as string[]).map((link) => {
      const [source = '', target = ''] = link.split(':');
      return `${source.replace(/^\//, '')}:${target.slice(target.lastIndexOf('/') + 1)}`;
    });
  const anonymous = anonymousVolumes(old);
  if (anonymous.length > 0) {
    host.Mounts = [
      ...(Array.isArray(host.Mounts) ? (host.Mounts as unknown[]) : []),
      ...anonymous.map((v) => ({ Type: 'volume', Source: v.name, Target: v.target })),
    ];
    for (const v of anonymous)
      settings.push({
        setting: `Volume ${v.target}`,
        effect: 'kept',
        from: v.name.slice(0, 12),
        why: 'the anonymous volume, mounted into the new container by name',
      });
  }
  for (const [key, value] of Object.entries(old.HostConfig))
    if (!isEmpty(value) && value !== false && value !== 0)
      settings.push({
        setting: `HostConfig.${key}`,
        effect: 'kept',
        from: show(value),
        why: 'set for this container',
      });

  const mode = typeof host.NetworkMode === 'string' ? host.NetworkMode : 'default';
  const networks = Object.entries(old.NetworkSettings?.Networks ?? {});
  const endpoints = NO_ENDPOINTS.test(mode)
    ? []
    : networks.map(([network, settings]) => ({ network, endpoint: endpointOf(settings, old.Id) }));
  const primary =
    endpoints.find((e) => e.network === mode) ??
    (mode === 'default' ? endpoints.find((e) => e.network === 'bridge') : undefined);
  for (const { network, endpoint } of endpoints)
    settings.push({
      setting: `Network ${network}`,
      effect: 'kept',
      from: show(endpoint),
      why: 'attached with its aliases and addresses',
    });

  const body: Record<string, unknown> = { ...config, HostConfig: host };
  if (primary !== undefined)
    body.NetworkingConfig = { EndpointsConfig: { [primary.network]: primary.endpoint } };
  return {
    name,
    image,
    body,
    connect: endpoints.filter((e) => e !== primary),
    settings,
    gate: gateOf(old, config, newImage, settleMs),
  };
}

/** Healthy within start period + 3 × interval (bounded), or running for `settle` without a restart. */
export function gateOf(
  old: OldContainer,
  config: Readonly<Record<string, unknown>>,
  newImage: ImageDefaults,
  settleMs: number,
): GateSpec {
  if (old.State?.Running !== true) return { kind: 'none' };
  const health = (config.Healthcheck ?? newImage.Healthcheck) as
    | { Test?: string[]; Interval?: number; StartPeriod?: number }
    | undefined;
  const test = health?.Test ?? [];
  if (test.length === 0 || test[0] === 'NONE') return { kind: 'running', settleMs };
  const interval = nanosToMs(health?.Interval) ?? HEALTH_INTERVAL_MS;
  const start = nanosToMs(health?.StartPeriod) ?? HEALTH_START_MS;
  return { kind: 'health', timeoutMs: Math.min(GATE_MAX_MS, Math.max(settleMs, start + 3 * interval)) };
}

/** Env entries: the user's kept; the old image's dropped so the new image's apply. */
function subtractEnv(
  mine: readonly string[],
  before: readonly string[],
  after: readonly string[],
  settings: SettingChange[],
): string[] {
  const defaults = new Set(before);
  const next = new Map(after.map((e) => [keyOf(e), e]));
  const kept: string[] = [];
  for (const entry of mine) {
    const key = keyOf(entry);
    if (!defaults.has(entry)) {
      kept.push(entry);
      settings.push({ setting: `Env ${key}`, effect: 'kept', from: entry, why: 'set for this container' });
      continue;
    }
    const replacement = next.get(key);
    if (replacement === undefined)
      settings.push({ setting: `Env ${key}`, effect: 'dropped', from: entry, why: 'the old image default' });
    else if (replacement !== entry)
      settings.push({
        setting: `Env ${key}`,
        effect: 'changed',
        from: entry,
        to: replacement,
        why: "the new image's default",
      });
    else settings.push({ setting: `Env ${key}`, effect: 'kept', from: entry, why: 'the image default' });
  }
  const mineKeys = new Set(mine.map(keyOf));
  for (const [key, entry] of next)
    if (!mineKeys.has(key))
      settings.push({ setting: `Env ${key}`, effect: 'changed', to: entry, why: "the new image's default" });
  return kept;
}

/** Labels, ExposedPorts, Volumes: the old image's entries (same key and value) dropped. */
function subtractMap(
  name: string,
  mine: Readonly<Record<string, unknown>>,
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
  settings: SettingChange[],
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(mine)) {
    const label = `${name} ${key}`;
    if (!(key in before) || !isDeepStrictEqual(before[key], value)) {
      kept[key] = value;
      settings.push({ setting: label, effect: 'kept', from: show(value), why: 'set for this container' });
    } else if (!(key in after))
      settings.push({ setting: label, effect: 'dropped', from: show(value), why: 'the old image default' });
    else if (!isDeepStrictEqual(after[key], value))
      settings.push({
        setting: label,
        effect: 'changed',
        from: show(value),
        to: show(after[key]),
        why: "the new image's default",
      });
    else settings.push({ setting: label, effect: 'kept', from: show(value), why: 'the image default' });
  }
  for (const [key, value] of Object.entries(after))
    if (!(key in mine))
      settings.push({
        setting: `${name} ${key}`,
        effect: 'changed',
        to: show(value),
        why: "the new image's default",
      });
  return kept;
}

/** What create takes of a network attachment; the old id's short alias is Docker's, not the user's. */
function endpointOf(settings: Readonly<Record<string, unknown>>, oldId: string): Record<string, unknown> {
  const endpoint: Record<string, unknown> = {};
  const aliases = asStrings(settings.Aliases).filter((a) => a !== oldId.slice(0, 12));
  if (aliases.length > 0) endpoint.Aliases = aliases;
  for (const key of ['IPAMConfig', 'Links', 'DriverOpts', 'MacAddress'] as const)
    if (!isEmpty(settings[key])) endpoint[key] = settings[key];
  return endpoint;
}

/** Volumes the engine named (64 hex) mounted where no bind or mount of the user's is. */
function anonymousVolumes(old: OldContainer): { name: string; target: string }[] {
  const declared = new Set<string>();
  for (const bind of asStrings(old.HostConfig.Binds)) declared.add(bind.split(':')[1] ?? '');
  for (const mount of (old.HostConfig.Mounts as { Target?: string }[] | null | undefined) ?? [])
    declared.add(mount.Target ?? '');
  return (old.Mounts ?? [])
    .filter(
      (m) =>
        m.Type === 'volume' &&
        typeof m.Name === 'string' &&
        /^[a-f0-9]{64}$/.test(m.Name) &&
        !declared.has(String(m.Destination)),
    )
    .map((m) => ({ name: m.Name as string, target: m.Destination as string }));
}

function keyOf(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function asRecord(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function nanosToMs(value: number | undefined): number | undefined {
  return value === undefined || value === 0 ? undefined : value / 1e6;
}
