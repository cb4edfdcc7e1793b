import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultEngineEndpoint, parseEngineUrl } from '../../src/engine/endpoint.js';
import { isDockgateError } from '../../src/errors.js';

describe('parseEngineUrl', () => {
  it('reads unix sockets', () => {
    assert.deepEqual(parseEngineUrl('unix:///var/run/docker.sock'), {
      kind: 'unix',
      url: 'unix:///var/run/docker.sock',
      path: '/var/run/docker.sock',
    });
  });

  it('reads Windows named pipes with either slash', () => {
    const pipe = parseEngineUrl('npipe:////./pipe/docker_engine');
    assert.equal(pipe.kind, 'npipe');
    assert.equal(pipe.kind === 'npipe' && pipe.path, '\\\\.\\pipe\\docker_engine');
  });

  it('reads tcp with default ports, IPv6 and a base path', () => {
    const plain = parseEngineUrl('tcp://127.0.0.1', {});
    assert.equal(plain.kind === 'tcp' && plain.port, 2375);
    const v6 = parseEngineUrl('tcp://[::1]:2380/prefix/', {});
    assert.equal(v6.kind === 'tcp' && v6.host, '::1');
    assert.equal(v6.kind === 'tcp' && v6.basePath, '/prefix');
    assert.equal(v6.url, 'tcp://[::1]:2380/prefix');
  });

  it('turns on TLS for tcp:// with DOCKER_TLS_VERIFY and reads DOCKER_CERT_PATH', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-certs-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    writeFileSync(join(dir, 'cert.pem'), 'CERT');
    writeFileSync(join(dir, 'key.pem'), 'KEY');
    const endpoint = parseEngineUrl('tcp://engine.example:2376', {
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: dir,
    });
    assert.equal(endpoint.kind, 'tcp');
    if (endpoint.kind !== 'tcp') return;
    assert.equal(endpoint.tls?.verify, true);
    assert.equal(endpoint.tls?.ca?.toString(), 'CA');
    assert.equal(endpoint.tls?.cert?.toString(), 'CERT');
    assert.equal(endpoint.url, 'https://engine.example:2376');
  });

  it('rejects a cert without its key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-certs-'));
    writeFileSync(join(dir, 'cert.pem'), 'CERT');
    assert.throws(
      () => parseEngineUrl('https://h', { DOCKER_CERT_PATH: dir }),
      (error) => isDockgateError(error, 'DG_TLS_MATERIAL'),
    );
  });

  for (const bad of [
    'unix://relative.sock',
    'ftp://host',
    'tcp://',
    'npipe://pipe',
    'tcp://u:p@host:1',
    'nonsense',
  ]) {
    it(`rejects ${JSON.stringify(bad)} with DG_CONFIG_INVALID`, () => {
      assert.throws(
        () => parseEngineUrl(bad, {}),
        (error) => isDockgateError(error, 'DG_CONFIG_INVALID'),
      );
    });
  }
});

describe('defaultEngineEndpoint', () => {
  const base = { env: {}, platform: 'linux' as const, home: '/home/u', exists: () => false };

  it('prefers DOCKER_HOST', () => {
    assert.equal(
      defaultEngineEndpoint({ ...base, env: { DOCKER_HOST: 'tcp://127.0.0.1:2999' } }).url,
      'tcp://127.0.0.1:2999',
    );
  });

  it('falls back to Docker Desktop’s socket when /var/run/docker.sock is missing', () => {
    const found = defaultEngineEndpoint({
      ...base,
      exists: (path) => path === '/home/u/.docker/run/docker.sock',
    });
    assert.equal(found.url, 'unix:///home/u/.docker/run/docker.sock');
  });

  it('uses the docker_engine named pipe on Windows', () => {
    assert.equal(defaultEngineEndpoint({ ...base, platform: 'win32' }).kind, 'npipe');
  });

  it('names the standard socket when nothing is found', () => {
    assert.equal(defaultEngineEndpoint(base).url, 'unix:///var/run/docker.sock');
  });
});
