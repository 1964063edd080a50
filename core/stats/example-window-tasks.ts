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

/** Targets grouped by shard, shards ascending, `shardsPerTask` shards per task (the last may have fewer). */
export function splitTargetsByShard(targets: readonly ExampleTarget[], shardsPerTask: number): { shards: number[]; targets: ExampleTarget[] }[] {
  if (!Number.isInteger(shardsPerTask) || shardsPerTask < 1) throw new RangeError(`shardsPerTask must be a positive integer, got ${shardsPerTask}`);
  const byShard = new Map<number, ExampleTarget[]>();
  for (const t of targets) (byShard.get(t.ref.shard) ?? byShard.set(t.ref.shard, []).get(t.ref.shard)!).push(t);
  const shards = [...byShard.keys()].sort((a, b) => a - b);
  const tasks: { shards: number[]; targets: ExampleTarget[] }[] = [];
  for (let i = 0; i < shards.length; i += shardsPerTask) {
    const mine = shards.slice(i, i + shardsPerTask);
    tasks.push({ shards: mine, targets: mine.flatMap((s) => byShard.get(s)!) });
  }
  return tasks;
}
