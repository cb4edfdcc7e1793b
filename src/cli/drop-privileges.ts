import { statSync } from 'node:fs';
import { DockgateError } from '../errors.js';

/**
 * In the image, dockgate starts as root only to learn which group may use the engine's socket,
 * then runs as `DOCKGATE_USER` (uid:gid, 10001:10001 in the image) with that group added — so
 * the socat recipe's compose file works unchanged (no `group_add`), and nothing runs as root. The
 * same as `docker run --user 10001 --group-add $(stat -c %g /var/run/docker.sock)`, done at
 * start. Unset or empty: nothing changes (a host install runs as the user systemd gives it).
 */
export function dropPrivileges(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const target = env.DOCKGATE_USER;
  if (target === undefined || target === '' || process.getuid?.() !== 0) return undefined;
  const match = /^(\d+):(\d+)$/.exec(target);
  if (match === null)
    throw new DockgateError('DG_CONFIG_INVALID', `DOCKGATE_USER=${target}: use UID:GID, such as 10001:10001`);
  const uid = Number(match[1]);
  const gid = Number(match[2]);
  const socket = engineSocket(argv, env);
  let socketGroup: number | undefined;
  try {
    socketGroup = statSync(socket).gid;
  } catch {
    // No socket there (a TCP engine, or none yet): nothing to add.
  }
  const groups = socketGroup === undefined || socketGroup === gid ? [gid] : [gid, socketGroup];
  process.setgroups?.(groups);
  process.setgid?.(gid);
  process.setuid?.(uid);
  return `running as ${uid}:${gid}${socketGroup === undefined || socketGroup === gid ? '' : ` with group ${socketGroup} (the owner group of ${socket})`}`;
}

/** The unix socket of the engine this command talks to: --upstream, the env, DOCKER_HOST, the default. */
function engineSocket(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const i = argv.indexOf('--upstream');
  const inline = argv.find((a) => a.startsWith('--upstream='))?.slice('--upstream='.length);
  const url = (i >= 0 ? argv[i + 1] : inline) ?? env.DOCKGATE_UPSTREAM ?? env.DOCKER_HOST ?? '';
  return url.startsWith('unix://') ? url.slice('unix://'.length) : '/var/run/docker.sock';
}
