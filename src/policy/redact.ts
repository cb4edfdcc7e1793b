/**
 * Container inspect answers with `Config.Env` values replaced by "<redacted>" (names kept:
 * knowing that DB_PASSWORD is set is useful to a dashboard; its value is not). Anything that is
 * not a JSON object is passed through: it carries no Env to leak.
 */
export function redactEnv(body: Buffer): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  const config = (parsed as { Config?: { Env?: unknown } } | null)?.Config;
  if (config === undefined || config === null || !Array.isArray(config.Env)) return body;
  config.Env = config.Env.map((entry: unknown) => {
    if (typeof entry !== 'string') return '<redacted>';
    const eq = entry.indexOf('=');
    return eq < 0 ? entry : `${entry.slice(0, eq)}=<redacted>`;
  });
  return Buffer.from(`${JSON.stringify(parsed)}\n`);
}
