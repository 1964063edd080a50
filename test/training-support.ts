// Helpers for the training tests: a "finished harvest run" written straight to S3 (parts,
// manifests, summary — what a harvest leaves, minus the model), which is much faster than
// harvesting; an independent safetensors reader; and the metrics log read back.
import { encodeActivationPart } from '../core/parquet/activation-part.js';
import { MANIFEST_FORMAT, type PartRecord, type ShardManifest } from '../core/harvest/shard-manifest.js';
import { syntheticActivations } from '../core/sae/synthetic-activations.js';
import { sha256Hex, type ObjectStore } from '../core/storage/object-store.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { StepRecord } from '../core/training/metrics-log.js';

export const SYNTHETIC_HOOK = 'blocks.0.mlp.hook_post';

export interface SyntheticRun {
  layout: RunLayout;
  rows: number;
  /** Ground-truth directions, [nDirections × width]. */
  directions: Float32Array;
}

/**
 * Writes `shards` shards of `partsPerShard` parts of `rowsPerPart` rows each: sparse mixes of
 * planted directions (core/sae/synthetic-activations.ts), so a dictionary has something to find.
 */
export async function writeSyntheticRun(
  store: ObjectStore,
  outputUri: string,
  runId: string,
  o: { width: number; shards: number; partsPerShard: number; rowsPerPart: number; nDirections?: number; seed?: number; hook?: string },
): Promise<SyntheticRun> {
  const layout = new RunLayout(outputUri, runId);
  const hook = o.hook ?? SYNTHETIC_HOOK;
  const source = syntheticActivations({ dIn: o.width, nDirections: o.nDirections ?? 2 * o.width, density: 0.03, seed: o.seed ?? 1 });
  let rows = 0;
  for (let shard = 0; shard < o.shards; shard++) {
    const parts: PartRecord[] = [];
    for (let part = 0; part < o.partsPerShard; part++) {
      const n = o.rowsPerPart;
      const ids = Int32Array.from({ length: n }, (_, r) => r);
      const bytes = encodeActivationPart(
        { runId, hook, modelSha256: 'a'.repeat(64), dtype: 'fp32', width: o.width, shard, part },
        { doc: ids, context: ids, position: ids, token: ids, values: source.batch(n) },
      );
      const key = layout.partKey(hook, shard, part);
      await store.put(layout.bucket, key, bytes);
      parts.push({ part, hook, key, rows: n, bytes: bytes.byteLength, sha256: sha256Hex(bytes) });
      rows += n;
    }
    const manifest: ShardManifest = {
      format: MANIFEST_FORMAT,
      runId,
      shard,
      source: `synthetic://${shard}`,
      modelSha256: 'a'.repeat(64),
      dtype: 'fp32',
      hooks: { [hook]: { width: o.width } },
      documents: 0,
      contexts: 0,
      tokens: o.partsPerShard * o.rowsPerPart,
      rows: o.partsPerShard * o.rowsPerPart,
      bytes: parts.reduce((a, p) => a + p.bytes, 0),
      parts,
    };
    await store.putJson(layout.bucket, layout.manifestKey(shard), manifest);
  }
  await store.putJson(layout.bucket, layout.summaryKey, { runId, outputUri, status: 'completed', shards: o.shards, failedShards: 0, tokens: rows, rows, bytes: 0 });
  return { layout, rows, directions: source.directions };
}

/** safetensors, parsed here without the code under test: header JSON + little-endian F32 data. */
export function parseSafetensors(bytes: Uint8Array): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; metadata: Record<string, string>; tensor(name: string): Float32Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const raw = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
  const { __metadata__, ...header } = raw;
  return {
    header: header as ReturnType<typeof parseSafetensors>['header'],
    metadata: (__metadata__ ?? {}) as Record<string, string>,
    tensor(name) {
      const [b, e] = (header[name] as { data_offsets: [number, number] }).data_offsets;
      const out = new Float32Array((e - b) / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(8 + n + b + i * 4, true);
      return out;
    },
  };
}

/** Every line of every metrics chunk, in key order (duplicates kept: the test checks there are none). */
export async function metricLines(store: ObjectStore, layout: RunLayout, trainingId: string): Promise<{ key: string; records: StepRecord[] }[]> {
  const out: { key: string; records: StepRecord[] }[] = [];
  for await (const o of store.list(layout.bucket, layout.metricsPrefix(trainingId))) {
    const text = Buffer.from(await store.getBytes(layout.bucket, o.key)).toString('utf8');
    out.push({ key: o.key, records: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StepRecord) });
  }
  return out;
}

/** Largest |a − b| over equally long arrays. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
