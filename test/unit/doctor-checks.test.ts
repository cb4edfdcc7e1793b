import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { addToken } from '../../src/auth/tokens.js';
import {
  checkCertificate,
  checkNode,
  checkSocket,
  checkTokens,
  formatFinding,
} from '../../src/doctor/checks.js';
import { parseEngineUrl } from '../../src/engine/endpoint.js';
import { makeTestPki } from '../helpers/certs.js';

const me = { name: 'alice', uid: process.getuid?.() ?? 0 };

describe('dockgate doctor: checks', () => {
  it('Node: 20.18.1 and newer', () => {
    assert.equal(checkNode('20.18.1').level, 'ok');
    assert.equal(checkNode('22.0.0').level, 'ok');
    assert.equal(checkNode('20.18.0').level, 'error');
    assert.equal(checkNode('18.19.0').level, 'error');
  });

  it('the engine socket: missing, not a socket, writable by everyone — each says what to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-doctor-'));
    const missing = checkSocket(parseEngineUrl(`unix://${dir}/none.sock`), me);
    assert.equal(missing[0]?.level, 'error');
    assert.match(formatFinding(missing[0] as never), /does not exist → start the engine/);
    writeFileSync(join(dir, 'file'), '');
    assert.match(checkSocket(parseEngineUrl(`unix://${dir}/file`), me)[0]?.message ?? '', /is not a socket/);
    const server = createServer().listen(join(dir, 'open.sock'));
    await once(server, 'listening');
    try {
      chmodSync(join(dir, 'open.sock'), 0o666);
      const open = checkSocket(parseEngineUrl(`unix://${dir}/open.sock`), me);
      assert.deepEqual(
        open.map((f) => f.level),
        ['ok', 'error'],
      );
      assert.match(open[1]?.fix ?? '', /chmod 660/);
    } finally {
      server.close();
    }
    assert.equal(checkSocket(parseEngineUrl('tcp://127.0.0.1:2375'), me)[0]?.level, 'ok');
  });

  it('the token store: others may not read it; a malformed one is an error; a missing one is fine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-doctor-'));
    chmodSync(dir, 0o700);
    const file = join(dir, 'tokens.json');
    assert.equal(checkTokens(file, me)[0]?.level, 'ok');
    addToken(file, 'ci', 'deploy');
    assert.deepEqual(
      checkTokens(file, me).map((f) => f.level),
      ['ok'],
    );
    chmodSync(file, 0o644);
    const shared = checkTokens(file, me);
    assert.equal(shared[0]?.level, 'error');
    assert.equal(shared[0]?.fix, `chmod 600 ${file}`);
    chmodSync(file, 0o600);
    assert.equal(checkTokens(file, { name: 'bob', uid: me.uid + 1 })[0]?.level, 'warn', 'another owner');
    writeFileSync(file, '{ not json', { mode: 0o600 });
    assert.ok(checkTokens(file, me).some((f) => f.level === 'error'));
    chmodSync(dir, 0o777);
    assert.ok(checkTokens(file, me).some((f) => f.fix === `chmod go-w ${dir}`));
  });

  it('a certificate: valid, about to expire, expired', () => {
    const pki = makeTestPki();
    // The test certificates are valid for 2 days: "about to expire" an hour after they start, fine
    // seen from 60 days earlier. Times are the certificate's own, never the day the test runs.
    const from = Date.parse(new X509Certificate(readFileSync(pki.serverCert)).validFrom);
    assert.equal(checkCertificate(pki.serverCert, from + 3_600_000).level, 'warn');
    assert.match(checkCertificate(pki.serverCert, from + 3_600_000).message, /expires in 1 days/);
    assert.equal(checkCertificate(pki.serverCert, from - 60 * 86_400_000).level, 'ok');
    assert.equal(checkCertificate(pki.serverCert, from + 100 * 365 * 86_400_000).level, 'error');
    assert.equal(checkCertificate(pki.serverCert).level, 'warn', 'by default: the system clock');
    const unreadable = checkCertificate('/nonexistent.pem');
    assert.equal(unreadable.level, 'error');
  });
});
