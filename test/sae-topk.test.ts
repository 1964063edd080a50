// TopK SAE: exactly k active latents per token (when k pre-activations are positive), at most k
// otherwise; the encoder starts as the decoder's transpose.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { referenceForward } from '../core/sae/reference-forward.js';
import { initSaeWeights } from '../core/sae/sae-init.js';
import { createSaeTrainer } from '../core/sae/sae-trainer.js';
import { syntheticActivations } from '../core/sae/synthetic-activations.js';

const dIn = 16;
const dSae = 48;
const k = 5;
const TOPK = { arch: 'topk' as const, l1Coefficient: 0, k, kAux: 8, auxKCoefficient: 1 / 32 };

function activeCounts(f: Float64Array, rows: number): number[] {
  return Array.from({ length: rows }, (_, b) => f.subarray(b * dSae, (b + 1) * dSae).filter((v) => v > 0).length);
}

describe('TopK SAE', () => {
  it('encoder is initialised as the decoder transpose', () => {
    const w = initSaeWeights({ dIn, dSae, arch: 'topk', seed: 4 });
    for (let i = 0; i < dSae; i++) for (let j = 0; j < dIn; j++) assert.equal(w.W_enc[j * dSae + i], w.W_dec[i * dIn + j]);
  });

  it('keeps exactly k active when every pre-activation is positive, and the k largest', () => {
    const w = initSaeWeights({ dIn, dSae, arch: 'topk', seed: 4 });
    w.b_enc.fill(10); // every pre-activation positive
    const x = syntheticActivations({ dIn, nDirections: 10, seed: 1 }).batch(32);
    const fw = referenceForward(w, x, TOPK);
    assert.deepEqual(activeCounts(fw.f, 32), Array(32).fill(k));
    for (let b = 0; b < 32; b++) {
      const kept = Array.from({ length: dSae }, (_, i) => i).filter((i) => fw.f[b * dSae + i] > 0);
      const threshold = Math.min(...kept.map((i) => fw.pre[b * dSae + i]));
      for (let i = 0; i < dSae; i++) if (!kept.includes(i)) assert.ok(fw.pre[b * dSae + i] <= threshold);
    }
  });

  it('keeps at most k when fewer pre-activations are positive', () => {
    const w = initSaeWeights({ dIn, dSae, arch: 'topk', seed: 4 });
    w.b_enc.fill(-1.5);
    const x = syntheticActivations({ dIn, nDirections: 10, seed: 1 }).batch(32);
    const counts = activeCounts(referenceForward(w, x, TOPK).f, 32);
    assert.ok(counts.every((c) => c <= k));
    assert.ok(counts.some((c) => c < k), `some token has fewer than k positives: ${counts}`);
    assert.ok(counts.some((c) => c > 0), `some token has an active latent: ${counts}`);
  });

  it('the ONNX step reports L0 = k on every step', async () => {
    const batchSize = 32;
    const source = syntheticActivations({ dIn, nDirections: 24, density: 0.2, seed: 2 });
    const trainer = await createSaeTrainer({ dIn, dSae, batchSize, arch: 'topk', k, lr: 1e-3, seed: 1, initSample: source.batch(64) });
    try {
      for (let s = 0; s < 5; s++) {
        const m = await trainer.step(source.batch(batchSize));
        assert.equal(m.l0, k, `step ${m.step}`);
      }
    } finally {
      await trainer.close();
    }
  });
});
