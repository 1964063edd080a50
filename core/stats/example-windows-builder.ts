// Cuts the feature browser's example windows: for every top and interval example of every
// feature, the ±radius tokens around it and the feature's activation on each of them.
//
// The activation parts hold only the sampled positions, so a window's neighbours were never
// stored. They are recomputed: each shard that holds examples is re-read and packed exactly as
// the harvest packed it (core/harvest/shard-contexts.ts), the contexts holding examples go through
// the model (cut to the dictionary's hook) and the window tokens through the dictionary's encoder.
// Each centre token's id is checked against the one the harvest recorded, so a corpus that changed
// since the harvest fails loudly instead of showing the wrong text.
//
// Cost: the model runs on at most one context per example and the encoder on the distinct window
// tokens, a small fraction of the harvest for any real run.
import type { PackedStep } from '../harvest/shard-contexts.js';
import type { PackedContext } from '../tokenize/context-packer.js';
import type { ExampleRef } from './example-slots.js';
import type { SaeWeights } from '../sae/sae-weights.js';
import type { FeatureView } from './feature-summary.js';
import type { ExampleKind, ExampleWindow } from './example-windows.js';

export interface ExampleTarget {
  feature: number;
  kind: ExampleKind;
  group: number;
  ref: ExampleRef;
}

export interface WindowSources {
  /** The shard's documents and contexts, packed as the harvest packed them. */
  shardContexts(shard: number): AsyncIterable<PackedStep>;
  /** The hook's vectors for `batch` contexts of `seq` tokens: [batch × seq × dIn]. */
  hookVectors(ids: BigInt64Array, batch: number, seq: number): Promise<Float32Array>;
  /** The dictionary's encoder: [rows × dIn] → [rows × dSae]. */
  encode(x: Float32Array, rows: number): Promise<Float32Array>;
  /**
   * One feature's activation on the vector at `offset` of `x`, when the architecture allows it
   * (ReLU dictionaries: a feature depends on its own encoder row only). Far cheaper than `encode`
   * for windows, which need one feature per token; without it every window token is encoded.
   */
  featureActivation?: (x: Float32Array, offset: number, feature: number) => number;
  tokenText(id: number): string;
}

export interface WindowOptions {
  dIn: number;
  dSae: number;
  /** Tokens on each side of the example. Default 4 (the paper's ±4). */
  radius?: number;
  /** Contexts per model call. Default 32. */
  batchContexts?: number;
  onProgress?: (e: { shardsDone: number; shards: number; windows: number }) => void;
  signal?: AbortSignal;
}

export class CorpusChangedError extends Error {
  override name = 'CorpusChangedError';
}

/** One window per target, in target order. */
export async function buildExampleWindows(targets: ExampleTarget[], sources: WindowSources, opts: WindowOptions): Promise<ExampleWindow[]> {
  const radius = opts.radius ?? 4;
  const batchContexts = Math.max(1, opts.batchContexts ?? 32);
  const out = new Array<ExampleWindow>(targets.length);
  const byShard = new Map<number, Map<number, number[]>>();
  targets.forEach((t, i) => {
    const contexts = byShard.get(t.ref.shard) ?? byShard.set(t.ref.shard, new Map()).get(t.ref.shard)!;
    (contexts.get(t.ref.context) ?? contexts.set(t.ref.context, []).get(t.ref.context)!).push(i);
  });
  const shards = [...byShard.keys()].sort((a, b) => a - b);
  let windows = 0;
  for (const [done, shard] of shards.entries()) {
    const wanted = byShard.get(shard)!;
    const { found, labels } = await findContexts(shard, wanted, sources, opts.signal);
    for (let i = 0; i < found.length; i += batchContexts) {
      opts.signal?.throwIfAborted();
      const batch = found.slice(i, i + batchContexts);
      // The shard's last context may be shorter: it is the only one, and goes alone.
      for (const group of splitByLength(batch)) {
        windows += await cutWindows(group, wanted, targets, out, labels, sources, opts.dIn, opts.dSae, radius);
      }
    }
    opts.onProgress?.({ shardsDone: done + 1, shards: shards.length, windows });
  }
  return out;
}

/** Re-packs the shard until every wanted context is found; the labels of the documents seen. */
async function findContexts(shard: number, wanted: Map<number, number[]>, sources: WindowSources, signal?: AbortSignal) {
  const found: PackedContext[] = [];
  const labels = new Map<number, string | undefined>();
  const last = Math.max(...wanted.keys());
  for await (const step of sources.shardContexts(shard)) {
    signal?.throwIfAborted();
    if (step.document) labels.set(step.document.index, step.document.label);
    for (const ctx of step.contexts) if (wanted.has(ctx.index)) found.push(ctx);
    if (step.contexts.some((c) => c.index >= last)) break;
  }
  if (found.length !== wanted.size) {
    const missing = [...wanted.keys()].filter((c) => !found.some((f) => f.index === c));
    throw new CorpusChangedError(`shard ${shard}: contexts ${missing.slice(0, 5).join(', ')} are not in the corpus any more (it holds fewer tokens than when it was harvested)`);
  }
  return { found, labels };
}

function splitByLength(batch: PackedContext[]): PackedContext[][] {
  const groups = new Map<number, PackedContext[]>();
  for (const c of batch) (groups.get(c.ids.length) ?? groups.set(c.ids.length, []).get(c.ids.length)!).push(c);
  return [...groups.values()];
}

/** Runs one batch of same-length contexts and fills the windows of every target in them. */
async function cutWindows(
  batch: PackedContext[], wanted: Map<number, number[]>, targets: ExampleTarget[], out: ExampleWindow[],
  labels: Map<number, string | undefined>, sources: WindowSources, dIn: number, dSae: number, radius: number,
): Promise<number> {
  const seq = batch[0].ids.length;
  const ids = new BigInt64Array(batch.length * seq);
  batch.forEach((c, b) => c.ids.forEach((id, t) => void (ids[b * seq + t] = BigInt(id))));
  const vectors = await sources.hookVectors(ids, batch.length, seq);

  for (const [b, ctx] of batch.entries()) {
    for (const ti of wanted.get(ctx.index)!) {
      const { ref } = targets[ti];
      if (ref.position >= seq || ctx.ids[ref.position] !== ref.token) {
        throw new CorpusChangedError(
          `shard ${ref.shard} context ${ref.context} position ${ref.position}: the corpus now has token ${ctx.ids[ref.position] ?? 'none'} where the harvest saw ${ref.token}; the corpus changed since the harvest`,
        );
      }
    }
  }
  const activation = sources.featureActivation
    ? (b: number, t: number, feature: number) => sources.featureActivation!(vectors, (b * seq + t) * dIn, feature)
    : await encodeWindowTokens(batch, seq, wanted, targets, vectors, sources, dIn, dSae, radius);

  let n = 0;
  for (const [b, ctx] of batch.entries()) {
    for (const ti of wanted.get(ctx.index)!) {
      const { feature, kind, group, ref } = targets[ti];
      const from = Math.max(0, ref.position - radius);
      const to = Math.min(seq - 1, ref.position + radius);
      const tokens: number[] = [];
      const windowActs: number[] = [];
      for (let t = from; t <= to; t++) {
        tokens.push(ctx.ids[t]);
        windowActs.push(activation(b, t, feature));
      }
      out[ti] = {
        feature, kind, group, act: ref.act, shard: ref.shard, doc: ref.doc, context: ref.context, position: ref.position,
        label: labels.get(ctx.docs[ref.position]) ?? null,
        center: ref.position - from, tokens, texts: tokens.map((id) => sources.tokenText(id)), acts: windowActs,
      };
      n++;
    }
  }
  return n;
}

/** Encodes the distinct window tokens of a batch once each (any architecture); a lookup into the result. */
async function encodeWindowTokens(
  batch: PackedContext[], seq: number, wanted: Map<number, number[]>, targets: ExampleTarget[], vectors: Float32Array,
  sources: WindowSources, dIn: number, dSae: number, radius: number,
): Promise<(b: number, t: number, feature: number) => number> {
  const rowOf = new Map<number, number>(); // b * seq + t → encoder row
  for (const [b, ctx] of batch.entries()) {
    for (const ti of wanted.get(ctx.index)!) {
      const { position } = targets[ti].ref;
      for (let t = Math.max(0, position - radius); t <= Math.min(seq - 1, position + radius); t++) {
        if (!rowOf.has(b * seq + t)) rowOf.set(b * seq + t, rowOf.size);
      }
    }
  }
  const x = new Float32Array(rowOf.size * dIn);
  for (const [flat, row] of rowOf) x.set(vectors.subarray(flat * dIn, (flat + 1) * dIn), row * dIn);
  const acts = await sources.encode(x, rowOf.size);
  return (b, t, feature) => acts[rowOf.get(b * seq + t)! * dSae + feature];
}

/**
 * One feature's activation of a ReLU ('standard' / L1) dictionary: ReLU((x − b_dec)·W_enc[:, f] +
 * b_enc[f]). W_enc's columns are copied into contiguous rows and b_dec folded into the bias once,
 * so each call is one dot product of d_in.
 */
export function reluFeatureActivation(w: Pick<SaeWeights, 'dIn' | 'dSae' | 'W_enc' | 'b_enc' | 'b_dec'>): (x: Float32Array, offset: number, feature: number) => number {
  const { dIn, dSae } = w;
  const rows = new Float32Array(dSae * dIn);
  const bias = new Float64Array(dSae);
  for (let i = 0; i < dSae; i++) {
    let b = w.b_enc[i];
    for (let j = 0; j < dIn; j++) {
      const v = w.W_enc[j * dSae + i];
      rows[i * dIn + j] = v;
      b -= w.b_dec[j] * v;
    }
    bias[i] = b;
  }
  return (x, offset, feature) => {
    let s = bias[feature];
    const base = feature * dIn;
    for (let j = 0; j < dIn; j++) s += x[offset + j] * rows[base + j];
    return s > 0 ? s : 0;
  };
}

/** Every top and interval example of the given feature views, in feature order. */
export function exampleTargets(views: Iterable<Pick<FeatureView, 'feature' | 'top' | 'intervals'>>): ExampleTarget[] {
  const targets: ExampleTarget[] = [];
  for (const v of views) {
    v.top.forEach((ref, rank) => targets.push({ feature: v.feature, kind: 'top', group: rank, ref }));
    v.intervals.forEach((interval, g) => {
      for (const ref of interval.examples) targets.push({ feature: v.feature, kind: 'interval', group: g, ref });
    });
  }
  return targets;
}
