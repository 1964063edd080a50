// A feature's direct effect on the next-token logits: its decoder direction (a vector in the MLP's
// 512-wide hidden space) carried through the MLP output weights, the final LayerNorm and the
// unembedding, as in the paper's "logit weights" view.
//
// Linearising the final LayerNorm. LN(x) = γ ⊙ (x − mean(x))/σ(x) + β. Its Jacobian is
//   (1/σ) · γ ⊙ (I − 11ᵀ/n − x̂x̂ᵀ/n),   x̂ = (x − mean(x))/σ,
// whose last term depends on the residual the feature is added to. We drop it (treating σ as a
// constant, as the paper and TransformerLens' folded-LN views do) and keep the centering, which is
// exact and input-independent. A direction d therefore moves the logits by
//   Δlogits = W_Uᵀ · (γ ⊙ centre(W_outᵀ · d)) / σ̂
// per unit of feature activation, where σ̂ is an estimate of the residual's standard deviation at
// ln_final (estimateResidualScale). σ̂ is one scalar for all features: it sets the units but changes
// neither the token ranking nor the histogram's shape. β, b_out and b_U do not depend on the
// feature and drop out. The error of the linearisation is the ignored radial term: it is small when
// the feature's contribution is small against the residual norm, and larger for strong features.
import type { SaeWeights } from '../sae/sae-weights.js';
import type { ModelSource } from '../model/onnx-graph.js';
import { initializerIndex, readFloatInitializer } from './onnx-initializers.js';

/** Initializer names in the TransformerLens naming the demo model uses. */
export const LOGIT_WEIGHT_NAMES = {
  /** [d_mlp × d_model]. */
  wOut: 'blocks.0.mlp.W_out',
  /** [d_model]; the LayerNorm scale γ. */
  lnScale: 'ln_final.w',
  /** [d_model × vocab]. */
  wU: 'unembed.W_U',
} as const;

export type LogitWeightNames = { [K in keyof typeof LOGIT_WEIGHT_NAMES]: string };

/**
 * The weights for a dictionary trained on `hook`: a TransformerLens MLP hook `blocks.N.mlp.hook_post`
 * reads block N's W_out; any other hook keeps the defaults (and fails the width check if it is not
 * MLP-hidden). For a block before the last, this is the direct path only: what later blocks do
 * with the feature's output is not followed.
 */
export function logitWeightNamesForHook(hook: string | undefined): Partial<LogitWeightNames> {
  const block = /^blocks\.(\d+)\.mlp\.hook_post$/.exec(hook ?? '')?.[1];
  return block === undefined ? {} : { wOut: `blocks.${block}.mlp.W_out` };
}

export interface LogitWeights {
  dMlp: number;
  dModel: number;
  vocab: number;
  wOut: Float32Array;
  lnScale: Float32Array;
  wU: Float32Array;
}

export type LogitWeightsResult = { ok: true; weights: LogitWeights } | { ok: false; reason: string };

/**
 * Reads the three weights from the model's initializers. A model without them (or with them in
 * an unexpected shape or type) gives `{ ok: false, reason }`, so the stage can show "not
 * available" for logit effects and still publish every other statistic.
 */
export function loadLogitWeights(model: ModelSource, names: Partial<LogitWeightNames> = {}): LogitWeightsResult {
  const n = { ...LOGIT_WEIGHT_NAMES, ...names };
  const index = initializerIndex(model);
  const wOut = readFloatInitializer(index, n.wOut);
  if (!wOut.ok) return wOut;
  const lnScale = readFloatInitializer(index, n.lnScale);
  if (!lnScale.ok) return lnScale;
  const wU = readFloatInitializer(index, n.wU);
  if (!wU.ok) return wU;
  const [dMlp, dModel] = wOut.tensor.dims;
  const shapes = `${n.wOut} ${JSON.stringify(wOut.tensor.dims)}, ${n.lnScale} ${JSON.stringify(lnScale.tensor.dims)}, ${n.wU} ${JSON.stringify(wU.tensor.dims)}`;
  if (wOut.tensor.dims.length !== 2 || lnScale.tensor.dims.length !== 1 || wU.tensor.dims.length !== 2
    || lnScale.tensor.dims[0] !== dModel || wU.tensor.dims[0] !== dModel) {
    return { ok: false, reason: `not available: weight shapes do not chain (${shapes})` };
  }
  return {
    ok: true,
    weights: { dMlp, dModel, vocab: wU.tensor.dims[1], wOut: wOut.tensor.data, lnScale: lnScale.tensor.data, wU: wU.tensor.data },
  };
}

export interface LogitEffectOptions {
  /** Tokens listed on each side. Default 10. */
  topN?: number;
  /** Histogram bins, equal width over [min, max] of the effects. Default 32. */
  bins?: number;
  /** σ̂, the residual standard deviation at ln_final (see top of file). Default 1. */
  residualScale?: number;
}

export interface TokenEffect {
  token: number;
  effect: number;
}

export interface LogitEffects {
  /** Largest effects first. */
  topPositive: TokenEffect[];
  /** Most negative first. */
  topNegative: TokenEffect[];
  histogram: { min: number; max: number; counts: number[] };
}

/** Δlogits [vocab] per unit activation along `direction` [d_mlp], as float64. */
export function logitEffectVector(w: LogitWeights, direction: ArrayLike<number>, residualScale = 1): Float64Array {
  if (direction.length !== w.dMlp) throw new RangeError(`direction has ${direction.length} values, W_out expects d_mlp ${w.dMlp}`);
  if (!(residualScale > 0)) throw new RangeError(`residualScale must be positive, got ${residualScale}`);
  const { dMlp, dModel, vocab } = w;
  const resid = new Float64Array(dModel);
  for (let j = 0; j < dMlp; j++) {
    const d = direction[j];
    if (d === 0) continue;
    for (let m = 0; m < dModel; m++) resid[m] += d * w.wOut[j * dModel + m];
  }
  let mean = 0;
  for (let m = 0; m < dModel; m++) mean += resid[m];
  mean /= dModel;
  for (let m = 0; m < dModel; m++) resid[m] = (w.lnScale[m] * (resid[m] - mean)) / residualScale;
  const logits = new Float64Array(vocab);
  for (let m = 0; m < dModel; m++) {
    const r = resid[m];
    if (r === 0) continue;
    for (let v = 0; v < vocab; v++) logits[v] += r * w.wU[m * vocab + v];
  }
  return logits;
}

export function logitEffects(w: LogitWeights, direction: ArrayLike<number>, options: LogitEffectOptions = {}): LogitEffects {
  const { topN = 10, bins = 32, residualScale = 1 } = options;
  if (!Number.isInteger(topN) || topN < 0) throw new RangeError(`topN must be a non-negative integer, got ${topN}`);
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const effects = logitEffectVector(w, direction, residualScale);
  // Ties go to the lower token id, so the lists are reproducible.
  const order = Array.from(effects.keys()).sort((a, b) => effects[b] - effects[a] || a - b);
  const pick = (t: number): TokenEffect => ({ token: t, effect: effects[t] });
  const topPositive = order.slice(0, topN).map(pick);
  const topNegative = order.slice().sort((a, b) => effects[a] - effects[b] || a - b).slice(0, topN).map(pick);
  let min = Infinity;
  let max = -Infinity;
  for (const e of effects) { if (e < min) min = e; if (e > max) max = e; }
  const counts = new Array<number>(bins).fill(0);
  const width = (max - min) / bins;
  for (const e of effects) counts[width > 0 ? Math.min(Math.floor((e - min) / width), bins - 1) : 0]++;
  return { topPositive, topNegative, histogram: { min, max, counts } };
}

/** Logit effects of one SAE feature: row `feature` of W_dec is its direction. */
export function featureLogitEffects(w: LogitWeights, sae: SaeWeights, feature: number, options: LogitEffectOptions = {}): LogitEffects {
  if (!Number.isInteger(feature) || feature < 0 || feature >= sae.dSae) throw new RangeError(`feature ${feature} is outside [0, ${sae.dSae})`);
  return logitEffects(w, sae.W_dec.subarray(feature * sae.dIn, (feature + 1) * sae.dIn), options);
}

/** σ̂: the mean over rows of each row's standard deviation, from residual vectors [rows × d_model] (e.g. hook_resid_post). */
export function estimateResidualScale(residuals: ArrayLike<number>, dModel: number): number {
  const rows = residuals.length / dModel;
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`${residuals.length} values are not a whole number of ${dModel}-vectors`);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let m = 0; m < dModel; m++) mean += residuals[r * dModel + m];
    mean /= dModel;
    let sq = 0;
    for (let m = 0; m < dModel; m++) sq += (residuals[r * dModel + m] - mean) ** 2;
    total += Math.sqrt(sq / dModel);
  }
  return total / rows;
}
