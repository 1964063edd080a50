// The statistics stage's merge tree, as pure functions of (leaves, fan-in), so that the FeatureStats
// workflow can continue as new in the middle of it carrying only a cursor: every node's S3 key is
// derived, never remembered. Import-free: the workflow bundle uses it too.
//
// Level 0 holds one partial summary per part group. Node i of level L merges the children
// [i·fanIn, (i+1)·fanIn) of level L−1. A node with a single child (the last one of a level, when
// the level above does not divide evenly) is not written: it is its child, under the child's key.

/** Key of the summary at (level, index) under `partialsPrefix` (`…/stats/<trainingId>/partials/`). */
export function partialSummaryKey(partialsPrefix: string, level: number, index: number): string {
  return `${partialsPrefix}level-${String(level).padStart(2, '0')}/summary-${String(index).padStart(6, '0')}.bin`;
}

/** Node count per level, leaves first, ending with the single root: 6 leaves, fan-in 2 → [6, 3, 2, 1]. */
export function mergeLevelSizes(leaves: number, fanIn: number): number[] {
  if (!Number.isInteger(leaves) || leaves < 1) throw new RangeError(`merge tree: leaves must be a positive integer, got ${leaves}`);
  if (!Number.isInteger(fanIn) || fanIn < 2) throw new RangeError(`merge tree: fanIn must be an integer ≥ 2, got ${fanIn}`);
  const sizes = [leaves];
  while (sizes[sizes.length - 1] > 1) sizes.push(Math.ceil(sizes[sizes.length - 1] / fanIn));
  return sizes;
}

/** Indices in level − 1 of the children of node (level, index); `sizes` from mergeLevelSizes. */
export function mergeChildren(sizes: readonly number[], fanIn: number, level: number, index: number): number[] {
  const first = index * fanIn;
  const end = Math.min(first + fanIn, sizes[level - 1]);
  return Array.from({ length: end - first }, (_, k) => first + k);
}

/** Where node (level, index)'s summary is stored: its own key, or its only child's. */
export function mergeNodeKey(partialsPrefix: string, sizes: readonly number[], fanIn: number, level: number, index: number): string {
  while (level > 0 && mergeChildren(sizes, fanIn, level, index).length === 1) {
    index *= fanIn;
    level--;
  }
  return partialSummaryKey(partialsPrefix, level, index);
}
