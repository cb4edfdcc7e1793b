import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServeConfig, type RawServeOptions, SERVE_DEFAULTS } from '../../src/config/serve-config.js';
import { isDockgateError } from '../../src/errors.js';
import { isLoopback, parseListenAddress } from '../../src/gateway/listen-address.js';
import { makeTestPki } from '../helpers/certs.js';

const base: RawServeOptions = {
  listen: [...SERVE_DEFAULTS.listen],
  upstream: 'unix:///var/run/docker.sock',
  profile: 'full',
  tokens: '/nonexistent/dockgate-test-tokens.json',
  socketMode: SERVE_DEFAULTS.socketMode,
  shutdownGrace: SERVE_DEFAULTS.shutdownGrace,
  maxHeaderSize: SERVE_DEFAULTS.maxHeaderSize,
  logLevel: 'info',
  insecure: false,
};
const invalid = (options: Partial<RawServeOptions>, pattern: RegExp): void => {
  assert.throws(
    () => loadServeConfig({ ...base, ...options }),
    (error) => isDockgateError(error, 'DG_CONFIG_INVALID') && pattern.test(error.message),
  );
};

describe('parseListenAddress', () => {
  it('reads tcp, tls, IPv6 and unix listeners', () => {
    assert.deepEqual(parseListenAddress('tcp://127.0.0.1:2375'), {
      kind: 'tcp',
      url: 'tcp://127.0.0.1:2375',
      host: '127.0.0.1',
      port: 2375,
    });
    assert.equal(parseListenAddress('tls://[::1]:2376').url, 'tls://[::1]:2376');
    assert.equal(parseListenAddress('tcp://localhost:1').url, 'tcp://127.0.0.1:1');
    assert.deepEqual(parseListenAddress('unix:///run/dockgate.sock'), {
      kind: 'unix',
      url: 'unix:///run/dockgate.sock',
      path: '/run/dockgate.sock',
    });
  });

  for (const bad of [
    'tcp://example.com:2375',
    'tcp://127.0.0.1',
    'http://127.0.0.1:1',
    'unix://rel.sock',
    'tcp://1.2.3.4:70000',
  ]) {
    it(`refuses ${bad}`, () => {
      assert.throws(
        () => parseListenAddress(bad),
        (error) => isDockgateError(error, 'DG_CONFIG_INVALID'),
      );
    });
  }

  it('knows loopback', () => {
    assert.equal(isLoopback(parseListenAddress('tcp://127.0.0.2:1')), true);
    assert.equal(isLoopback(parseListenAddress('tcp://[::1]:1')), true);
    assert.equal(isLoopback(parseListenAddress('tcp://0.0.0.0:1')), false);
  });
});

describe('loadServeConfig', () => {
  it('applies the defaults', () => {
    const config = loadServeConfig(base);
    assert.equal(config.listen[0]?.url, 'tcp://127.0.0.1:2375');
    assert.equal(config.socketMode, 0o660);
    assert.equal(config.shutdownGraceMs, 10_000);
    assert.equal(config.maxHeaderBytes, 65_536);
  });

  it('protected mode: refuses more than read-only for unauthenticated callers on a non-loopback listener', () => {
    for (const profile of ['full', 'deploy', 'manage', 'portainer', 'watchtower', 'autoheal']) {
      invalid({ listen: ['tcp://0.0.0.0:2375'], profile }, /--insecure/);
    }
    invalid(
      { listen: ['tcp://[::]:2375'], profile: 'deploy' },
      /would give anyone who can reach it the "deploy" profile .*dockgate token add/,
    );
    for (const profile of ['read-only', 'traefik', 'homepage', 'dozzle', 'uptime-kuma']) {
      assert.equal(
        loadServeConfig({ ...base, listen: ['tcp://0.0.0.0:2375'], profile }).listen.length,
        1,
        profile,
      );
    }
    assert.equal(
      loadServeConfig({ ...base, listen: ['tcp://0.0.0.0:2375'], insecure: true }).listen.length,
      1,
    );
  });

  it('protected mode: a tls:// listener that requires client certificates may serve more', () => {
    const pki = makeTestPki();
    const config = loadServeConfig({
      ...base,
      listen: ['tls://0.0.0.0:2376'],
      profile: 'deploy',
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      tlsClientCa: pki.ca,
    });
    assert.equal(config.policy.listeners.get('tls://0.0.0.0:2376')?.profile.name, 'deploy');
    invalid(
      { listen: ['tls://0.0.0.0:2376'], profile: 'deploy', tlsCert: pki.serverCert, tlsKey: pki.serverKey },
      /--insecure/,
    );
  });

  it('the default profile is read-only', () => {
    const { profile: _, ...rest } = base;
    const config = loadServeConfig({ ...rest, profile: SERVE_DEFAULTS.profile });
    assert.equal(config.policy.listeners.get('tcp://127.0.0.1:2375')?.profile.name, 'read-only');
  });

  it('fails loudly on bad values instead of falling back to defaults', () => {
    invalid({ socketMode: '999' }, /octal/);
    invalid({ shutdownGrace: 'soon' }, /seconds/);
    invalid({ maxHeaderSize: '12' }, /max-header-size/);
    invalid({ logLevel: 'loud' }, /log-level/);
    invalid({ profile: 'root' }, /unknown profile "root"/);
    invalid({ profile: 'Root!' }, /profile name/);
    invalid({ admin: 'tcp://0.0.0.0:9375' }, /must be on loopback/);
    invalid({ auditMaxSize: 'big' }, /audit-max-size/);
    invalid({ auditFile: '/tmp/audit.log', workers: '2' }, /--audit-file needs --workers 1/);
    invalid({ learn: '/tmp/learned.yaml', workers: '2' }, /--learn needs --workers 1/);
    invalid({ listen: ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:1'] }, /twice/);
  });

  it('asks for a certificate and key on tls:// and refuses them without it', () => {
    invalid({ listen: ['tls://127.0.0.1:2376'] }, /--tls-cert/);
    invalid({ tlsCert: '/x' }, /tls:\/\/ listener/);
  });
});
