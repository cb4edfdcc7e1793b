/**
 * Headers that describe one hop and are not forwarded (RFC 9110 §7.6.1), lowercase.
 *
 * dockgate pairs each client connection with an engine connection of its own (reused by the next
 * client only at a clean boundary: engine-pool.ts) and keeps the message
 * framing of every request and response as sent, so `Connection`, `Upgrade` and
 * `Transfer-Encoding` describe the engine hop exactly as they describe the client hop: they are
 * forwarded, and that is what lets `Upgrade: tcp` hijacks and chunked streams pass untouched.
 * What is dropped is what belongs to a proxy or to a hop's own keep-alive tuning.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'keep-alive', // per-hop keep-alive parameters (RFC 2068 §19.7.1)
  'proxy-connection', // non-standard, sent by some clients to proxies
  'proxy-authorization', // credentials meant for a proxy, never for the engine
  'proxy-authenticate',
  'te', // the client's acceptance of transfer codings on its hop
  'trailer',
]);

/** Connection-specific tokens that name headers to drop, per RFC 9110 §7.6.1; framing tokens excluded. */
const CONNECTION_OPTIONS_KEPT = new Set(['close', 'keep-alive', 'upgrade']);

/** Names (lowercase) to drop from a head: the fixed list, plus headers its `Connection` names. */
export function namesToDrop(connectionTokens: ReadonlySet<string>): ReadonlySet<string> {
  let extra: Set<string> | undefined;
  for (const token of connectionTokens) {
    if (!CONNECTION_OPTIONS_KEPT.has(token) && !HOP_BY_HOP_HEADERS.has(token)) {
      extra ??= new Set(HOP_BY_HOP_HEADERS);
      extra.add(token);
    }
  }
  return extra ?? HOP_BY_HOP_HEADERS;
}
