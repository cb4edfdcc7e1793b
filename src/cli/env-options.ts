import type { Command, Option } from 'commander';
import { DockgateError } from '../errors.js';

/** A variable's value; unset and empty alike are undefined. */
export function envValue(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** `--shutdown-grace` → `DOCKGATE_SHUTDOWN_GRACE` (with the prefix given). */
function envName(prefix: string, option: Option): string {
  return `${prefix}${option
    .attributeName()
    .replace(/[A-Z]/g, (c) => `_${c}`)
    .toUpperCase()}`;
}

/**
 * Every option of `command` can also come from the environment (`DOCKGATE_` + the option's name
 * in upper snake case): what a container image and a systemd unit are configured with. The
 * command line wins over the environment, which wins over the defaults. Repeatable options take
 * a list (comma-separated, or as `lists` says); flags take 1/0, true/false, yes/no — anything else is an error, never a
 * silent "on" (commander's own `.env()` turns a flag on for any value, even `0`).
 * `lists` names the repeatable options and what separates their values; `special` handles a variable itself (it returns the
 * value to set, or undefined for none).
 */
export function optionsFromEnv(
  command: Command,
  prefix: string,
  how: {
    readonly lists?: Readonly<Record<string, RegExp>>;
    readonly special?: Readonly<Record<string, (value: string) => unknown>>;
  } = {},
): void {
  const lists = Object.entries(how.lists ?? {})
    .map(
      ([key, separator]) =>
        `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${separator.source === ',' ? 'comma' : 'space'}-separated`,
    )
    .join(', ');
  command.addHelpText(
    'after',
    `\nEvery option can be set in the environment instead: ${prefix}<OPTION> in upper snake case (--log-level → ${prefix}LOG_LEVEL)${lists === '' ? '' : `; ${lists}`}; flags 1 or 0. The command line wins.`,
  );
  command.hook('preAction', (_command, actionCommand) => {
    if (actionCommand !== command) return;
    for (const option of command.options) {
      const key = option.attributeName();
      const source = command.getOptionValueSource(key);
      if (source === 'cli') continue;
      const name = envName(prefix, option);
      const raw = process.env[name];
      if (raw === undefined || raw === '') continue;
      const handle = how.special?.[key];
      const value =
        handle !== undefined
          ? handle(raw)
          : option.isBoolean()
            ? envFlag(name, raw)
            : how.lists?.[key] !== undefined
              ? raw
                  .split(how.lists[key])
                  .map((v) => v.trim())
                  .filter((v) => v !== '')
              : raw;
      if (value !== undefined) command.setOptionValueWithSource(key, value, 'env');
    }
  });
}

/** A flag's value in the environment: 1/0, true/false, yes/no, on/off. */
export function envFlag(name: string, raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new DockgateError('DG_CONFIG_INVALID', `${name}=${raw}: use 1 or 0`);
}
