import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fairShare, type LeaseView } from '../../src/monitor/cluster/fair-share.js';

const engines = Array.from({ length: 10 }, (_, i) => `e${i}`);

/** Rounds of every live monitor deciding in turn until nothing changes: who owns what. */
function settle(instances: string[], start: Map<string, string | null>): Map<string, string | null> {
  const owners = new Map(start);
  for (let round = 0; round < 20; round++) {
    let changed = false;
    for (const self of instances) {
      const leases: LeaseView[] = engines.map((e) => ({
        engine: e,
        owner: owners.get(e) ?? null,
        live: owners.get(e) != null && instances.includes(owners.get(e) as string),
      }));
      const { acquire, release } = fairShare(self, instances, engines, leases);
      for (const e of release) {
        owners.set(e, null);
        changed = true;
      }
      for (const e of acquire)
        if (owners.get(e) == null || !instances.includes(owners.get(e) as string)) {
          owners.set(e, self);
          changed = true;
        }
    }
    if (!changed) break;
  }
  return owners;
}

const count = (owners: Map<string, string | null>, who: string): number =>
  [...owners.values()].filter((o) => o === who).length;

describe('fair share of engines between monitors', () => {
  it('10 engines on 2 monitors split 5/5, go 10/0 when one dies, come back to 5/5', () => {
    let owners = settle(['a', 'b'], new Map());
    assert.deepEqual([count(owners, 'a'), count(owners, 'b')], [5, 5]);
    owners = settle(['a'], owners);
    assert.equal(count(owners, 'a'), 10);
    owners = settle(['a', 'b'], owners);
    assert.deepEqual([count(owners, 'a'), count(owners, 'b')], [5, 5]);
  });

  it('3 monitors: at most ⌈10/3⌉ = 4 each, every engine owned', () => {
    const owners = settle(['a', 'b', 'c'], new Map());
    for (const who of ['a', 'b', 'c']) assert.ok(count(owners, who) <= 4);
    assert.equal([...owners.values()].filter((o) => o !== null).length, 10);
  });

  it('a lone monitor takes every engine; an expired lease counts as free', () => {
    const leases: LeaseView[] = engines.map((e) => ({ engine: e, owner: 'gone', live: false }));
    assert.equal(fairShare('a', ['a'], engines, leases).acquire.length, 10);
  });
});
