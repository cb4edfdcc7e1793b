import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseImageReference, referenceText } from '../../src/monitor/updates/image-reference.js';
import { dockerConfigAuths } from '../../src/monitor/updates/registry-access.js';
import { parseChallenge } from '../../src/monitor/updates/registry-client.js';
import { classify } from '../../src/monitor/updates/update-checker.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('image references', () => {
  it('normalises as the docker CLI does: Docker Hub, library/, a registry host, a port, a digest', () => {
    const cases: [string, string | undefined][] = [
      ['nginx', 'docker.io/library/nginx:latest'],
      ['nginx:1.27', 'docker.io/library/nginx:1.27'],
      ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
      ['docker.io/library/nginx', 'docker.io/library/nginx:latest'],
      ['index.docker.io/library/nginx', 'docker.io/library/nginx:latest'],
      ['ghcr.io/o/app:v1', 'ghcr.io/o/app:v1'],
      ['127.0.0.1:5000/team/app:stable', '127.0.0.1:5000/team/app:stable'],
      ['localhost/app', 'localhost/app:latest'],
      [`app@${D}`, `docker.io/library/app@${D}`],
      [`ghcr.io/o/app:v1@${D}`, `ghcr.io/o/app:v1@${D}`],
      [`sha256:${'b'.repeat(64)}`, undefined],
      ['b'.repeat(64), undefined],
      ['UPPER/case', undefined],
      ['', undefined],
    ];
    for (const [text, expected] of cases) {
      const ref = parseImageReference(text);
      assert.equal(ref === undefined ? undefined : referenceText(ref), expected, text);
    }
    assert.equal(parseImageReference('nginx')?.apiHost, 'registry-1.docker.io');
    assert.equal(parseImageReference('127.0.0.1:5000/app')?.apiHost, '127.0.0.1:5000');
  });

  it('sorts a container without a registry: pinned, local (no digest of its repository), or a tag to ask', () => {
    assert.equal((classify(`ghcr.io/o/app@${D}`, []) as { status: string }).status, 'pinned');
    assert.equal((classify('ghcr.io/o/app:v1', []) as { status: string }).status, 'local');
    assert.equal(
      (classify('ghcr.io/o/app:v1', [`ghcr.io/o/other@${D}`]) as { status: string }).status,
      'local',
    );
    assert.equal((classify(`sha256:${'c'.repeat(64)}`, []) as { status: string }).status, 'local');
    const asked = classify('ghcr.io/o/app:v1', [`ghcr.io/o/app@${D}`]);
    assert.ok('key' in asked);
    assert.equal(asked.key, 'ghcr.io/o/app:v1');
    assert.deepEqual(asked.current, [D]);
  });
});

describe('registry access', () => {
  it('reads a Bearer or Basic challenge', () => {
    assert.deepEqual(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      ),
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/nginx:pull',
        },
      },
    );
    assert.deepEqual(parseChallenge('Basic realm="dockgate-test"'), {
      scheme: 'basic',
      params: { realm: 'dockgate-test' },
    });
    assert.equal(parseChallenge('Negotiate abc'), undefined);
  });

  it("a docker config.json's auths, by registry host; credential helpers are not run", () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dockgate-dockercfg-')), 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hub:secret:with:colons').toString('base64') },
          '127.0.0.1:5000': { username: 'ci', password: 'pw' },
          'ghcr.io': {},
        },
        credsStore: 'desktop',
      }),
    );
    const auths = dockerConfigAuths(file);
    assert.deepEqual(auths.get('docker.io'), { username: 'hub', password: 'secret:with:colons' });
    assert.deepEqual(auths.get('127.0.0.1:5000'), { username: 'ci', password: 'pw' });
    assert.equal(auths.has('ghcr.io'), false);
    assert.equal(dockerConfigAuths(join(file, 'missing')).size, 0);
  });
});
