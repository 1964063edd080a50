// End to end: the ONNX trainer learns a dictionary from synthetic activations whose true sparse
// directions are known, for both architectures — the check that the pieces add up to an SAE.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSaeTrainer } from '../core/sae/sae-trainer.js';
import { syntheticActivations } from '../core/sae/synthetic-activations.js';
import type { StepMetrics } from '../core/sae/step-metrics.js';

const dIn = 32;
const dSae = 64;
const batchSize = 256;
const nDirections = 24;

/** Ground-truth directions with some decoder row at cosine > 0.95. */
function recovered(W_dec: Float32Array, directions: Float32Array): number {
  let count = 0;
  for (let d = 0; d < nDirections; d++) {
    let best = -1;
    for (let i = 0; i < dSae; i++) {
      let c = 0;
      for (let j = 0; j < dIn; j++) c += W_dec[i * dIn + j] * directions[d * dIn + j];
      best = Math.max(best, c);
    }
    if (best > 0.95) count++;
  }
  return count;
}

for (const [arch, extra] of [['l1', { l1Coefficient: 3e-3 }], ['topk', { k: 4 }]] as const) {
  describe(`SAE training (${arch}, ONNX)`, () => {
    it('recovers the planted directions with low FVU and sparse codes in 500 steps', async () => {
      const source = syntheticActivations({ dIn, nDirections, density: 0.06, seed: 1 });
      const trainer = await createSaeTrainer({
        dIn, dSae, batchSize, arch, lr: 1e-2, seed: 2, initSample: source.batch(1024), deadAfterTokens: 50 * batchSize, ...extra,
      });
      try {
        let first: StepMetrics | undefined;
        let last: StepMetrics | undefined;
        for (let s = 0; s < 500; s++) {
          last = await trainer.step(source.batch(batchSize));
          first ??= last;
        }
        assert.ok(last!.fvu < 0.02, `FVU ${last!.fvu}`);
        assert.ok(last!.fvu < first!.fvu / 10, `FVU fell from ${first!.fvu} to ${last!.fvu}`);
        // Each token mixes ~1.4 true directions (24 × 0.06); a good code is nearly as sparse.
        assert.ok(last!.l0 < 6, `L0 ${last!.l0}`);
        const found = recovered(trainer.weights().W_dec, source.directions);
        assert.ok(found >= 22, `recovered ${found} of ${nDirections} directions`);
      } finally {
        await trainer.close();
      }
    });
  });
}
