// Adam optimizer state for the four SAE parameters, and the per-step scalars both training paths
// feed into the update so that bias correction is computed once, on the host, in float64.
import type { ResolvedSaeConfig } from './sae-config.js';
import { paramShape, SAE_PARAM_NAMES, type SaeParamName } from './sae-weights.js';

export type ParamTensors = Record<SaeParamName, Float32Array>;

export interface AdamState {
  /** Updates applied so far; the next update uses t = step + 1 in its bias correction. */
  step: number;
  /** First moments, shaped like the parameters. */
  m: ParamTensors;
  /** Second moments, shaped like the parameters. */
  v: ParamTensors;
}

function zeroTensors(dIn: number, dSae: number): ParamTensors {
  const out = {} as ParamTensors;
  for (const name of SAE_PARAM_NAMES) out[name] = new Float32Array(paramShape(name, dIn, dSae).reduce((a, b) => a * b, 1));
  return out;
}

export function zeroAdamState(dIn: number, dSae: number): AdamState {
  return { step: 0, m: zeroTensors(dIn, dSae), v: zeroTensors(dIn, dSae) };
}

export function cloneAdamState(s: AdamState): AdamState {
  const copy = (t: ParamTensors) => Object.fromEntries(SAE_PARAM_NAMES.map((n) => [n, t[n].slice()])) as ParamTensors;
  return { step: s.step, m: copy(s.m), v: copy(s.v) };
}

/**
 * Adam's update p ← p − lr·m̂/(√v̂ + ε), with m̂ = m/(1−β1ᵗ) and v̂ = v/(1−β2ᵗ), rewritten as
 *   p ← p − alpha · m / (√v · vScale + ε),  alpha = lr/(1−β1ᵗ),  vScale = 1/√(1−β2ᵗ)
 * so the graph takes two scalars per step instead of recomputing powers, and a learning-rate
 * schedule needs no new graph. Both are rounded to float32 because that is what the graph sees.
 */
export function adamScalars(cfg: Pick<ResolvedSaeConfig, 'lr' | 'adamBeta1' | 'adamBeta2'>, t: number, lr = cfg.lr): { alpha: number; vScale: number } {
  return {
    alpha: Math.fround(lr / (1 - cfg.adamBeta1 ** t)),
    vScale: Math.fround(1 / Math.sqrt(1 - cfg.adamBeta2 ** t)),
  };
}
