import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const root = new URL('../..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  bin: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
};

// npm test builds before it tests, so dist/ is the package as it would be published.
describe('package entry points', () => {
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    it(`"${subpath}" resolves to built files that load`, async () => {
      assert.ok(existsSync(new URL(target.default, root)), `${target.default} is built`);
      assert.ok(existsSync(new URL(target.types, root)), `${target.types} is built`);
      const loaded = (await import(new URL(target.default, root).href)) as Record<string, unknown>;
      const expected = subpath === './client' ? 'DockerClient' : 'Gateway';
      assert.equal(typeof loaded[expected], 'function');
    });
  }

  it('the dockgate bin is built and starts with a node shebang', () => {
    const bin = new URL(pkg.bin.dockgate ?? '', root);
    assert.ok(existsSync(bin));
    assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });
});
