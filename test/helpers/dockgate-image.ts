import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testEngine } from './engine.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

/**
 * The dockgate image of this test run, built once by scripts/image.sh (offline) whichever test
 * file asks first — test files run two at a time, and a second build would only cost time. The
 * first asker takes a lock directory; the others wait for the image to appear.
 */
export async function dockgateImage(): Promise<{ image: string; report: string }> {
  const engine = testEngine();
  const image = `dockgate-test/dockgate:${engine.runId}`;
  const env = { ...process.env, DOCKER_HOST: engine.host };
  const exists = async (): Promise<boolean> =>
    run('docker', ['image', 'inspect', image], { env }).then(
      () => true,
      () => false,
    );
  const lock = join(tmpdir(), `dockgate-image-build-${engine.runId}`);
  try {
    mkdirSync(lock);
  } catch {
    await waitFor(exists, { what: 'the image built by another test file', timeout: 600_000, interval: 500 });
    return { image, report: '(built by another test file)' };
  }
  try {
    if (await exists()) return { image, report: '(already built)' };
    const built = await run('bash', ['scripts/image.sh', image], {
      cwd: root,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { image, report: built.stdout.trim() };
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
