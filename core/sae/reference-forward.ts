// Plain-loop reference forward pass and loss for both architectures. Written for reading and for
// checking the ONNX graph against, not for speed: intermediates are float64 and every sum is an
// explicit loop in the order the formulas in sae-config.ts state.
import type { ResolvedSaeConfig } from './sae-config.js';

/** Weights as the reference reads them: any numeric arrays, so gradient checks can pass float64. */
export interface SaeParamsView {
  dIn: number;
  dSae: number;
  W_enc: ArrayLike<number>;
  W_dec: ArrayLike<number>;
  b_enc: ArrayLike<number>;
  b_dec: ArrayLike<number>;
}

/** The parts of the config the math depends on. */
export type SaeLossConfig = Pick<ResolvedSaeConfig, 'arch' | 'l1Coefficient' | 'k' | 'kAux' | 'auxKCoefficient'>;

export interface ReferenceForward {
  batch: number;
  /** x − b_dec, [B × d_in]. */
  xc: Float64Array;
  /** Encoder pre-activations, [B × d_sae]. */
  pre: Float64Array;
  /** Feature activations, [B × d_sae]. */
  f: Float64Array;
  /** x̂ − x, [B × d_in]. */
  err: Float64Array;
  /** 'topk' with some latent dead: ReLU'd top-k_aux dead pre-activations, [B × d_sae]; else null. */
  fAux: Float64Array | null;
  /** With fAux: ê − r with r = x − x̂, [B × d_in]; else null. */
  auxErr: Float64Array | null;
  /** Σ (x̂ − x)². */
  sumSqErr: number;
  /** Σ (x − mean_batch(x))², the FVU denominator. */
  sumSqDev: number;
  /** Σ |f|. */
  l1Sum: number;
  /** Σ (ê − r)² and Σ (r − r̄)², the AuxK numerator and denominator (both 0 when AuxK is off). */
  auxNum: number;
  auxDen: number;
  /** Tokens of the batch on which each feature fired (f > 0), [d_sae]. */
  fireCount: Float64Array;
}

export interface LossParts {
  loss: number;
  mse: number;
  /** Σ|f| / B. */
  l1: number;
  /** The normalised AuxK term (before α); 0 for 'l1'. */
  auxK: number;
}

/** Indices of the `k` largest values of row[0..n), ties to the lower index (as ONNX TopK). */
export function topKIndices(row: ArrayLike<number>, offset: number, n: number, k: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => row[offset + b] - row[offset + a] || a - b);
  return idx.slice(0, k);
}

/**
 * Forward pass of a batch `x` ([B × d_in], row-major). `dead` (one flag per feature) is only read
 * for 'topk', where it selects the latents the AuxK loss may use.
 *
 * `frozenErr` stands in for x̂ − x inside AuxK (target and denominator). Training never passes it:
 * the residual is then this forward's own, and the gradients treat it as a constant (stop-gradient).
 * A finite-difference check passes the unperturbed residual, so that it differentiates the same
 * function the closed-form gradients describe.
 */
export function referenceForward(
  w: SaeParamsView, x: ArrayLike<number>, cfg: SaeLossConfig, dead?: ArrayLike<boolean | number>, frozenErr?: ArrayLike<number>,
): ReferenceForward {
  const { dIn, dSae } = w;
  const B = x.length / dIn;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`batch of ${x.length} values is not a whole number of ${dIn}-vectors`);

  const xc = new Float64Array(B * dIn);
  for (let b = 0; b < B; b++) for (let j = 0; j < dIn; j++) xc[b * dIn + j] = x[b * dIn + j] - w.b_dec[j];

  const pre = new Float64Array(B * dSae);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < dSae; i++) {
      let s = w.b_enc[i];
      for (let j = 0; j < dIn; j++) s += xc[b * dIn + j] * w.W_enc[j * dSae + i];
      pre[b * dSae + i] = s;
    }
  }

  const f = new Float64Array(B * dSae);
  if (cfg.arch === 'topk') {
    for (let b = 0; b < B; b++) {
      for (const i of topKIndices(pre, b * dSae, dSae, cfg.k)) f[b * dSae + i] = Math.max(0, pre[b * dSae + i]);
    }
  } else {
    for (let n = 0; n < f.length; n++) f[n] = Math.max(0, pre[n]);
  }

  const err = decode(f, w, B);
  for (let b = 0; b < B; b++) for (let j = 0; j < dIn; j++) err[b * dIn + j] += w.b_dec[j] - x[b * dIn + j];

  let sumSqErr = 0;
  for (const e of err) sumSqErr += e * e;
  const sumSqDev = sumSquaredDeviation(x, B, dIn, 1);
  let l1Sum = 0;
  const fireCount = new Float64Array(dSae);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < dSae; i++) {
      const v = f[b * dSae + i];
      l1Sum += Math.abs(v);
      if (v > 0) fireCount[i]++;
    }
  }

  let fAux: Float64Array | null = null;
  let auxErr: Float64Array | null = null;
  let auxNum = 0;
  let auxDen = 0;
  const anyDead = dead !== undefined && Array.prototype.some.call(dead, (d: boolean | number) => !!d);
  if (cfg.arch === 'topk' && anyDead) {
    // Live latents get −∞ so TopK never prefers them; if fewer than k_aux are dead, the −∞ picks
    // ReLU to 0 and contribute nothing — the same thing the ONNX graph does.
    const masked = new Float64Array(B * dSae);
    for (let b = 0; b < B; b++) for (let i = 0; i < dSae; i++) masked[b * dSae + i] = dead?.[i] ? pre[b * dSae + i] : -Infinity;
    fAux = new Float64Array(B * dSae);
    for (let b = 0; b < B; b++) {
      for (const i of topKIndices(masked, b * dSae, dSae, cfg.kAux)) fAux[b * dSae + i] = Math.max(0, masked[b * dSae + i]);
    }
    // ê − r with r = x − x̂ = −err.
    const residualErr = frozenErr ?? err;
    auxErr = decode(fAux, w, B);
    for (let n = 0; n < auxErr.length; n++) auxErr[n] += residualErr[n];
    for (const e of auxErr) auxNum += e * e;
    auxDen = sumSquaredDeviation(residualErr, B, dIn, -1);
  }
  return { batch: B, xc, pre, f, err, fAux, auxErr, sumSqErr, sumSqDev, l1Sum, auxNum, auxDen, fireCount };
}

/** f @ W_dec, without bias: [B × d_in]. */
function decode(f: Float64Array, w: SaeParamsView, B: number): Float64Array {
  const { dIn, dSae } = w;
  const out = new Float64Array(B * dIn);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < dSae; i++) {
      const v = f[b * dSae + i];
      if (v === 0) continue;
      for (let j = 0; j < dIn; j++) out[b * dIn + j] += v * w.W_dec[i * dIn + j];
    }
  }
  return out;
}

/** Σ_b Σ_j (s·v_bj − mean_b(s·v_bj))², the variance numerator of a [B × dim] batch scaled by ±1. */
function sumSquaredDeviation(v: ArrayLike<number>, B: number, dim: number, sign: 1 | -1): number {
  let total = 0;
  for (let j = 0; j < dim; j++) {
    let mean = 0;
    for (let b = 0; b < B; b++) mean += sign * v[b * dim + j];
    mean /= B;
    for (let b = 0; b < B; b++) total += (sign * v[b * dim + j] - mean) ** 2;
  }
  return total;
}

/** The loss as documented by LOSS_NORMALISATION. */
export function lossParts(fw: ReferenceForward, dIn: number, cfg: SaeLossConfig): LossParts {
  const mse = fw.sumSqErr / (fw.batch * dIn);
  const l1 = fw.l1Sum / fw.batch;
  const auxK = fw.auxDen > 0 ? fw.auxNum / fw.auxDen : 0;
  const loss = cfg.arch === 'topk' ? mse + cfg.auxKCoefficient * auxK : mse + cfg.l1Coefficient * l1;
  return { loss, mse, l1, auxK };
}

export function referenceLoss(
  w: SaeParamsView, x: ArrayLike<number>, cfg: SaeLossConfig, dead?: ArrayLike<boolean | number>, frozenErr?: ArrayLike<number>,
): number {
  return lossParts(referenceForward(w, x, cfg, dead, frozenErr), w.dIn, cfg).loss;
}
