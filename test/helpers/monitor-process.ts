import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { collectOutput } from './dockgate-process.js';
import { postgresDatabase } from './private-postgres.js';
import { waitFor } from './wait.js';

const root = new URL('../..', import.meta.url).pathname;

/** A real `dockgate monitor` process (from the sources, through tsx). */
export interface MonitorProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `--store` for a monitor of this test run: with `test/run.ts --store=postgres`, a database of
 * the run's PostgreSQL cluster named after the `--data` directory — a monitor started again on
 * the same directory finds its store again, as with SQLite. A test that pins `--store` (one about
 * the SQLite file itself) keeps it.
 */
function testStore(args: readonly string[]): string[] {
  if (args.includes('--store')) return [];
  const at = args.indexOf('--data');
  const data = at < 0 ? undefined : args[at + 1];
  const url = data === undefined ? undefined : testStoreUrl(data);
  return url === undefined ? [] : ['--store', url];
}

/** The PostgreSQL store of a `--data` directory in a `--store=postgres` run; undefined otherwise (SQLite). */
export function testStoreUrl(data: string): string | undefined {
  const cluster = process.env.DOCKGATE_TEST_POSTGRES;
  if (process.env.DOCKGATE_TEST_STORE !== 'postgres' || cluster === undefined) return undefined;
  return postgresDatabase(cluster, `dg_${createHash('sha256').update(data).digest('hex').slice(0, 20)}`);
}

/** Starts `dockgate monitor ARGS` (listening on 127.0.0.1:0 unless ARGS say) and waits for its one line. */
export async function startMonitor(
  args: string[],
  env: Record<string, string> = {},
  /** Engines to wait for (default: all of them); false: do not wait (an https listener). */
  options: { waitUp?: readonly string[] | false } = {},
): Promise<MonitorProcess> {
  const listen = args.includes('--listen') ? [] : ['--listen', 'http://127.0.0.1:0'];
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'monitor', ...listen, ...args, ...testStore(args)],
    {
      cwd: root,
      env: { ...process.env, ...env },
    },
  );
  const output = collectOutput(child);
  // A monitor that dies says why: its last words go to the test's output.
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL') {
      process.stderr.write(`dockgate monitor exited (${code ?? signal}):\n${output.stderr().slice(-4000)}\n`);
    }
  });
  const line = /dockgate monitor \S+ listening on (https?:\/\/127\.0\.0\.1:\d+)/;
  await waitFor(
    () => {
      if (child.exitCode !== null)
        throw new Error(`dockgate monitor exited (${child.exitCode}): ${output.stderr()}`);
      return line.test(output.stderr());
    },
    { what: 'the monitor listening' },
  );
  const url = line.exec(output.stderr())?.[1] as string;
  // Tests act on the engines once they are watched: what happens before is a baseline, not an event.
  const wanted = options.waitUp;
  if (wanted !== false) {
    await waitFor(
      async () => {
        const response = await fetch(`${url}/healthz`);
        const health = (await response.json()) as { engines: { name: string; status: string }[] };
        const engines = health.engines.filter((e) => wanted === undefined || wanted.includes(e.name));
        return engines.length > 0 && engines.every((e) => e.status === 'up');
      },
      { what: 'the engines up' },
    );
  }
  return {
    child,
    url,
    ...output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** One server-sent events stream, read into a list of { id, event, data }. */
export class SseReader {
  readonly events: { id: string | undefined; event: string; data: unknown; at: number }[] = [];
  readonly #controller = new AbortController();
  #done: Promise<void>;

  /** `init.method`: a POST that answers with events (an update); `onEvent` sees each as it comes. */
  constructor(
    url: string,
    headers: Record<string, string> = {},
    init: { method?: string; onEvent?: (e: { event: string; data: unknown }) => void } = {},
  ) {
    this.#done = this.#read(url, headers, init).catch(() => {});
  }

  async #read(
    url: string,
    headers: Record<string, string>,
    init: { method?: string; onEvent?: (e: { event: string; data: unknown }) => void },
  ): Promise<void> {
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { Accept: 'text/event-stream', ...headers },
      signal: this.#controller.signal,
    });
    this.contentType = response.headers.get('content-type');
    if (response.body === null) return;
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | undefined;
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) {
          const parsed = { id, event, data: JSON.parse(data.join('\n')), at: performance.now() };
          this.events.push(parsed);
          init.onEvent?.(parsed);
        }
      }
    }
  }

  /** The answer's Content-Type, once it came. */
  contentType: string | null = null;

  /** Resolves when the stream ends (or breaks). */
  ended(): Promise<void> {
    return this.#done;
  }

  close(): Promise<void> {
    this.#controller.abort();
    return this.#done;
  }
}

/**
 * `dockgate monitor ARGS` as a one-off command (token, user…): its exit code, stdout and stderr;
 * `stdin` is written to it and closed.
 */
export async function monitorCli(
  args: readonly string[],
  stdin = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'monitor', ...args, ...testStore(args)],
    { cwd: root },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdin.end(stdin);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** `monitor token add NAME --role ROLE --data DATA`: the token it printed (alone on its line). */
export async function monitorToken(
  data: string,
  name: string,
  role: string,
  store?: string,
): Promise<string> {
  const { code, stdout, stderr } = await monitorCli([
    'token',
    'add',
    name,
    '--role',
    role,
    '--data',
    data,
    ...(store === undefined ? [] : ['--store', store]),
  ]);
  if (code !== 0) throw new Error(`token add ${name}: ${stderr}`);
  const lines = stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`token add ${name}: not one line: ${stdout}`);
  return lines[0] as string;
}

/** `dockgate monitor user add NAME --role R --password-stdin`, the password written to its stdin. */
export async function addMonitorUser(
  data: string,
  name: string,
  role: string,
  password: string,
): Promise<void> {
  const { code, stderr } = await monitorCli(
    ['user', 'add', name, '--role', role, '--password-stdin', '--data', data],
    `${password}\n`,
  );
  if (code !== 0) throw new Error(`user add ${name}: ${stderr}`);
}
