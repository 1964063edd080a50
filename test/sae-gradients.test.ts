// The reference SAE gradients (closed form) against central finite differences of the reference
// loss, computed with float64 weights so the check itself is not limited by float32 rounding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../core/random/seeded-random.js';
import { referenceGradients } from '../core/sae/reference-backward.js';
import { referenceLoss, type SaeLossConfig, type SaeParamsView } from '../core/sae/reference-forward.js';
import { SAE_PARAM_NAMES } from '../core/sae/sae-weights.js';

const dIn = 5;
const dSae = 7;
const B = 6;

function float64Params(seed: number, encoderBias: number): SaeParamsView & Record<string, unknown> {
  const rng = new SeededRandom(seed);
  const fill = (n: number, lo: number, hi: number) => Float64Array.from({ length: n }, () => rng.uniform(lo, hi));
  const W_dec = fill(dSae * dIn, -1, 1);
  for (let i = 0; i < dSae; i++) {
    const row = W_dec.subarray(i * dIn, (i + 1) * dIn);
    const n = Math.hypot(...row);
    for (let j = 0; j < dIn; j++) row[j] /= n;
  }
  return { dIn, dSae, W_enc: fill(dIn * dSae, -1, 1), W_dec, b_enc: fill(dSae, encoderBias - 0.3, encoderBias + 0.3), b_dec: fill(dIn, -0.5, 0.5) };
}

function batch(seed: number): Float64Array {
  const rng = new SeededRandom(seed);
  return Float64Array.from({ length: B * dIn }, () => rng.uniform(-1.5, 2));
}

/** Every parameter element: |analytic − numeric| ≤ 1e-6 · max(1, |numeric|). */
function checkGradients(cfg: SaeLossConfig, w: SaeParamsView, x: Float64Array, dead?: Uint8Array): void {
  const { grads, loss, forward } = referenceGradients(w, x, cfg, dead);
  assert.ok(Number.isFinite(loss.loss));
  // AuxK's target residual is a constant to the gradients (stop-gradient); hold it fixed here too.
  const frozen = forward.err;
  const h = 1e-6;
  let checked = 0;
  for (const name of SAE_PARAM_NAMES) {
    const p = w[name] as Float64Array;
    for (let n = 0; n < p.length; n++) {
      const keep = p[n];
      p[n] = keep + h;
      const up = referenceLoss(w, x, cfg, dead, frozen);
      p[n] = keep - h;
      const down = referenceLoss(w, x, cfg, dead, frozen);
      p[n] = keep;
      const numeric = (up - down) / (2 * h);
      const analytic = grads[name][n];
      assert.ok(
        Math.abs(analytic - numeric) <= 1e-6 * Math.max(1, Math.abs(numeric)),
        `${cfg.arch} ∂L/∂${name}[${n}]: analytic ${analytic}, finite difference ${numeric}`,
      );
      checked++;
    }
  }
  assert.equal(checked, 2 * dIn * dSae + dIn + dSae);
}

describe('reference SAE gradients', () => {
  it('L1 loss: every gradient matches finite differences', () => {
    const cfg: SaeLossConfig = { arch: 'l1', l1Coefficient: 0.3, k: 0, kAux: 0, auxKCoefficient: 0 };
    for (const seed of [1, 2, 3]) checkGradients(cfg, float64Params(seed, 0), batch(seed + 10));
  });

  it('L1 loss: some features inactive on some tokens (the ReLU mask matters)', () => {
    const w = float64Params(4, 0);
    const x = batch(14);
    const { forward } = referenceGradients(w, x, { arch: 'l1', l1Coefficient: 0.3, k: 0, kAux: 0, auxKCoefficient: 0 });
    const active = forward.f.filter((v) => v > 0).length;
    assert.ok(active > 0 && active < B * dSae, `active ${active} of ${B * dSae}`);
  });

  it('TopK loss without dead latents', () => {
    const cfg: SaeLossConfig = { arch: 'topk', l1Coefficient: 0, k: 3, kAux: 2, auxKCoefficient: 0.5 };
    for (const seed of [5, 6]) checkGradients(cfg, float64Params(seed, 0.5), batch(seed + 10));
  });

  it('TopK loss with AuxK over dead latents', () => {
    const cfg: SaeLossConfig = { arch: 'topk', l1Coefficient: 0, k: 2, kAux: 2, auxKCoefficient: 0.5 };
    const dead = Uint8Array.from([0, 1, 0, 1, 1, 0, 1]);
    for (const seed of [7, 8]) {
      const w = float64Params(seed, 0.5);
      const x = batch(seed + 10);
      const { forward, loss } = referenceGradients(w, x, cfg, dead);
      assert.ok(loss.auxK > 0, 'AuxK is active');
      assert.ok(forward.fAux!.some((v) => v > 0), 'some dead latent is used');
      checkGradients(cfg, w, x, dead);
    }
  });
});
