// Closed-form gradients of the loss in sae-config.ts, as plain loops (float64). The ONNX step
// implements the same formulas with GEMMs; the tests check these against finite differences.
//
// With s = 2/(B·d_in), err = x̂ − x, and M = [f > 0] (the ReLU / TopK selection mask):
//   ∂L/∂x̂            = s·err
//   ∂L/∂f            = s·err·W_decᵀ (+ λ/B for 'l1', since |f| = f on the active set)
//   ∂L/∂pre          = M ⊙ ∂L/∂f                       (ReLU and TopK pass gradient only where active)
//   ∂L/∂W_dec        = fᵀ·(s·err)
//   ∂L/∂b_enc        = Σ_b ∂L/∂pre
//   ∂L/∂W_enc        = x̄ᵀ·∂L/∂pre
//   ∂L/∂b_dec        = Σ_b s·err − W_enc·∂L/∂b_enc       (b_dec enters x̂ directly and x̄ = x − b_dec;
//                                                      the second term is Σ_b ∂L/∂pre·W_encᵀ, folded
//                                                      into a matrix-vector product)
// 'topk' adds AuxK (α·Σ(ê − r)²/D, r and D constant): with g = 2α/D·(ê − r),
//   ∂L/∂W_dec += f_auxᵀ·g,   ∂L/∂pre += [f_aux > 0] ⊙ g·W_decᵀ   (ê has no b_dec term).
import { lossParts, referenceForward, type LossParts, type ReferenceForward, type SaeLossConfig, type SaeParamsView } from './reference-forward.js';

export interface SaeGradients {
  W_enc: Float64Array;
  W_dec: Float64Array;
  b_enc: Float64Array;
  b_dec: Float64Array;
}

export interface ReferenceStep {
  forward: ReferenceForward;
  loss: LossParts;
  grads: SaeGradients;
}

export function referenceGradients(w: SaeParamsView, x: ArrayLike<number>, cfg: SaeLossConfig, dead?: ArrayLike<boolean | number>): ReferenceStep {
  const { dIn, dSae } = w;
  const fw = referenceForward(w, x, cfg, dead);
  const B = fw.batch;
  const s = 2 / (B * dIn);
  const grads: SaeGradients = {
    W_enc: new Float64Array(dIn * dSae),
    W_dec: new Float64Array(dSae * dIn),
    b_enc: new Float64Array(dSae),
    b_dec: new Float64Array(dIn),
  };
  const gPre = new Float64Array(B * dSae);

  // Main reconstruction term.
  const l1Grad = cfg.arch === 'l1' ? cfg.l1Coefficient / B : 0;
  backpropDecoder(fw.f, fw.err, s, l1Grad, w, B, gPre, grads.W_dec);
  for (let b = 0; b < B; b++) for (let j = 0; j < dIn; j++) grads.b_dec[j] += s * fw.err[b * dIn + j];

  // AuxK term; skipped when its denominator is 0, as the loss then counts it as 0.
  if (cfg.arch === 'topk' && fw.fAux && fw.auxErr && fw.auxDen > 0) {
    backpropDecoder(fw.fAux, fw.auxErr, (2 * cfg.auxKCoefficient) / fw.auxDen, 0, w, B, gPre, grads.W_dec);
  }

  for (let b = 0; b < B; b++) {
    for (let i = 0; i < dSae; i++) {
      const g = gPre[b * dSae + i];
      if (g === 0) continue;
      grads.b_enc[i] += g;
      for (let j = 0; j < dIn; j++) grads.W_enc[j * dSae + i] += fw.xc[b * dIn + j] * g;
    }
  }
  for (let j = 0; j < dIn; j++) {
    let t = 0;
    for (let i = 0; i < dSae; i++) t += w.W_enc[j * dSae + i] * grads.b_enc[i];
    grads.b_dec[j] -= t;
  }
  return { forward: fw, loss: lossParts(fw, dIn, cfg), grads };
}

/**
 * For a decoding x̃ = acts·W_dec with upstream gradient scale·resid: accumulates
 * ∂/∂W_dec += actsᵀ·(scale·resid) and ∂/∂pre += [acts > 0] ⊙ (scale·resid·W_decᵀ + constGrad).
 */
function backpropDecoder(
  acts: Float64Array, resid: Float64Array, scale: number, constGrad: number,
  w: SaeParamsView, B: number, gPre: Float64Array, gWdec: Float64Array,
): void {
  const { dIn, dSae } = w;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < dSae; i++) {
      const a = acts[b * dSae + i];
      if (a <= 0) continue;
      let dot = 0;
      for (let j = 0; j < dIn; j++) {
        const g = scale * resid[b * dIn + j];
        dot += g * w.W_dec[i * dIn + j];
        gWdec[i * dIn + j] += a * g;
      }
      gPre[b * dSae + i] += dot + constGrad;
    }
  }
}
