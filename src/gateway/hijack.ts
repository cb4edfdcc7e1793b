/**
 * Which requests may take over their connection, so the gateway holds the client's later bytes
 * until the engine's answer says whether they are HTTP or a raw stream.
 *
 * - Any request with `Connection: upgrade` (`Upgrade: tcp` for attach/exec, `h2c` for BuildKit's
 *   /session and /grpc, `websocket` for /attach/ws): the engine answers 101 and both directions
 *   turn raw.
 * - The legacy hijack without an Upgrade header (dockerode without `hijack: true`,
 *   testcontainers): `POST /containers/{id}/attach` and `POST /exec/{id}/start` answered 200 with
 *   no length; the socket is then used both ways, exactly as after a 101.
 */
const LEGACY_HIJACK = /^(?:\/v\d+(?:\.\d+)?)?\/(?:containers\/[^/?]+\/attach|exec\/[^/?]+\/start)(?:\?|$)/;

export function mayHijack(method: string, target: string, upgrade: string | undefined): boolean {
  return upgrade !== undefined || (method === 'POST' && LEGACY_HIJACK.test(target));
}
