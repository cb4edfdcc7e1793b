import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import type { DockerClient } from '../../src/client/index.js';
import { DockgateError } from '../../src/errors.js';

export const TEST_IMAGE = 'dockgate-test/busybox:1';
const LABEL = 'dockgate.test.rootfs';
/** Bump when the layout below changes, so cached tarballs and images are rebuilt. */
const LAYOUT_VERSION = '1';
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/**
 * Builds the test image with no registry: a rootfs made of Debian's static busybox (one symlink
 * per applet, /tmp 1777, /etc/passwd, /etc/group), imported with `POST /images/create?fromSrc=-`.
 * The tarball is cached by content under `.cache/`; the import is skipped when the engine already
 * has an image with the same content label.
 */
export async function ensureTestImage(client: DockerClient, cacheDir: string): Promise<string> {
  const busybox = findStaticBusybox();
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((name) => name !== '' && name !== 'busybox');
  const hash = createHash('sha256')
    .update(LAYOUT_VERSION)
    .update(readFileSync(busybox))
    .update(applets.join(','))
    .digest('hex')
    .slice(0, 16);

  const existing = await client.request('GET', `/images/${TEST_IMAGE}/json`);
  if (existing.status === 200) {
    const chunks: Buffer[] = [];
    for await (const chunk of existing.body) chunks.push(chunk);
    const inspect = JSON.parse(Buffer.concat(chunks).toString()) as {
      Config?: { Labels?: Record<string, string> };
    };
    if (inspect.Config?.Labels?.[LABEL] === hash) return TEST_IMAGE;
  } else {
    existing.body.resume();
  }

  mkdirSync(cacheDir, { recursive: true });
  const tarball = join(cacheDir, `busybox-rootfs-${hash}.tar`);
  if (!existsSync(tarball)) await writeRootfs(busybox, applets, tarball);

  const [repo, tag] = TEST_IMAGE.split(':') as [string, string];
  const response = await client.request('POST', '/images/create', {
    query: { fromSrc: '-', repo, tag, changes: `LABEL ${LABEL}=${hash}` },
    headers: { 'content-type': 'application/x-tar' },
    body: createReadStream(tarball),
  });
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString();
  if (response.status !== 200 || text.includes('"error"')) {
    throw new DockgateError(
      'DG_TEST_ENGINE',
      `importing the test image failed (${response.status}): ${text}`,
    );
  }
  return TEST_IMAGE;
}

function findStaticBusybox(): string {
  for (const file of BUSYBOX_CANDIDATES) {
    if (existsSync(file) && isStaticElf(readFileSync(file))) return file;
  }
  throw new DockgateError(
    'DG_TEST_ENGINE',
    "a static busybox is needed to build the test image: install Debian's busybox-static (apt-get install -y busybox-static)",
  );
}

/** True for a 64-bit little-endian ELF with no PT_INTERP program header (no dynamic loader). */
export function isStaticElf(binary: Buffer): boolean {
  if (binary.length < 64 || binary.readUInt32BE(0) !== 0x7f454c46 || binary[4] !== 2 || binary[5] !== 1)
    return false;
  const phoff = Number(binary.readBigUInt64LE(0x20));
  const phentsize = binary.readUInt16LE(0x36);
  const phnum = binary.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const offset = phoff + i * phentsize;
    if (offset + 4 > binary.length) return false;
    if (binary.readUInt32LE(offset) === 3 /* PT_INTERP */) return false;
  }
  return true;
}

async function writeRootfs(busybox: string, applets: string[], tarball: string): Promise<void> {
  const tar = pack();
  const mtime = new Date(0);
  const done = pipeline(tar, createWriteStream(`${tarball}.part`));
  const dir = (name: string, mode = 0o755): void => {
    tar.entry({ name, type: 'directory', mode, mtime });
  };
  const file = (name: string, content: string | Buffer, mode = 0o644): void => {
    tar.entry({ name, mode, mtime }, content);
  };
  for (const name of ['bin', 'etc', 'root', 'proc', 'sys', 'dev', 'var', 'home']) dir(name);
  dir('tmp', 0o1777);
  file('bin/busybox', readFileSync(busybox), 0o755);
  for (const applet of applets) {
    if (applet.includes('/')) continue;
    tar.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777, mtime });
  }
  file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
  file('etc/group', 'root:x:0:\nnogroup:x:65534:\n');
  tar.finalize();
  await done;
  if (statSync(`${tarball}.part`).size === 0)
    throw new DockgateError('DG_TEST_ENGINE', 'empty rootfs tarball');
  renameSync(`${tarball}.part`, tarball);
}
