import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { generate, OUTPUT } from '../../scripts/gen-engine-types.js';
import { resolveEngine } from '../../src/client/connection.js';
import { registryAuthHeader, registryConfigHeader } from '../../src/client/registry-auth.js';
import { demux, jsonLines, progress } from '../../src/client/streams.js';
import { minVersion, queryString } from '../../src/client/transport.js';

describe('client: finding the engine', () => {
  const home = mkdtempSync(join(tmpdir(), 'client-home-'));
  const docker = join(home, '.docker');
  const context = (name: string, host: string): void => {
    const id = createHash('sha256').update(name).digest('hex');
    mkdirSync(join(docker, 'contexts', 'meta', id), { recursive: true });
    writeFileSync(
      join(docker, 'contexts', 'meta', id, 'meta.json'),
      JSON.stringify({ Name: name, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }),
    );
  };
  mkdirSync(docker, { recursive: true });
  context('remote', 'tcp://10.9.8.7:2375');
  context('other', 'unix:///run/other.sock');
  writeFileSync(join(docker, 'config.json'), JSON.stringify({ currentContext: 'remote' }));

  it('options first, then DOCKER_HOST, then the current context, then the default', () => {
    assert.equal(
      resolveEngine({ url: 'unix:///a.sock' }, { DOCKER_HOST: 'unix:///b.sock' }, home).endpoint.url,
      'unix:///a.sock',
    );
    assert.equal(resolveEngine({ socketPath: '/c.sock' }, {}, home).endpoint.url, 'unix:///c.sock');
    assert.equal(resolveEngine({}, { DOCKER_HOST: 'unix:///b.sock' }, home).source, 'DOCKER_HOST');
    const fromContext = resolveEngine({}, {}, home);
    assert.equal(fromContext.source, 'context remote');
    assert.equal(fromContext.endpoint.url, 'tcp://10.9.8.7:2375');
    assert.equal(resolveEngine({}, { DOCKER_CONTEXT: 'other' }, home).endpoint.url, 'unix:///run/other.sock');
    assert.equal(resolveEngine({}, { DOCKER_CONTEXT: 'default' }, home).source, 'default');
    assert.throws(
      () => resolveEngine({}, { DOCKER_CONTEXT: 'missing' }, home),
      /docker context "missing" not found/,
    );
  });

  it('named pipes by socket path', () => {
    assert.equal(
      resolveEngine({ socketPath: '\\\\.\\pipe\\docker_engine' }, {}, home).endpoint.kind,
      'npipe',
    );
  });
});

describe('client: wire details', () => {
  it("X-Registry-Auth and X-Registry-Config use Go's base64.URLEncoding: URL alphabet, padded", () => {
    const auth = { username: 'u', password: '>>>???~~~', serveraddress: 'r.lan' };
    const header = registryAuthHeader(auth)['X-Registry-Auth'] as string;
    assert.doesNotMatch(header, /[+/]/);
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), auth);
    assert.match(
      registryConfigHeader({ 'r.lan': auth })['X-Registry-Config'] as string,
      /^[A-Za-z0-9_-]+=*$/,
    );
    assert.deepEqual(registryAuthHeader(undefined), {});
  });

  it('registry_auth_padding_regression: a header whose JSON is not a multiple of 3 bytes keeps its "="', () => {
    // Unpadded, dockerd 20.10 lost the JSON's last bytes and pushed with no credentials.
    for (const password of ['a', 'ab', 'abc']) {
      const auth = { username: 'ci', password, serveraddress: '127.0.0.1:5000' };
      const header = registryAuthHeader(auth)['X-Registry-Auth'] as string;
      assert.equal(header.length % 4, 0, header);
      assert.match(header, /^[A-Za-z0-9_-]+={0,2}$/);
      assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), auth);
    }
  });

  it('query strings: arrays repeat, objects (filters) are JSON, undefined is left out', () => {
    assert.equal(
      queryString({ all: true, filters: { label: ['a=b'] }, names: ['x', 'y'], skip: undefined }),
      '?all=true&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&names=x&names=y',
    );
  });

  it('negotiation takes the lower version', () => {
    assert.equal(minVersion('1.55', '1.41'), '1.41');
    assert.equal(minVersion('1.41', '1.55'), '1.41');
    assert.equal(minVersion('1.9', '1.10'), '1.9');
  });

  it('demux splits frames across reads and raises frame type 3', async () => {
    const frame = (type: number, text: string): Buffer => {
      const head = Buffer.alloc(8);
      head[0] = type;
      head.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([head, Buffer.from(text)]);
    };
    const bytes = Buffer.concat([frame(1, 'out'), frame(2, 'err')]);
    const frames = [];
    for await (const f of demux(
      Readable.from([bytes.subarray(0, 5), bytes.subarray(5, 13), bytes.subarray(13)]),
    ))
      frames.push([f.stream, f.data.toString()]);
    assert.deepEqual(frames, [
      ['stdout', 'out'],
      ['stderr', 'err'],
    ]);
    await assert.rejects(async () => {
      for await (const _ of demux(Readable.from([frame(3, 'boom')]))) {
        // raises
      }
    }, /engine error in the stream: boom/);
  });

  it('JSON lines across reads; progress throws on errorDetail', async () => {
    const values = [];
    for await (const v of jsonLines(Readable.from([Buffer.from('{"a":1}\n{"a"'), Buffer.from(':2}\r\n\n')])))
      values.push(v);
    assert.deepEqual(values, [{ a: 1 }, { a: 2 }]);
    const stream = Readable.from([
      Buffer.from('{"status":"Pulling"}\n{"errorDetail":{"message":"denied"},"error":"denied"}\n'),
    ]);
    const seen: string[] = [];
    await assert.rejects(
      async () => {
        for await (const m of progress(stream)) seen.push(m.status ?? '');
      },
      { name: 'ProgressError', message: 'denied' },
    );
    assert.deepEqual(seen, ['Pulling']);
  });
});

describe('client: generated types', () => {
  it('src/client/generated/engine-api.ts is what the spec and the patches give (regenerated here)', async () => {
    assert.equal(await generate(), readFileSync(OUTPUT, 'utf8'), 'stale: run npm run gen:types');
  });
});
