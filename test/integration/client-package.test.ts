import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RUN_LABEL, testEngine } from '../helpers/engine.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

/**
 * Issue 11: a strict TypeScript consumer of the published package. `npm test` builds before it
 * tests, so `npm pack` packs the package as it would be published. The consumer project lives
 * under the repository's .cache/ so that the package's own dependencies (undici…) resolve from the
 * repository's node_modules, as they would from the consumer's after `npm install`.
 */
describe('the packed package, as a strict consumer uses it', () => {
  const project = join(root, '.cache');
  mkdirSync(project, { recursive: true });
  const dir = mkdtempSync(join(project, 'consumer-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('regression: inspect.State, Created and every promised field compile without ?. and are sent; every documented error is importable', async () => {
    assert.ok(existsSync(join(root, 'dist/client/index.d.ts')), 'dist/ is built (npm test builds first)');
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root });
    const tarball = join(dir, stdout.trim().split('\n').at(-1) ?? '');
    const installed = join(dir, 'node_modules', 'dockgate');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);

    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'consumer', type: 'module', private: true }),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
          outDir: 'out',
        },
        files: ['consumer.ts'],
      }),
    );
    cpSync(join(root, 'test/types/consumer/consumer.ts'), join(dir, 'consumer.ts'));
    const tsc = join(root, 'node_modules/.bin/tsc');
    const compiled = await run(tsc, ['-p', dir], { cwd: dir }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    assert.equal(compiled, '', 'the consumer compiles against the packed types');

    const { host, image } = testEngine();
    const result = await run(process.execPath, [join(dir, 'out/consumer.js')], {
      cwd: dir,
      env: { ...process.env, CONSUMER_DOCKER_HOST: host, CONSUMER_IMAGE: image, CONSUMER_LABEL: RUN_LABEL },
    }).catch((error: { stdout: string; stderr: string }) => error);
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, 'every promised field present\n');
  });
});
