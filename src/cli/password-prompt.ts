import { DockgateError } from '../errors.js';

/**
 * A password for `monitor user add`: from stdin with `--password-stdin` (scripts, like
 * `docker login --password-stdin`), else typed twice at the terminal without echo. Never a
 * command-line argument: those are visible to every user of the host in `ps`.
 */
export async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (!process.stdin.isTTY)
    throw new DockgateError(
      'DG_CONFIG_INVALID',
      'no terminal to type a password in: pass it on stdin with --password-stdin',
    );
  const first = await askHidden('password: ');
  const second = await askHidden('again: ');
  if (first !== second) throw new DockgateError('DG_CONFIG_INVALID', 'the two passwords differ');
  return first;
}

/** One line from the terminal in raw mode, echoing nothing; Ctrl-C ends the command. */
function askHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (error?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error === undefined) resolve(text);
      else reject(error);
    };
    const onData = (data: Buffer): void => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          done();
          return;
        }
        if (char === '\u0003') {
          done(new DockgateError('DG_CONFIG_INVALID', 'cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') text = text.slice(0, -1);
        else text += char;
      }
    };
    stdin.on('data', onData);
  });
}
