import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { decide, decideTarget, decideVolume } from '../../src/policy/decide.js';
import { type GoObject, parseGoJson } from '../../src/policy/go-json.js';
import type { ContainerFacts } from '../../src/policy/host-escapes.js';
import { compilePolicy } from '../../src/policy/policy.js';
import { presetProfiles } from '../../src/policy/presets.js';
import { BUILTIN_NAMES } from '../../src/policy/profile.js';
import type { TargetFacts } from '../../src/policy/references.js';
import { tecnativaProfile } from '../../src/policy/tecnativa.js';

/**
 * Golden decision tables (test/golden/PROFILE.yaml): for every built-in profile and preset,
 * rows of [METHOD, TARGET, RESULT, optional body, optional target container], decided as the
 * gateway decides them (head, then body, then the containers the request reaches into).
 *
 * RESULT is "allow" or "deny STATUS"; an allowed request that reaches into existing containers
 * lists them: "allow [exec create → web]". The fifth column is what the engine would say of that
 * container (its inspect answer's HostConfig and Mounts, `Volumes`: the named volumes it mounts,
 * and `info`: the engine's defaults), or of the named volume a create body mounts (`Volume`: its
 * driver and options, issue 22); with it, the target stage decides too (issue 10). Volume checks
 * read "→ volume NAME"; start and restart, which judge only named volumes, "→ NAME (volumes)".
 */
const dir = new URL('../golden/', import.meta.url);
/** Tables of profiles built from docker-socket-proxy's variables (--tecnativa-env), by their env. */
const TECNATIVA: Readonly<Record<string, Record<string, string>>> = {
  'tecnativa-containers': { CONTAINERS: '1', POST: '0' },
  'tecnativa-containers-post': { CONTAINERS: '1', POST: '1' },
};
const tecnativa = Object.fromEntries(
  Object.entries(TECNATIVA).map(([name, env]) => [name, tecnativaProfile(env).profile]),
);
const policy = compilePolicy(
  { profiles: { ...presetProfiles(), ...tecnativa }, identities: {}, listeners: {} },
  [],
  1,
);

interface VolumeInspect {
  readonly Driver?: string;
  readonly Options?: Record<string, string> | null;
}

interface TargetContainer {
  readonly HostConfig?: unknown;
  readonly Mounts?: ContainerFacts['mounts'];
  readonly Volumes?: Readonly<Record<string, VolumeInspect>>;
  /** Named volumes its create could not check (the `dockgate.unchecked-volumes` label). */
  readonly Unchecked?: readonly string[];
  readonly Volume?: VolumeInspect;
  readonly info?: { readonly DefaultRuntime?: string; readonly CgroupVersion?: string };
}

type Row = [string, string, string, unknown?, TargetContainer?];

function decideRow(profileName: string, [method, target, , body, container]: Row): string {
  const profile = policy.profiles.get(profileName);
  assert.ok(profile, `profile ${profileName}`);
  const raw =
    body === undefined || body === null
      ? undefined
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const { decision, outcome } = decide(profile, method, target, raw, 'golden');
  if (!decision.allow) return `deny ${decision.status}`;
  const checks = outcome?.kind === 'allow' ? outcome.effects.targetChecks : [];
  if (checks.length === 0) return 'allow';
  if (container !== undefined) {
    for (const check of checks) {
      const denial =
        check.kind === 'volume'
          ? container.Volume === undefined
            ? undefined
            : decideVolume(profile, check, { name: check.ref, ...volumeOf(container.Volume) })
          : decideTarget(profile, check, factsOf(container));
      if (denial !== undefined) return `deny ${denial.status}`;
    }
  }
  const shown = (c: (typeof checks)[number]): string =>
    c.kind === 'volume'
      ? `${c.via} → volume ${c.ref}`
      : c.only === 'bound-volumes'
        ? `${c.via} → ${c.ref} (volumes)`
        : `${c.via} → ${c.ref}`;
  return `allow [${checks.map(shown).join(', ')}]`;
}

function volumeOf(volume: VolumeInspect): { driver: string; options: GoObject | null } {
  return {
    driver: volume.Driver ?? 'local',
    options:
      volume.Options === undefined || volume.Options === null
        ? null
        : (parseGoJson(JSON.stringify(volume.Options)) as GoObject),
  };
}

/** The facts the gateway reads from the engine, from a row's fifth column. */
function factsOf(container: TargetContainer): TargetFacts {
  return {
    id: 'f'.repeat(64),
    name: 'target',
    container: {
      hostConfig: parseGoJson(JSON.stringify(container.HostConfig ?? {})) as GoObject,
      mounts: container.Mounts ?? [],
      volumes: new Map(Object.entries(container.Volumes ?? {}).map(([name, v]) => [name, volumeOf(v)])),
      defaults: {
        runtime: container.info?.DefaultRuntime ?? 'runc',
        cgroupVersion: container.info?.CgroupVersion ?? '1',
      },
      uncheckedVolumes: container.Unchecked ?? [],
    },
  };
}

describe('golden decision tables', () => {
  const tables = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('every built-in profile and preset has a table', () => {
    const names = tables.map((f) => f.slice(0, -5)).sort();
    assert.deepEqual(
      names,
      [...BUILTIN_NAMES, ...Object.keys(presetProfiles()), ...Object.keys(TECNATIVA)].sort(),
    );
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
