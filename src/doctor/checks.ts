import { X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { readTokens } from '../auth/tokens.js';
import type { DockerClient } from '../client/index.js';
import type { EngineEndpoint } from '../engine/endpoint.js';

/** One line of `dockgate doctor`: what was found, and for a problem what to do. */
export interface Finding {
  readonly level: 'ok' | 'warn' | 'error';
  readonly subject: string;
  readonly message: string;
  readonly fix?: string;
}

const ok = (subject: string, message: string): Finding => ({ level: 'ok', subject, message });
const warn = (subject: string, message: string, fix?: string): Finding => ({
  level: 'warn',
  subject,
  message,
  ...(fix === undefined ? {} : { fix }),
});
const error = (subject: string, message: string, fix?: string): Finding => ({
  level: 'error',
  subject,
  message,
  ...(fix === undefined ? {} : { fix }),
});

/** The oldest Node dockgate runs on (package.json engines). */
export function checkNode(version = process.versions.node): Finding {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
  const good = major > 20 || (major === 20 && (minor > 18 || (minor === 18 && patch >= 1)));
  return good
    ? ok('node', `Node.js ${version}`)
    : error('node', `Node.js ${version} is too old`, 'install Node.js 20.18.1 or newer');
}

/**
 * The engine's unix socket: there, a socket, and usable by this user — the usual reason a
 * gateway or the docker CLI fails with "permission denied". Other transports: nothing to check.
 */
export function checkSocket(endpoint: EngineEndpoint, user = currentUser()): Finding[] {
  if (endpoint.kind !== 'unix')
    return [ok('engine', `${endpoint.url} (not a unix socket: nothing to check on disk)`)];
  const path = endpoint.path;
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EACCES')
      return [
        error(
          'socket',
          `${path} cannot be reached by ${user.name}: a directory on the way is closed to it`,
          `run dockgate as a user who may enter ${dirname(path)}, or give the engine a socket in a reachable place`,
        ),
      ];
    return [
      error(
        'socket',
        `${path} does not exist`,
        'start the engine (systemctl start docker), or point at it: --upstream unix:///PATH or DOCKER_HOST',
      ),
    ];
  }
  if (!info.isSocket())
    return [
      error('socket', `${path} is not a socket`, 'point --upstream (or DOCKER_HOST) at the engine socket'),
    ];
  const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch {
    return [
      error(
        'socket',
        `${path} (uid ${info.uid}, gid ${info.gid}, mode ${mode}) is not usable by ${user.name} (uid ${user.uid})`,
        `add ${user.name} to the socket's group: sudo usermod -aG ${groupName(info.gid)} ${user.name} (then log in again); in a container: --group-add ${info.gid}`,
      ),
    ];
  }
  const findings = [ok('socket', `${path} is usable by ${user.name} (gid ${info.gid}, mode ${mode})`)];
  if ((info.mode & 0o002) !== 0)
    findings.push(
      error(
        'socket',
        `${path} is writable by every user of the host (mode ${mode}): that is root for all of them`,
        `chmod 660 ${path}`,
      ),
    );
  return findings;
}

/** The engine answers, and with which versions. */
export async function checkEngine(client: DockerClient): Promise<Finding> {
  try {
    const v = await client.version(AbortSignal.timeout(5000));
    const [major = 0, minor = 0] = (v.ApiVersion ?? '0.0').split('.').map(Number);
    const text = `${client.endpoint.url} answers: Docker ${v.Version}, API ${v.ApiVersion} (${v.Os}/${v.Arch})`;
    if (major === 1 && minor < 41)
      return warn(
        'engine',
        `${text}; dockgate is tested with API 1.41 and newer`,
        'upgrade the engine to Docker 20.10 or newer',
      );
    return ok('engine', text);
  } catch (cause) {
    return error(
      'engine',
      `${client.endpoint.url} does not answer: ${(cause as Error).message}`,
      'is dockerd running? (systemctl status docker); is --upstream or DOCKER_HOST right?',
    );
  }
}

/**
 * The token store: it holds hashes, but the names and profiles are the map of who may do what,
 * and a writable file is a way to grant oneself `full`. Owner only.
 */
export function checkTokens(file: string, user = currentUser()): Finding[] {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(file);
  } catch {
    return [ok('tokens', `${file}: none yet (dockgate token add NAME --profile P creates it, mode 600)`)];
  }
  const findings: Finding[] = [];
  const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
  if ((info.mode & 0o077) !== 0)
    findings.push(
      error('tokens', `${file} is readable or writable by others (mode ${mode})`, `chmod 600 ${file}`),
    );
  if (info.uid !== user.uid)
    findings.push(
      warn(
        'tokens',
        `${file} belongs to uid ${info.uid}, not to ${user.name} (uid ${user.uid})`,
        `chown ${user.name} ${file}`,
      ),
    );
  try {
    const dir = statSync(dirname(file));
    if ((dir.mode & 0o022) !== 0)
      findings.push(
        error(
          'tokens',
          `${dirname(file)} is writable by others: anyone could replace the token file`,
          `chmod go-w ${dirname(file)}`,
        ),
      );
  } catch {
    // The file is there, so is its directory.
  }
  try {
    const tokens = readTokens(file);
    if (findings.length === 0)
      findings.push(ok('tokens', `${file}: ${tokens.length} token(s), mode ${mode}`));
  } catch (cause) {
    findings.push(error('tokens', (cause as Error).message, `fix or remove ${file}`));
  }
  return findings;
}

/** A listener's certificate: readable, and not expired or about to. */
export function checkCertificate(file: string, now = Date.now()): Finding {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(file));
  } catch (cause) {
    return error('tls', `${file}: ${(cause as Error).message}`, 'give --tls-cert a PEM certificate');
  }
  const until = Date.parse(cert.validTo);
  const days = Math.floor((until - now) / 86_400_000);
  if (until <= now) return error('tls', `${file} expired on ${cert.validTo}`, 'renew the certificate');
  if (days < 30)
    return warn('tls', `${file} expires in ${days} days (${cert.validTo})`, 'renew the certificate soon');
  return ok('tls', `${file}: ${cert.subject.replace(/\n/g, ', ')}, valid for ${days} more days`);
}

function currentUser(): { name: string; uid: number } {
  const uid = process.getuid?.() ?? -1;
  try {
    return { name: userInfo().username, uid };
  } catch {
    return { name: `uid ${uid}`, uid };
  }
}

/** A group's name from /etc/group, else its number. */
function groupName(gid: number): string {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (Number(id) === gid && name !== undefined && name !== '') return name;
    }
  } catch {
    // no /etc/group
  }
  return String(gid);
}

export function formatFinding(f: Finding): string {
  const tag = f.level === 'ok' ? 'ok   ' : f.level === 'warn' ? 'warn ' : 'error';
  return `${tag} ${f.subject}: ${f.message}${f.fix === undefined ? '' : ` → ${f.fix}`}`;
}
