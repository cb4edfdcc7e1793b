#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isDockgateError } from '../errors.js';
import { DOCKGATE_VERSION } from '../version.js';
import { registerCompletionCommand } from './completion-command.js';
import { registerDoctorCommand } from './doctor-command.js';
import { dropPrivileges } from './drop-privileges.js';
import { registerHealthCommand } from './health-command.js';
import { registerMonitorCommand } from './monitor-command.js';
import { registerPolicyCommand } from './policy-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerTokenCommand } from './token-command.js';
import { registerVersionCommand } from './version-command.js';

/** `dockgate`: one file per command under src/cli/, wired here. */
const program = new Command('dockgate')
  .description(
    'A safe, byte-transparent HTTP gateway to the Docker Engine API, and a monitor for the containers behind it',
  )
  .version(DOCKGATE_VERSION, '-V, --dockgate-version', 'print the dockgate version')
  .showHelpAfterError()
  .exitOverride();

registerServeCommand(program);
registerVersionCommand(program);
registerTokenCommand(program);
registerPolicyCommand(program);
registerMonitorCommand(program);
registerHealthCommand(program);
registerDoctorCommand(program);
registerCompletionCommand(program);

try {
  const dropped = dropPrivileges(process.argv);
  // Said by the long-running commands only: not by every HEALTHCHECK run, nor into the output of
  // `docker exec … dockgate token add` that a script captures.
  if (dropped !== undefined && /^(serve|monitor)$/.test(process.argv[2] ?? ''))
    process.stderr.write(`dockgate: ${dropped}\n`);
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (isDockgateError(error)) {
    // Known faults: one clear line, with the code to look up in docs/errors.md.
    process.stderr.write(`dockgate: ${error.message} [${error.code}]\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
