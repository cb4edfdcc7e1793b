import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface DockerCli {
  readonly path: string;
  /** e.g. "28.2.2" or "20.10.24+dfsg1" */
  readonly version: string;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The docker CLIs on this machine, each a real conformance client: the one on PATH (28.x here)
 * and Debian's 20.10 at /usr/bin/docker. Duplicates (the same binary twice) are listed once.
 */
export function dockerClis(): DockerCli[] {
  const candidates = ['/usr/local/bin/docker', '/usr/bin/docker'];
  const clis: DockerCli[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      const version = execFileSync(path, ['version', '--format', '{{.Client.Version}}'], {
        encoding: 'utf8',
        env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' },
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      if (version !== '' && !clis.some((cli) => cli.version === version)) clis.push({ path, version });
    } catch (error) {
      // `docker version` exits 1 when the server is unreachable but still prints the client part.
      const stdout = String((error as { stdout?: unknown }).stdout ?? '').trim();
      if (stdout !== '' && !clis.some((cli) => cli.version === stdout)) clis.push({ path, version: stdout });
    }
  }
  return clis;
}

/** Runs the CLI against `host`. `input` is written to stdin and closed; without it stdin is /dev/null. */
export function runCli(
  cli: DockerCli,
  host: string,
  args: string[],
  options: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cli.path, args, {
      env: {
        ...process.env,
        DOCKER_HOST: host,
        DOCKER_BUILDKIT: '0',
        DOCKER_CLI_HINTS: 'false',
        ...options.env,
      },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`docker ${args.join(' ')} timed out; stderr: ${Buffer.concat(err).toString()}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
  });
}
