/**
 * CPU cost of one gate decision, in isolation (no sockets): `node --import tsx bench/gate-micro.ts`.
 * The policy benchmark measures the whole path; this says how much of a request's CPU budget
 * (~100–125 µs per /_ping here, bench/results/README.md) the decision itself takes.
 */
import pino from 'pino';
import { DockerClient } from '../src/client/index.js';
import type { GateRequest, Ruling } from '../src/gateway/gate.js';
import { Gatekeeper } from '../src/policy/gatekeeper.js';
import { compilePolicy } from '../src/policy/policy.js';

const policy = compilePolicy(
  {
    profiles: {},
    identities: {},
    listeners: {
      'tcp://127.0.0.1:1': { profile: 'full' },
      'tcp://127.0.0.1:2': { profile: 'read-only' },
      'tcp://127.0.0.1:3': { profile: 'deploy' },
    },
  },
  [],
  1,
);
const gate = new Gatekeeper(policy, {
  engine: new DockerClient({ engine: 'unix:///nonexistent.sock' }),
  log: pino({ level: 'silent' }),
});
const request = (listener: string, method: string, target: string, hasBody = false): GateRequest => ({
  id: 'x',
  method,
  target,
  authorization: [],
  hasBody,
  conn: { listener, remoteAddress: '127.0.0.1', certNames: [] },
});
const body = Buffer.from(
  '{"Image":"busybox","Cmd":["sh","-c","echo hi"],"HostConfig":{"NetworkMode":"none","Binds":["data:/data"],"CapAdd":["CHOWN"]},"Labels":{"a":"b"}}',
);

function settle(ruling: Ruling): void {
  if (ruling.kind === 'forward') ruling.done?.(200);
  else if (ruling.kind === 'body') settle(ruling.decide(body) as Ruling);
}

const cases: [string, GateRequest][] = [
  ['full, GET /_ping', request('tcp://127.0.0.1:1', 'GET', '/_ping')],
  [
    'full, GET /v1.41/containers/ID/json',
    request('tcp://127.0.0.1:1', 'GET', '/v1.41/containers/0123456789ab/json'),
  ],
  ['read-only, GET /_ping', request('tcp://127.0.0.1:2', 'GET', '/_ping')],
  [
    'read-only, GET /v1.41/containers/ID/json',
    request('tcp://127.0.0.1:2', 'GET', '/v1.41/containers/0123456789ab/json'),
  ],
  [
    'read-only, POST /v1.41/containers/create (denied)',
    request('tcp://127.0.0.1:2', 'POST', '/v1.41/containers/create', true),
  ],
  [
    'deploy, POST /v1.41/containers/create + body inspection',
    request('tcp://127.0.0.1:3', 'POST', '/v1.41/containers/create', true),
  ],
];
for (const [name, req] of cases) {
  for (let i = 0; i < 20_000; i++) settle(gate.check(req) as Ruling);
  const n = 200_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) settle(gate.check(req) as Ruling);
  const ns = Number(process.hrtime.bigint() - start) / n;
  process.stdout.write(`${name.padEnd(58)} ${(ns / 1000).toFixed(2)} µs\n`);
}
