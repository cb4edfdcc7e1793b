import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Files of a throwaway PKI, laid out as DOCKER_CERT_PATH expects (ca.pem, cert.pem, key.pem). */
export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A directory holding ca.pem, cert.pem and key.pem of a client certificate. */
  readonly clientDir: string;
}

/** Generates a CA, a server certificate for 127.0.0.1/::1/localhost and a client one, with openssl. */
export function makeTestPki(clientName = 'ci-runner'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-pki-'));
  const clientDir = mkdtempSync(join(dir, 'client-'));
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=dockgate test CA',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
  );
  const issue = (name: string, subject: string, extensions: string): void => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      `${name}-key.pem`,
      '-out',
      `${name}.csr`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  };
  issue(
    'server',
    '/CN=localhost',
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  issue('client', `/CN=${clientName}`, 'extendedKeyUsage=clientAuth\n');
  execFileSync('cp', [join(dir, 'ca.pem'), join(clientDir, 'ca.pem')]);
  execFileSync('cp', [join(dir, 'client.pem'), join(clientDir, 'cert.pem')]);
  execFileSync('cp', [join(dir, 'client-key.pem'), join(clientDir, 'key.pem')]);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    clientDir,
  };
}
