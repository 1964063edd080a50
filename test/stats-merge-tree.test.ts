// The statistics stage's merge tree and plan grouping, as pure functions: the FeatureStats
// workflow derives every summary key from them when it continues as new mid-tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeChildren, mergeLevelSizes, mergeNodeKey, partialSummaryKey } from '../core/stats/merge-tree.js';
import { groupPartKeys, groupParts, groupsPerPlanPage, STATS_GROUPS_PER_PAGE } from '../core/stats/stats-plan.js';
import { RunLayout } from '../core/storage/run-layout.js';

const P = 'runs/r/stats/t/partials/';

test('level sizes shrink by the fan-in down to one root', () => {
  assert.deepEqual(mergeLevelSizes(6, 2), [6, 3, 2, 1]);
  assert.deepEqual(mergeLevelSizes(1, 16), [1]);
  assert.deepEqual(mergeLevelSizes(16, 16), [16, 1]);
  assert.deepEqual(mergeLevelSizes(17, 16), [17, 2, 1]);
  // 100,000 parts in groups of 8, merged 16 at a time: 830 merge activities at most.
  const sizes = mergeLevelSizes(12_500, 16);
  assert.deepEqual(sizes, [12_500, 782, 49, 4, 1]);
  assert.throws(() => mergeLevelSizes(0, 2), /leaves must be a positive integer, got 0/);
  assert.throws(() => mergeLevelSizes(4, 1), /fanIn must be an integer ≥ 2, got 1/);
});

test('children cover each level exactly once, and a lone child stands in for its parent', () => {
  for (const [leaves, fanIn] of [[6, 2], [17, 16], [100, 3], [1, 4]] as const) {
    const sizes = mergeLevelSizes(leaves, fanIn);
    for (let level = 1; level < sizes.length; level++) {
      const all = Array.from({ length: sizes[level] }, (_, i) => mergeChildren(sizes, fanIn, level, i)).flat();
      assert.deepEqual(all, Array.from({ length: sizes[level - 1] }, (_, i) => i), `${leaves}/${fanIn} level ${level}`);
    }
  }
  const sizes = mergeLevelSizes(6, 2);
  // 6 → 3 → 2 → 1: node (2, 1) has the single child (1, 2), which is written.
  assert.deepEqual(mergeChildren(sizes, 2, 2, 1), [2]);
  assert.equal(mergeNodeKey(P, sizes, 2, 2, 1), partialSummaryKey(P, 1, 2));
  assert.equal(mergeNodeKey(P, sizes, 2, 3, 0), partialSummaryKey(P, 3, 0));
  assert.equal(mergeNodeKey(P, sizes, 2, 0, 5), `${P}level-00/summary-000005.bin`);
  // A chain of lone children falls through several levels: 17 leaves, fan-in 16 → node (1, 1) is leaf 16.
  const s17 = mergeLevelSizes(17, 16);
  assert.equal(mergeNodeKey(P, s17, 16, 1, 1), partialSummaryKey(P, 0, 16));
  // One group: the root is the leaf itself.
  assert.equal(mergeNodeKey(P, mergeLevelSizes(1, 16), 16, 0, 0), partialSummaryKey(P, 0, 0));
});

test('RunLayout names the partials with the same function the workflow uses', () => {
  const layout = new RunLayout('s3://b/runs', 'r');
  assert.equal(layout.statsPartialKey('t', 2, 7), partialSummaryKey(layout.statsPartialsPrefix('t'), 2, 7));
  assert.equal(layout.statsPartialsPrefix('t'), P);
});

test('part keys are grouped in order, the last group shorter', () => {
  assert.deepEqual(groupPartKeys(['a', 'b', 'c', 'd', 'e'], 2), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(groupPartKeys(['a'], 8), [['a']]);
  assert.throws(() => groupPartKeys(['a'], 0), /partsPerGroup must be a positive integer, got 0/);
});

test('by default a group takes parts until it holds 64 rows per feature (or 1/concurrency of the rows) and at least 8 parts', () => {
  const parts = (n: number, rows: number | ((i: number) => number)) =>
    Array.from({ length: n }, (_, i) => ({ key: `p${i}`, rows: typeof rows === 'number' ? rows : rows(i) }));
  const sizes = (groups: string[][]) => groups.map((g) => g.length);
  // 4,096 features, 32,768-row parts: 8 parts (262,144 rows = 64 per feature), as the fixed default gave.
  assert.deepEqual(sizes(groupParts(parts(20, 32_768), { dSae: 4096 })), [8, 8, 4]);
  // 131,072 features: 256 such parts per group.
  assert.deepEqual(sizes(groupParts(parts(600, 32_768), { dSae: 131_072 })), [256, 256, 88]);
  // Small dictionaries keep 8 parts a group, however many rows.
  assert.deepEqual(sizes(groupParts(parts(17, 32_768), { dSae: 16 })), [8, 8, 1]);
  // Uneven parts: rows are counted, not parts (64 × 100 = 6,400 rows).
  const uneven = groupParts(parts(12, (i) => (i < 8 ? 100 : 5_000)), { dSae: 100 });
  assert.deepEqual(sizes(uneven), [10, 2]);
  assert.deepEqual(uneven.flat(), parts(12, 0).map((p) => p.key), 'every part once, in order');
  // A run too small for such groups still makes `concurrency` groups (8 parts at least): 600 parts
  // at 131,072 features and concurrency 8 hold 2,457,600 rows a group, 75 parts.
  assert.deepEqual(sizes(groupParts(parts(600, 32_768), { dSae: 131_072, concurrency: 8 })), [75, 75, 75, 75, 75, 75, 75, 75]);
  assert.deepEqual(sizes(groupParts(parts(40, 32_768), { dSae: 131_072, concurrency: 8 })), [8, 8, 8, 8, 8]);
  assert.throws(() => groupParts(parts(1, 1), { dSae: 8, concurrency: 0 }), /concurrency must be a positive integer, got 0/);
  // partsPerGroup set: exactly that many.
  assert.deepEqual(sizes(groupParts(parts(5, 32_768), { dSae: 131_072, partsPerGroup: 2 })), [2, 2, 1]);
  assert.deepEqual(groupParts([], { dSae: 8 }), []);
  assert.throws(() => groupParts(parts(1, 1), { dSae: 0 }), /d_sae must be a positive integer, got 0/);
});

test('plan pages hold fewer groups when groups are large', () => {
  const groups = (n: number, size: number) => Array.from({ length: n }, () => Array.from({ length: size }, (_, i) => `k${i}`));
  assert.equal(groupsPerPlanPage(groups(3, 8)), STATS_GROUPS_PER_PAGE);
  assert.equal(groupsPerPlanPage(groups(3, 256)), 3);
  assert.equal(groupsPerPlanPage(groups(2, 5_000)), 1);
  assert.equal(groupsPerPlanPage([]), STATS_GROUPS_PER_PAGE);
});
