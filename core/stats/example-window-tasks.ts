// The example windows' fan-out. Cutting a window re-reads the example's shard and re-runs the model
// (example-windows-builder.ts), so a run of 100,000 shards cannot be cut by one activity: the
// examples are split by shard into tasks of a few shards each, whose targets wait in S3
// (stats/<trainingId>/windows/targets-NNNNNN.json) for the activity that cuts them into a window
// part; the parts are then gathered into examples.parquet.
import type { ExampleTarget } from './example-windows-builder.js';

export const WINDOW_TARGETS_FORMAT = 'example-window-targets/v1';
/** Shards per window task: each task re-reads this many shards. */
export const SHARDS_PER_WINDOW_TASK = 32;

export interface WindowTargetsFile {
  format: typeof WINDOW_TARGETS_FORMAT;
  task: number;
  /** The shards this task re-reads, ascending. */
  shards: number[];
  targets: ExampleTarget[];
}

/**
 * Caps a task's examples too, so that no task (and no part the gather reads) holds more than this
 * many windows: a run of few shards and a large dictionary would otherwise put every window of
 * the dictionary in one task. A shard with more examples than this is split over several tasks,
 * each re-reading it.
 */
export const MAX_WINDOWS_PER_TASK = 65_536;

/**
 * Targets grouped by shard, shards ascending: at most `shardsPerTask` shards and `maxTargets`
 * targets per task (a shard with more targets than that is split over several tasks).
 */
export function splitTargetsByShard(
  targets: readonly ExampleTarget[], shardsPerTask: number, maxTargets = MAX_WINDOWS_PER_TASK,
): { shards: number[]; targets: ExampleTarget[] }[] {
  for (const [name, v] of [['shardsPerTask', shardsPerTask], ['maxTargets', maxTargets]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  const byShard = new Map<number, ExampleTarget[]>();
  for (const t of targets) (byShard.get(t.ref.shard) ?? byShard.set(t.ref.shard, []).get(t.ref.shard)!).push(t);
  const tasks: { shards: number[]; targets: ExampleTarget[] }[] = [];
  let open: { shards: number[]; targets: ExampleTarget[] } | undefined;
  for (const shard of [...byShard.keys()].sort((a, b) => a - b)) {
    const mine = byShard.get(shard)!;
    for (let from = 0; from < mine.length; from += maxTargets) {
      const slice = mine.slice(from, from + maxTargets);
      if (!open || open.shards.length >= shardsPerTask || open.targets.length + slice.length > maxTargets) {
        tasks.push((open = { shards: [], targets: [] }));
      }
      open.shards.push(shard);
      for (const t of slice) open.targets.push(t);
    }
  }
  return tasks;
}
