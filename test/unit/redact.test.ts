import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactEnv } from '../../src/policy/redact.js';

const redact = (value: unknown): unknown =>
  JSON.parse(redactEnv(Buffer.from(JSON.stringify(value))).toString());

describe('redactEnv: Config.Env values out of inspect answers', () => {
  it('keeps names, replaces values, leaves everything else byte for byte', () => {
    const answer = {
      Id: 'abc',
      Name: '/x',
      HostConfig: { Binds: null, Env: ['NOT=config'] },
      Config: {
        Hostname: 'h',
        Env: ['PATH=/usr/bin', 'DB_PASSWORD=hunter2', 'EMPTY=', 'NOVALUE', 'A=b=c'],
        Labels: { Env: '[x]' },
      },
      Mounts: [],
    };
    assert.deepEqual(redact(answer), {
      ...answer,
      Config: {
        ...answer.Config,
        Env: ['PATH=<redacted>', 'DB_PASSWORD=<redacted>', 'EMPTY=<redacted>', 'NOVALUE', 'A=<redacted>'],
      },
    });
  });

  it('is not fooled by keys, quotes, brackets and escapes inside strings before Config', () => {
    const answer = {
      Labels: { '"Config":{"Env":["X=1"]}': 'a]}"\\', tricky: '\\"Env\\":[' },
      Path: 'sh',
      Args: ['-c', '"}{]['],
      Config: { Env: ['SECRET=\\"quoted\\"=x', 'UNICODE=é😀'], Cmd: ['"Env"'] },
    };
    const out = redact(answer) as typeof answer;
    assert.deepEqual(out.Config.Env, ['SECRET=<redacted>', 'UNICODE=<redacted>']);
    assert.deepEqual(out.Labels, answer.Labels);
    assert.deepEqual(out.Args, answer.Args);
    assert.deepEqual(out.Config.Cmd, answer.Config.Cmd);
  });

  it('answers without Config.Env, and non-JSON answers, pass unchanged', () => {
    for (const text of ['{"Config":{"Env":null}}', '{"Config":null}', '{"Id":"x"}', 'not json', '[]']) {
      assert.equal(redactEnv(Buffer.from(text)).toString(), text);
    }
  });

  it('matches the general parse on a real-shaped answer with whitespace', () => {
    const text = '{\n  "Config" : {\n    "Env" : [ "A=1" , "B" ]\n  }\n}';
    assert.deepEqual(JSON.parse(redactEnv(Buffer.from(text)).toString()), {
      Config: { Env: ['A=<redacted>', 'B'] },
    });
  });
});
