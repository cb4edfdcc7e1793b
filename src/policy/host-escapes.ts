import { type GoObject, type GoValue, isObject, isString, stringList } from './go-json.js';

/**
 * What a profile lets a caller do that reaches beyond the container onto the host. Everything
 * is refused unless granted here; the defaults grant nothing.
 */
export interface EscapeAllowances {
  readonly privileged: boolean;
  /** Capabilities that may be added beyond Docker's default set (which is always fine). */
  readonly capAdd: readonly string[];
  readonly devices: boolean;
  /** Host PID, IPC, UTS, user and cgroup namespaces. */
  readonly hostNamespaces: boolean;
  readonly hostNetwork: boolean;
  /** `seccomp=unconfined`, `apparmor=unconfined`, `label=disable`, `systempaths=unconfined`. */
  readonly unconfined: boolean;
  readonly sysctls: boolean;
  readonly cgroupParent: boolean;
  /** Runtimes besides the engine's default. */
  readonly runtimes: readonly string[];
  /** Host paths (and everything under them) that binds and bind mounts may use. */
  readonly bindPaths: readonly string[];
  /** Volume drivers besides `local`. */
  readonly volumeDrivers: readonly string[];
  /** Network drivers allowed on create (default: bridge, overlay). */
  readonly networkDrivers: readonly string[];
  /**
   * Log drivers besides json-file, local, journald and none: the others (syslog, gelf, fluentd,
   * splunk, awslogs, …) make dockerd connect from the host to an address or socket the body names.
   */
  readonly logDrivers: readonly string[];
  readonly execPrivileged: boolean;
  readonly execRoot: boolean;
}

export const NO_ESCAPES: EscapeAllowances = {
  privileged: false,
  capAdd: [],
  devices: false,
  hostNamespaces: false,
  hostNetwork: false,
  unconfined: false,
  sysctls: false,
  cgroupParent: false,
  runtimes: [],
  bindPaths: [],
  volumeDrivers: [],
  networkDrivers: ['bridge', 'overlay'],
  logDrivers: [],
  execPrivileged: false,
  execRoot: true,
};

/** Log drivers that write on this host only, to a place no body chooses. */
const LOCAL_LOG_DRIVERS = new Set(['', 'json-file', 'local', 'journald', 'none']);

/** Docker's default capability set: adding one of these grants nothing new. */
const DEFAULT_CAPS = new Set([
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
]);

/** One host escape found in a request: the field, and why it is refused. */
export interface Escape {
  readonly field: string;
  readonly reason: string;
}

type Found = Escape | undefined;

/**
 * Host settings of a container create body. dockerd decodes the body into a wrapper that holds
 * `HostConfig` *and* embeds a deprecated copy of every HostConfig field at the top level, used
 * when `HostConfig` is absent (moby runconfig ContainerConfigWrapper.getHostConfig). Both are
 * checked: a proxy that only reads `HostConfig` lets `{"Privileged": true}` through.
 */
export function containerCreateEscape(body: GoObject, allow: EscapeAllowances): Found {
  const inner = body.field('HostConfig');
  if (inner !== undefined && inner !== null && !isObject(inner))
    return bad('HostConfig', 'must be an object');
  return (
    (isObject(inner) ? hostConfigEscape(inner, allow, 'HostConfig.') : undefined) ??
    hostConfigEscape(body, allow, '')
  );
}

/**
 * What an engine fills in that a request body leaves out. A container that already exists is
 * checked with the same function as a create body, but its inspect answer holds the engine's
 * defaults, which grant nothing a caller could not get by leaving the field out.
 */
export interface EngineDefaults {
  /** `DefaultRuntime` of `GET /info` ("runc"). */
  readonly runtime: string;
  /** `CgroupVersion` of `GET /info`: on v1 every container is in the host's cgroup namespace. */
  readonly cgroupVersion: string;
}

/**
 * A HostConfig object: a create body, the legacy start body of API < 1.24, or — with `existing`
 * — the HostConfig of a container that already exists (its inspect answer).
 */
export function hostConfigEscape(
  hc: GoObject,
  allow: EscapeAllowances,
  at: string,
  existing?: EngineDefaults,
): Found {
  const f = (name: string): GoValue | undefined => hc.field(name);
  if (!allow.privileged && truthy(f('Privileged'))) return bad(`${at}Privileged`, 'privileged containers');
  // CapAdd adds to the default set; Capabilities (API 1.40–1.42) replaces it: both may only name
  // capabilities of the default set or those the profile grants.
  for (const field of ['CapAdd', 'Capabilities']) {
    const caps = stringList(f(field));
    if (caps === undefined) return bad(`${at}${field}`, 'must be a list of strings');
    for (const cap of caps) {
      const name = cap.toUpperCase().replace(/^CAP_/, '');
      if (!DEFAULT_CAPS.has(name) && !allow.capAdd.includes(name)) {
        return bad(`${at}${field}`, `capability ${cap} is not allowed`);
      }
    }
  }
  const resources = resourcesEscape(hc, allow, at);
  if (resources !== undefined) return resources;
  if (!allow.hostNamespaces) {
    for (const name of ['PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode']) {
      const value = f(name);
      if (name === 'CgroupnsMode' && existing?.cgroupVersion === '1') continue; // v1's only default
      if (isString(value) && /^host(:|$)/i.test(value.trim())) return bad(`${at}${name}`, 'host namespace');
    }
  }
  const network = f('NetworkMode');
  if (!allow.hostNetwork && isString(network) && network.trim().toLowerCase() === 'host') {
    return bad(`${at}NetworkMode`, 'host network');
  }
  const securityOpt = stringList(f('SecurityOpt'));
  if (securityOpt === undefined) return bad(`${at}SecurityOpt`, 'must be a list of strings');
  if (!allow.unconfined) {
    for (const opt of securityOpt) {
      const o = opt.toLowerCase().replace(/\s/g, '');
      if (o.includes('unconfined') || /^label[=:]disable/.test(o)) {
        return bad(`${at}SecurityOpt`, `security option ${opt} is not allowed`);
      }
    }
  }
  if (!allow.sysctls && nonEmpty(f('Sysctls'))) return bad(`${at}Sysctls`, 'sysctls');
  for (const name of ['MaskedPaths', 'ReadonlyPaths']) {
    const v = f(name);
    // An existing container shows the engine's masking (a list); an empty one means unmasked.
    const changed =
      existing === undefined ? v !== undefined && v !== null : Array.isArray(v) && v.length === 0;
    if (changed && !allow.privileged) return bad(`${at}${name}`, 'changes /proc masking');
  }
  const runtime = f('Runtime');
  if (
    isString(runtime) &&
    runtime !== '' &&
    runtime !== existing?.runtime &&
    !allow.runtimes.includes(runtime)
  ) {
    return bad(`${at}Runtime`, `runtime ${runtime} is not allowed`);
  }
  // A log driver with an address is the host's dockerd connecting where the caller says — past the
  // container's own network (`none`), to the host's loopback services and unix sockets (dockerd
  // stats a syslog unix socket at create). What an existing container logs with (often the
  // engine's default) reaches nothing for a caller who execs into it: create bodies only.
  const logConfig = f('LogConfig');
  if (existing === undefined && logConfig !== undefined && logConfig !== null) {
    if (!isObject(logConfig)) return bad(`${at}LogConfig`, 'must be an object');
    const type = logConfig.field('Type');
    const driver = isString(type) ? type : '';
    if (type !== undefined && type !== null && !isString(type))
      return bad(`${at}LogConfig.Type`, 'must be a string');
    if (!LOCAL_LOG_DRIVERS.has(driver) && !allow.logDrivers.includes(driver))
      return bad(
        `${at}LogConfig.Type`,
        `log driver ${driver} is not allowed (dockerd would connect where its options say)`,
      );
  }
  // The driver of every named volume in Binds that does not exist yet (`docker run --volume-driver`).
  const volumeDriver = f('VolumeDriver');
  if (isString(volumeDriver) && volumeDriver !== '' && volumeDriver !== 'local') {
    if (!allow.volumeDrivers.includes(volumeDriver))
      return bad(`${at}VolumeDriver`, `volume driver ${volumeDriver} is not allowed`);
  }
  const binds = stringList(f('Binds'));
  if (binds === undefined) return bad(`${at}Binds`, 'must be a list of strings');
  for (const bind of binds) {
    const source = bind.split(':')[0] ?? '';
    if (isHostPath(source) && !pathAllowed(source, allow.bindPaths)) {
      return bad(`${at}Binds`, `bind of host path ${source} is not allowed`);
    }
  }
  const mounts = f('Mounts');
  if (mounts !== undefined && mounts !== null) {
    if (!Array.isArray(mounts)) return bad(`${at}Mounts`, 'must be a list');
    for (const mount of mounts) {
      const found = mountEscape(mount, allow, `${at}Mounts`);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** What the engine says of a container that exists: what `existingContainerEscape` reads. */
export interface ContainerFacts {
  /** Its inspect answer's `HostConfig`, as the Go reader reads it. */
  readonly hostConfig: GoObject;
  /** Its inspect answer's `Mounts`: what is really mounted (binds, volumes, tmpfs). */
  readonly mounts: readonly {
    readonly Type?: string;
    readonly Source?: string;
    readonly Name?: string;
    readonly Driver?: string;
  }[];
  /** The named volumes it mounts: driver and options (a local volume can bind any host path). */
  readonly volumes: ReadonlyMap<string, { readonly driver: string; readonly options: GoObject | null }>;
  readonly defaults: EngineDefaults;
  /** Named volumes its create through a gateway could not check (`dockgate.unchecked-volumes`). */
  readonly uncheckedVolumes: readonly string[];
}

/**
 * A container that exists holds something the profile would refuse at create (issue 10): the
 * same checker as a create body, so the two cannot drift, plus what is really mounted.
 */
export function existingContainerEscape(facts: ContainerFacts, allow: EscapeAllowances): Found {
  const found = hostConfigEscape(facts.hostConfig, allow, 'HostConfig.', facts.defaults);
  if (found !== undefined) return found;
  for (const mount of facts.mounts) {
    if (mount.Type === 'bind' && !pathAllowed(mount.Source ?? '', allow.bindPaths)) {
      return bad('Mounts', `bind of host path ${mount.Source ?? '?'} is not allowed`);
    }
    if (mount.Type === 'volume' && mount.Name !== undefined) {
      const volume = facts.volumes.get(mount.Name);
      const driver = volume?.driver ?? mount.Driver ?? 'local';
      if (driver !== 'local' && !allow.volumeDrivers.includes(driver))
        return bad(`Mounts[${mount.Name}].Driver`, `volume driver ${driver} is not allowed`);
      const found = namedVolumeEscape(
        mount.Name,
        driver,
        volume?.options ?? null,
        allow,
        `Mounts[${mount.Name}]`,
      );
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * The named volumes a container's create could not check (they did not exist yet), as they are
 * now: a host path the profile refuses (the `start` and `restart` check, issue 22).
 */
export function boundVolumeEscape(facts: ContainerFacts, allow: EscapeAllowances): Found {
  for (const mount of facts.mounts) {
    if (mount.Type !== 'volume' || mount.Name === undefined) continue;
    if (!facts.uncheckedVolumes.includes(mount.Name)) continue;
    const volume = facts.volumes.get(mount.Name);
    const found = namedVolumeEscape(
      mount.Name,
      volume?.driver ?? mount.Driver ?? 'local',
      volume?.options ?? null,
      allow,
      `Mounts[${mount.Name}]`,
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

/** What a named volume is on this host, as far as the engine's answer tells (issue 22). */
export type VolumeNature =
  | { readonly kind: 'host-path'; readonly path: string; readonly how: 'bind' | 'device' }
  | { readonly kind: 'other' };

const OTHER_VOLUME: VolumeNature = { kind: 'other' };

/**
 * The `local` driver mounts `device` with `type` and the options `o` (moby's volume/local:
 * `mount(device, dir, type, o)`). With `o` holding `bind` or `rbind`, or `type` `none` (compose's
 * `driver_opts` idiom), it is a bind mount of a host path — relative paths resolve against
 * dockerd's working directory, `/`. Another `type` with a device that is a path (`ext4` on
 * `/dev/sdb1`) mounts a block device of this host. Both reach this host exactly as a bind of that
 * path does. `tmpfs` is memory; `nfs` or `cifs` (`device=:/export`, `//server/share`) reach the
 * host their `addr` names, not through this host's filesystem; other drivers are plugins.
 */
export function volumeNature(driver: string, options: GoObject | null): VolumeNature {
  if (driver !== 'local' || options === null) return OTHER_VOLUME;
  const opts = options.asMap();
  const device = opts.get('device');
  if (!isString(device) || device === '') return OTHER_VOLUME;
  const type = opts.get('type');
  const fsType = isString(type) ? type.trim().toLowerCase() : '';
  if (fsType === 'tmpfs') return OTHER_VOLUME;
  const o = opts.get('o');
  const flags = isString(o) ? o.split(',').map((flag) => flag.trim().toLowerCase()) : [];
  if (flags.includes('bind') || flags.includes('rbind') || fsType === 'none' || fsType === '')
    return { kind: 'host-path', path: device, how: 'bind' };
  if (device.startsWith('/') || device.startsWith('.'))
    return { kind: 'host-path', path: device, how: 'device' };
  return OTHER_VOLUME;
}

/** A named volume that is a host path the profile does not allow: refused as a bind of that path. */
export function namedVolumeEscape(
  name: string,
  driver: string,
  options: GoObject | null,
  allow: EscapeAllowances,
  field: string,
): Found {
  const nature = volumeNature(driver, options);
  if (nature.kind !== 'host-path' || pathAllowed(nature.path, allow.bindPaths)) return undefined;
  return bad(
    field,
    nature.how === 'bind'
      ? `volume ${name} is a bind of host path ${nature.path}`
      : `volume ${name} is a mount of host device ${nature.path}`,
  );
}

/** Resource fields (HostConfig, and the body of POST /containers/{id}/update). */
export function resourcesEscape(r: GoObject, allow: EscapeAllowances, at = ''): Found {
  if (!allow.devices) {
    for (const name of ['Devices', 'DeviceRequests', 'DeviceCgroupRules']) {
      if (nonEmpty(r.field(name))) return bad(`${at}${name}`, 'host devices');
    }
  }
  const parent = r.field('CgroupParent');
  if (!allow.cgroupParent && isString(parent) && parent !== '')
    return bad(`${at}CgroupParent`, 'cgroup parent');
  return undefined;
}

function mountEscape(mount: GoValue, allow: EscapeAllowances, at: string): Found {
  if (!isObject(mount)) return bad(at, 'each mount must be an object');
  const type = mount.field('Type');
  const source = mount.field('Source');
  switch (type) {
    case 'tmpfs':
      return undefined;
    case 'bind':
      if (!isString(source) || !pathAllowed(source, allow.bindPaths)) {
        return bad(`${at}.Source`, `bind of host path ${String(source)} is not allowed`);
      }
      return undefined;
    case 'volume': {
      const options = mount.field('VolumeOptions');
      const driver = isObject(options) ? options.field('DriverConfig') : undefined;
      if (!isObject(driver)) return undefined;
      return volumeDriverEscape(
        driver.field('Name'),
        driver.field('Options'),
        allow,
        `${at}.VolumeOptions.DriverConfig`,
      );
    }
    default:
      return bad(`${at}.Type`, `mount type ${JSON.stringify(type)} is not allowed`);
  }
}

/** POST /volumes/create: the local driver binds any host path with `o=bind,device=PATH`. */
export function volumeCreateEscape(body: GoObject, allow: EscapeAllowances): Found {
  return volumeDriverEscape(body.field('Driver'), body.field('DriverOpts'), allow, '');
}

function volumeDriverEscape(
  name: GoValue | undefined,
  options: GoValue | undefined,
  allow: EscapeAllowances,
  at: string,
): Found {
  const driver = isString(name) && name !== '' ? name : 'local';
  const p = at === '' ? '' : `${at}.`;
  if (driver !== 'local' && !allow.volumeDrivers.includes(driver)) {
    return bad(`${p}Driver`, `volume driver ${driver} is not allowed`);
  }
  if (options === undefined || options === null) return undefined;
  if (!isObject(options)) return bad(`${p}Options`, 'must be an object');
  const opts = options.asMap();
  const device = opts.get('device');
  const type = opts.get('type');
  if (driver === 'local' && device !== undefined && type !== 'tmpfs') {
    if (!isString(device) || !pathAllowed(device, allow.bindPaths)) {
      return bad(`${p}DriverOpts.device`, `volume backed by ${String(device)} is not allowed`);
    }
  }
  return undefined;
}

/** POST /networks/create: drivers that reach the host's interfaces (macvlan, ipvlan, host). */
export function networkCreateEscape(body: GoObject, allow: EscapeAllowances): Found {
  const driver = body.field('Driver');
  const name = isString(driver) && driver !== '' ? driver : 'bridge';
  if (!allow.networkDrivers.includes(name)) return bad('Driver', `network driver ${name} is not allowed`);
  if (truthy(body.field('ConfigFrom')) || truthy(body.field('ConfigOnly'))) {
    return bad('ConfigFrom', 'config-only networks are not allowed');
  }
  return undefined;
}

/** POST /containers/{id}/exec. */
export function execCreateEscape(body: GoObject, allow: EscapeAllowances): Found {
  if (!allow.execPrivileged && truthy(body.field('Privileged'))) return bad('Privileged', 'privileged exec');
  const user = body.field('User');
  if (!allow.execRoot && isString(user) && /^(root|0)(:|$)/.test(user.trim()))
    return bad('User', 'exec as root');
  return undefined;
}

/** POST /build: the host settings travel in the query. */
export function buildQueryEscape(query: URLSearchParams, allow: EscapeAllowances): Found {
  const network = query.getAll('networkmode');
  if (!allow.hostNetwork && network.some((n) => n.toLowerCase() === 'host')) {
    return bad('networkmode', 'host network during build');
  }
  if (!allow.cgroupParent && query.getAll('cgroupparent').some((v) => v !== '')) {
    return bad('cgroupparent', 'cgroup parent');
  }
  if (query.getAll('remote').some((v) => v !== '')) {
    return bad('remote', 'the engine fetching a remote build context');
  }
  return undefined;
}

/** POST /images/create: `fromSrc=URL` makes the engine download from anywhere. */
export function imageCreateQueryEscape(query: URLSearchParams): Found {
  if (query.getAll('fromSrc').some((v) => v !== '-' && v !== '')) {
    return bad('fromSrc', 'importing from a URL (the engine would fetch it)');
  }
  return undefined;
}

function bad(field: string, reason: string): Escape {
  return { field, reason };
}

function truthy(v: GoValue | undefined): boolean {
  return v !== undefined && v !== null && v !== false && v !== 0 && v !== '';
}

function nonEmpty(v: GoValue | undefined): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return v.entries.length > 0;
  return true;
}

/** A bind source that is a host path, not a named volume. */
export function isHostPath(source: string): boolean {
  return (
    source.startsWith('/') ||
    source.startsWith('.') ||
    source.startsWith('~') ||
    /^[A-Za-z]:[\\/]/.test(source) ||
    source.startsWith('\\')
  );
}

/** True when `path`, normalised, is one of `allowed` or below it. Relative paths never are. */
export function pathAllowed(path: string, allowed: readonly string[]): boolean {
  if (!path.startsWith('/')) return false;
  const parts: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  const clean = `/${parts.join('/')}`;
  return allowed.some((root) => {
    const r = root.replace(/\/+$/, '') || '/';
    return r === '/' || clean === r || clean.startsWith(`${r}/`);
  });
}
