// The inference-only encoder model (x → feature activations, optional ‖x − x̂‖²) agrees with the
// reference forward pass for both architectures, for any batch size.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { referenceForward } from '../core/sae/reference-forward.js';
import { initSaeWeights } from '../core/sae/sae-init.js';
import { buildSaeEncoderModel, ENCODER_INPUT, ENCODER_OUTPUTS, reconstructionErrors } from '../core/sae/sae-encoder-model.js';
import { syntheticActivations } from '../core/sae/synthetic-activations.js';

const dIn = 10;
const dSae = 40;

for (const arch of ['l1', 'topk'] as const) {
  describe(`SAE encoder model (${arch})`, () => {
    const cfg = { arch, l1Coefficient: 0, k: 6, kAux: 4, auxKCoefficient: 0 };
    const sample = syntheticActivations({ dIn, nDirections: 12, seed: 3 }).batch(200);
    const w = initSaeWeights({ dIn, dSae, arch, seed: 8, sample });
    const ref = referenceForward(w, sample, cfg);

    it('feature activations match the reference forward pass', async () => {
      const session = await ort.InferenceSession.create(buildSaeEncoderModel(w, { arch, k: cfg.k }));
      try {
        for (const rows of [1, 7, 200]) {
          const out = await session.run({ [ENCODER_INPUT]: new ort.Tensor('float32', sample.subarray(0, rows * dIn), [rows, dIn]) });
          const acts = out[ENCODER_OUTPUTS.acts].data as Float32Array;
          assert.deepEqual(out[ENCODER_OUTPUTS.acts].dims, [rows, dSae]);
          for (let n = 0; n < rows * dSae; n++) assert.ok(Math.abs(acts[n] - ref.f[n]) < 1e-5, `rows ${rows}, element ${n}: ${acts[n]} vs ${ref.f[n]}`);
        }
        assert.deepEqual(session.outputNames, [ENCODER_OUTPUTS.acts]);
      } finally {
        await session.release();
      }
    });

    it('per-input squared reconstruction error matches, across chunk boundaries', async () => {
      const errors = await reconstructionErrors(w, cfg, sample, 64);
      for (let b = 0; b < 200; b++) {
        let e = 0;
        for (let j = 0; j < dIn; j++) e += ref.err[b * dIn + j] ** 2;
        assert.ok(Math.abs(errors[b] - e) <= 1e-4 * Math.max(1, e), `row ${b}: ${errors[b]} vs ${e}`);
      }
    });
  });
}
