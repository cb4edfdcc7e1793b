import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { profileSchema } from '../config/policy-file.js';
import { DockgateError } from '../errors.js';
import type { ProfileSpec } from './profile.js';

/** The presets directory shipped with the package (`presets/*.yaml`, one profile per file). */
export const PRESETS_DIR = fileURLToPath(new URL('../../presets/', import.meta.url));

let cached: Readonly<Record<string, ProfileSpec>> | undefined;

/** Every preset, by file name; validated with the config file's profile schema. */
export function presetProfiles(): Readonly<Record<string, ProfileSpec>> {
  if (cached !== undefined) return cached;
  const out: Record<string, ProfileSpec> = {};
  for (const file of readdirSync(PRESETS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const parsed = profileSchema.safeParse(parse(readFileSync(`${PRESETS_DIR}${file}`, 'utf8')));
    if (!parsed.success) {
      throw new DockgateError(
        'DG_CONFIG_INVALID',
        `preset ${file}: ${parsed.error.issues[0]?.message} at ${parsed.error.issues[0]?.path.join('.')}`,
      );
    }
    out[file.slice(0, -'.yaml'.length)] = parsed.data as ProfileSpec;
  }
  cached = out;
  return out;
}
