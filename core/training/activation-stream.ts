import { ConfigError } from '../config/run-config.js';
import { SeededRandom } from '../random/seeded-random.js';
import type { ShardManifest } from '../harvest/shard-manifest.js';
import { readActivationPart } from '../parquet/activation-part.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RunLayout } from '../storage/run-layout.js';
import { ShuffleBuffer } from './shuffle-buffer.js';

export interface PartRef {
  key: string;
  rows: number;
}

const MANIFEST_READS_IN_FLIGHT = 16;

/** Every part of one hook in a run, from the shard manifests (the only record of complete shards). */
export async function listHookParts(store: ObjectStore, layout: RunLayout, hook: string): Promise<{ parts: PartRef[]; width: number }> {
  const parts: PartRef[] = [];
  let width = 0;
  const keys: string[] = [];
  for await (const o of store.list(layout.bucket, layout.manifestPrefix)) keys.push(o.key);
  // A run of 100,000 shards has as many manifests: read MANIFEST_READS_IN_FLIGHT at a time.
  let next = 0;
  const reader = async (): Promise<void> => {
    for (let i = next++; i < keys.length; i = next++) {
      const m = await store.getJson<ShardManifest>(layout.bucket, keys[i]);
      const w = m.hooks[hook]?.width;
      if (w === undefined) {
        next = keys.length; // the other readers stop too
        throw new ConfigError(`run ${layout.runId} did not harvest hook ${hook} (it has ${Object.keys(m.hooks).join(', ')})`);
      }
      width = w;
      for (const p of m.parts) if (p.hook === hook) parts.push({ key: p.key, rows: p.rows });
    }
  };
  await Promise.all(Array.from({ length: Math.min(MANIFEST_READS_IN_FLIGHT, keys.length) }, reader));
  // Config errors: no retry can make a missing hook or an empty run appear.
  if (!parts.length) throw new ConfigError(`run ${layout.runId} has no complete shards to train on (no manifests under ${layout.manifestPrefix})`);
  parts.sort((a, b) => (a.key < b.key ? -1 : 1));
  return { parts, width };
}

export interface ActivationStreamOptions {
  store: ObjectStore;
  bucket: string;
  parts: PartRef[];
  width: number;
  batchSize: number;
  /** Rows the shuffle buffer holds: memory is bufferRows × width × 4 bytes, whatever the data size. */
  bufferRows: number;
  seed: number;
  /** Multiplies every value (input normalisation); 1 leaves data as stored. */
  scale?: number;
  /** Parts fetched ahead of the one being consumed, so S3 latency overlaps training. */
  prefetch?: number;
  signal?: AbortSignal;
}

export interface StreamPosition {
  epoch: number;
  /** Batches drawn so far in this epoch. */
  batchInEpoch: number;
}

/**
 * Endless stream of training batches. Each epoch visits the parts in a seeded random order and
 * draws every row at most once (rows left over at the end of an epoch, fewer than a batch, are
 * dropped). The stream is a pure function of the seed, so a restart resumes exactly at `from` by
 * replaying the draws of that epoch without copying data.
 */
export async function* activationBatches(
  opts: ActivationStreamOptions,
  from: StreamPosition = { epoch: 0, batchInEpoch: 0 },
): AsyncGenerator<{ batch: Float32Array; position: StreamPosition }> {
  if (opts.bufferRows < opts.batchSize) throw new RangeError(`bufferRows (${opts.bufferRows}) must be at least batchSize (${opts.batchSize})`);
  const scale = opts.scale ?? 1;
  for (let epoch = from.epoch; ; epoch++) {
    const order = SeededRandom.derived(opts.seed, epoch, 0).shuffle([...opts.parts]);
    const buffer = new ShuffleBuffer(opts.width, opts.bufferRows, SeededRandom.derived(opts.seed, epoch, 1));
    let drawn = 0;
    const skip = epoch === from.epoch ? from.batchInEpoch : 0;
    const draw = (): { batch: Float32Array; position: StreamPosition } | undefined => {
      const replaying = drawn < skip;
      const out = replaying ? undefined : new Float32Array(opts.batchSize * opts.width);
      buffer.take(opts.batchSize, out);
      drawn++;
      if (!out) return undefined;
      if (scale !== 1) for (let i = 0; i < out.length; i++) out[i] *= scale;
      return { batch: out, position: { epoch, batchInEpoch: drawn } };
    };
    for await (const values of prefetched(order, opts)) {
      let offset = 0;
      const rows = values.length / opts.width;
      while (offset < rows) {
        const n = Math.min(buffer.free, rows - offset);
        buffer.push(values, offset, n);
        offset += n;
        // Draw only from a full pool, so early batches mix as well as later ones. (With bufferRows
        // under two batches, "less room than a batch" can hold less than a batch: then wait for more.)
        while (buffer.free < opts.batchSize && buffer.size >= opts.batchSize) {
          const b = draw();
          if (b) yield b;
        }
      }
    }
    while (buffer.size >= opts.batchSize) {
      const b = draw();
      if (b) yield b;
    }
  }
}

/** Decoded activation values of each part, in order, with up to `prefetch` fetches in flight. */
async function* prefetched(order: PartRef[], opts: ActivationStreamOptions): AsyncGenerator<Float32Array> {
  const depth = Math.max(1, opts.prefetch ?? 2);
  const load = async (p: PartRef): Promise<Float32Array> => {
    const { meta, cols } = await readActivationPart(await opts.store.getBytes(opts.bucket, p.key, opts.signal));
    if (meta.width !== opts.width) throw new Error(`part ${p.key} has width ${meta.width}, expected ${opts.width}`);
    return cols.values;
  };
  const queue: Promise<Float32Array>[] = [];
  let next = 0;
  while (next < order.length || queue.length) {
    while (queue.length < depth && next < order.length) {
      const part = load(order[next++]);
      // A fetch may fail (or be aborted by a stopping worker) while this generator waits at its
      // yield: handled now, so it is never an unhandled rejection; `await` below still throws it.
      part.catch(() => undefined);
      queue.push(part);
    }
    yield await queue.shift()!;
  }
}

/**
 * Scale that makes the mean squared norm of the rows equal to their width (so λ means the same
 * across models and hooks); applied to inputs during training and recorded with the dictionary.
 */
export function normalisingScale(sample: Float32Array, width: number): number {
  const rows = sample.length / width;
  let sum = 0;
  for (let i = 0; i < sample.length; i++) sum += sample[i] * sample[i];
  const meanSq = sum / rows;
  return meanSq > 0 ? Math.sqrt(width / meanSq) : 1;
}
