// Training configuration for one sparse autoencoder, its defaults, and the exact loss definitions
// both training paths (reference and ONNX) implement.

/**
 * 'l1': Towards Monosemanticity (Anthropic, 2023). 'topk': Scaling and evaluating sparse
 * autoencoders (Gao et al., OpenAI, 2024) with the AuxK loss.
 */
export type SaeArch = 'l1' | 'topk';

/**
 * Loss normalisation, identical in the reference and the ONNX step (B = batch size):
 *
 *   mse  = (1 / (B·d_in)) · Σ_b Σ_j (x̂_bj − x_bj)²         mean over every element of the batch
 *   l1   = (1 / B) · Σ_b Σ_i |f_bi|                          summed over features, mean over tokens
 *   'l1' loss   = mse + λ · l1
 *   'topk' loss = mse + α · auxK
 *
 *   auxK = Σ_b Σ_j (ê_bj − r_bj)² / Σ_b Σ_j (r_bj − r̄_j)²
 *     r = x − x̂, the residual the main reconstruction left (a constant: no gradient flows into it);
 *     r̄ = its mean over the batch;
 *     ê = W_dec-decoding (no b_dec) of the top-k_aux pre-activations among DEAD latents, ReLU'd.
 *   Dividing by the residual's variance makes α independent of activation scale (OpenAI's
 *   "normalized MSE"). auxK is defined as 0 when no latent is dead (the formula would give ≈ 1
 *   with ê = 0, and no gradient) and when the denominator is 0.
 *
 * λ multiplies a per-token sum over features while mse is a per-element mean, so λ values are
 * not interchangeable with SAELens' l1_coefficient (which also weights |f| by decoder norms).
 */
export const LOSS_NORMALISATION =
  'mse = sum((x_hat - x)^2) / (batch * d_in); l1 = sum(|f|) / batch; ' +
  "loss = mse + l1_coefficient * l1 ('l1'), mse + auxk_coefficient * auxk ('topk'); " +
  'auxk = sum((e_hat - r)^2) / sum((r - mean_batch(r))^2), r = x - x_hat (detached); auxk = 0 with no dead latent';

export interface SaeTrainerOptions {
  dIn: number;
  dSae: number;
  /** Default 'l1'. */
  arch?: SaeArch;
  /** λ of the 'l1' loss (see LOSS_NORMALISATION). Required for 'l1'. */
  l1Coefficient?: number;
  /** Active latents per token for 'topk'. Required for 'topk'. */
  k?: number;
  /** Dead latents the AuxK loss may use per token. Default: the power of two nearest d_in/2, at most d_sae. */
  kAux?: number;
  /** α of the 'topk' loss. Default 1/32 (OpenAI). */
  auxKCoefficient?: number;
  /** Adam learning rate. Default 1e-4. */
  lr?: number;
  /** Default 0.9. */
  adamBeta1?: number;
  /** Default 0.999. */
  adamBeta2?: number;
  /** Default 1e-8. */
  adamEpsilon?: number;
  /** Tokens per step; the ONNX graph is built for exactly this many rows. */
  batchSize: number;
  /** Seeds the weight initialisation (and nothing else). Default 0. */
  seed?: number;
  /**
   * A latent that has not fired for this many tokens counts as dead (the dead-fraction metric, the
   * AuxK loss, resampling). Default 10,000,000 (OpenAI); the 2023 paper used 12,500 steps × 8,192.
   */
  deadAfterTokens?: number;
  /** Density above which a feature counts as "dense" in the metrics. Default 0.01. */
  denseThreshold?: number;
}

export interface ResolvedSaeConfig {
  dIn: number;
  dSae: number;
  arch: SaeArch;
  l1Coefficient: number;
  k: number;
  kAux: number;
  auxKCoefficient: number;
  lr: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  batchSize: number;
  seed: number;
  deadAfterTokens: number;
  denseThreshold: number;
}

export class SaeConfigError extends Error {
  override name = 'SaeConfigError';
}

function defaultKAux(dIn: number, dSae: number): number {
  return Math.min(dSae, 2 ** Math.max(0, Math.round(Math.log2(dIn / 2))));
}

export function resolveSaeConfig(o: SaeTrainerOptions): ResolvedSaeConfig {
  const arch = o.arch ?? 'l1';
  const problems: string[] = [];
  const posInt = (name: string, v: unknown) => {
    if (!Number.isSafeInteger(v) || (v as number) < 1) problems.push(`${name} must be a positive integer, got ${String(v)}`);
  };
  const posNum = (name: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push(`${name} must be a positive number, got ${String(v)}`);
  };
  posInt('dIn', o.dIn);
  posInt('dSae', o.dSae);
  posInt('batchSize', o.batchSize);
  if (arch !== 'l1' && arch !== 'topk') problems.push(`arch must be 'l1' or 'topk', got ${String(arch)}`);
  if (arch === 'l1') {
    if (o.l1Coefficient === undefined) problems.push("l1Coefficient is required for arch 'l1'");
    else if (!(o.l1Coefficient >= 0) || !Number.isFinite(o.l1Coefficient)) problems.push(`l1Coefficient must be >= 0, got ${o.l1Coefficient}`);
  }
  if (arch === 'topk') {
    if (o.k === undefined) problems.push("k is required for arch 'topk'");
    else posInt('k', o.k);
    if (o.k !== undefined && o.k > o.dSae) problems.push(`k (${o.k}) must be at most dSae (${o.dSae})`);
    if (o.kAux !== undefined) {
      posInt('kAux', o.kAux);
      if (o.kAux > o.dSae) problems.push(`kAux (${o.kAux}) must be at most dSae (${o.dSae})`);
    }
  }
  const lr = o.lr ?? 1e-4;
  posNum('lr', lr);
  const b1 = o.adamBeta1 ?? 0.9;
  const b2 = o.adamBeta2 ?? 0.999;
  if (!(b1 >= 0 && b1 < 1)) problems.push(`adamBeta1 must be in [0, 1), got ${b1}`);
  if (!(b2 >= 0 && b2 < 1)) problems.push(`adamBeta2 must be in [0, 1), got ${b2}`);
  const eps = o.adamEpsilon ?? 1e-8;
  posNum('adamEpsilon', eps);
  const seed = o.seed ?? 0;
  if (!Number.isSafeInteger(seed)) problems.push(`seed must be a safe integer, got ${seed}`);
  const deadAfterTokens = o.deadAfterTokens ?? 10_000_000;
  posNum('deadAfterTokens', deadAfterTokens);
  const denseThreshold = o.denseThreshold ?? 0.01;
  posNum('denseThreshold', denseThreshold);
  const auxKCoefficient = o.auxKCoefficient ?? 1 / 32;
  if (!(auxKCoefficient >= 0)) problems.push(`auxKCoefficient must be >= 0, got ${auxKCoefficient}`);
  if (problems.length) throw new SaeConfigError(`invalid SAE config:\n- ${problems.join('\n- ')}`);
  return {
    dIn: o.dIn, dSae: o.dSae, arch,
    l1Coefficient: arch === 'l1' ? o.l1Coefficient! : 0,
    k: arch === 'topk' ? o.k! : 0,
    kAux: arch === 'topk' ? (o.kAux ?? defaultKAux(o.dIn, o.dSae)) : 0,
    auxKCoefficient: arch === 'topk' ? auxKCoefficient : 0,
    lr, adamBeta1: b1, adamBeta2: b2, adamEpsilon: eps,
    batchSize: o.batchSize, seed, deadAfterTokens, denseThreshold,
  };
}
