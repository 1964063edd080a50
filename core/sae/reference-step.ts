// One full reference training step: gradients, decoder-gradient projection, Adam, decoder
// renormalisation — in that order, which is the order the ONNX graph follows too.
import { adamScalars, type AdamState } from './adam-state.js';
import { normaliseDecoderRows, removeParallelGradient } from './decoder-norm.js';
import { referenceGradients, type ReferenceStep } from './reference-backward.js';
import type { ResolvedSaeConfig } from './sae-config.js';
import { SAE_PARAM_NAMES, type SaeWeights } from './sae-weights.js';

export interface ReferenceStepOptions {
  /** One flag per feature ('topk': the latents AuxK may use). */
  dead?: ArrayLike<boolean | number>;
  /** Overrides cfg.lr (schedules). */
  lr?: number;
  /** Overrides cfg.l1Coefficient (warm-up). */
  l1Coefficient?: number;
}

/**
 * Updates `w` and `adam` in place from the batch `x` ([B × d_in]) and returns the forward values,
 * the loss (of the weights BEFORE the update, as the ONNX step reports it) and the raw gradients.
 */
export function referenceTrainStep(
  w: SaeWeights, adam: AdamState, x: Float32Array, cfg: ResolvedSaeConfig, options: ReferenceStepOptions = {},
): ReferenceStep {
  const lossCfg = options.l1Coefficient === undefined ? cfg : { ...cfg, l1Coefficient: options.l1Coefficient };
  const result = referenceGradients(w, x, lossCfg, options.dead);
  const g = result.grads;
  // Project a float32 copy so the returned gradients stay the unconstrained ones.
  const gDec = Float32Array.from(g.W_dec);
  removeParallelGradient(gDec, w.W_dec, w.dSae, w.dIn);

  adam.step += 1;
  const { alpha, vScale } = adamScalars(cfg, adam.step, options.lr ?? cfg.lr);
  const b1 = cfg.adamBeta1;
  const b2 = cfg.adamBeta2;
  for (const name of SAE_PARAM_NAMES) {
    const p = w[name];
    const grad = name === 'W_dec' ? gDec : g[name];
    const m = adam.m[name];
    const v = adam.v[name];
    for (let n = 0; n < p.length; n++) {
      const gn = grad[n];
      m[n] = b1 * m[n] + (1 - b1) * gn;
      v[n] = b2 * v[n] + (1 - b2) * gn * gn;
      p[n] -= (alpha * m[n]) / (Math.sqrt(v[n]) * vScale + cfg.adamEpsilon);
    }
  }
  normaliseDecoderRows(w.W_dec, w.dSae, w.dIn);
  return result;
}
