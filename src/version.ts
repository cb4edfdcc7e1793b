import { readFileSync } from 'node:fs';

/** dockgate's own version, read once from package.json (one source of truth). */
export const DOCKGATE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
