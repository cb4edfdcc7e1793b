import { DockgateError } from '../../errors.js';

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** A size as people write it: `500MiB`, `2GiB`, `1.5GB` (a unit is required). `what` names the key. */
export function parseSize(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)$/i.exec(text.trim());
  if (match === null)
    throw new DockgateError('DG_CONFIG_INVALID', `${what}: "${text}" is not a size (use 500MiB, 2GiB, 1GB)`);
  const bytes = Math.floor(Number(match[1]) * (UNITS[(match[2] as string).toLowerCase()] as number));
  if (!(bytes > 0)) throw new DockgateError('DG_CONFIG_INVALID', `${what}: must be more than 0`);
  return bytes;
}
