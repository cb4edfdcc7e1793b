import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { decide } from '../../src/policy/decide.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { presetProfiles } from '../../src/policy/presets.js';
import { BUILTIN_NAMES } from '../../src/policy/profile.js';

/**
 * Golden decision tables (test/golden/PROFILE.yaml): for every built-in profile and preset,
 * rows of [METHOD, TARGET, "allow" | "deny STATUS", optional body], decided as the gateway
 * decides them (head, then body).
 */
const dir = new URL('../golden/', import.meta.url);
const policy = compilePolicy({ profiles: presetProfiles(), identities: {}, listeners: {} }, [], 1);

type Row = [string, string, string, unknown?];

function decideRow(profileName: string, [method, target, , body]: Row): string {
  const profile = policy.profiles.get(profileName);
  assert.ok(profile, `profile ${profileName}`);
  const raw =
    body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const { decision } = decide(profile, method, target, raw, 'golden');
  return decision.allow ? 'allow' : `deny ${decision.status}`;
}

describe('golden decision tables', () => {
  const tables = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('every built-in profile and preset has a table', () => {
    const names = tables.map((f) => f.slice(0, -5)).sort();
    assert.deepEqual(names, [...BUILTIN_NAMES, ...Object.keys(presetProfiles())].sort());
  });

  for (const file of tables) {
    const profile = file.slice(0, -5);
    const rows = parse(readFileSync(new URL(file, dir), 'utf8')) as Row[];
    describe(profile, () => {
      for (const row of rows) {
        const label = `${row[0]} ${row[1]}${row[3] === undefined ? '' : ` ${typeof row[3] === 'string' ? row[3] : JSON.stringify(row[3])}`} → ${row[2]}`;
        it(label, () => {
          assert.equal(decideRow(profile, row), row[2]);
        });
      }
    });
  }
});
