// Logit effects: a hand-built model whose answer is known, the demo model (shapes, finite
// values), the float_data encoding, and the "not available" path for models without the weights.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, TensorProtoSchema, TensorProto_DataType, type TensorProto } from 'onnx-buf';
import { floatTensor } from '../core/demo/onnx-proto-builder.js';
import { zeroWeights } from '../core/sae/sae-weights.js';
import {
  estimateResidualScale, featureLogitEffects, loadLogitWeights, logitEffects, logitEffectVector, logitWeightNamesForHook, type LogitWeights,
} from '../core/stats/logit-effects.js';

const DEMO_MODEL = fileURLToPath(new URL('../../assets/demo/model.onnx', import.meta.url));

const modelWith = (initializer: TensorProto[]) => create(ModelProtoSchema, { graph: create(GraphProtoSchema, { initializer }) });

/**
 * d_mlp 2, d_model 2, vocab 3. W_out = I, γ = (1, 3), W_U maps residual dim 0 to token 0 and
 * dim 1 to token 2. Direction (1, 0) → residual (1, 0) → centred (0.5, −0.5) → γ ⊙ = (0.5, −1.5)
 * → logits (0.5, 0, −1.5).
 */
function tinyModel() {
  return modelWith([
    floatTensor('blocks.0.mlp.W_out', [2, 2], [1, 0, 0, 1]),
    floatTensor('ln_final.w', [2], [1, 3]),
    floatTensor('ln_final.b', [2], [5, 5]),
    floatTensor('unembed.W_U', [2, 3], [1, 0, 0, 0, 0, 1]),
  ]);
}

function loaded(model: Parameters<typeof loadLogitWeights>[0]): LogitWeights {
  const r = loadLogitWeights(model);
  if (!r.ok) assert.fail(r.reason);
  return r.weights;
}

describe('logit effects', () => {
  it('match the hand-computed linearisation on a tiny model', () => {
    const w = loaded(tinyModel());
    assert.deepEqual([w.dMlp, w.dModel, w.vocab], [2, 2, 3]);
    assert.deepEqual(Array.from(logitEffectVector(w, [1, 0])), [0.5, 0, -1.5]);
    // σ̂ divides everything; the ranking is unchanged.
    assert.deepEqual(Array.from(logitEffectVector(w, [1, 0], 2)), [0.25, 0, -0.75]);
    // A direction along the all-ones residual vector is removed by the LayerNorm's centring.
    assert.deepEqual(Array.from(logitEffectVector(w, [1, 1])), [0, 0, 0]);

    const fx = logitEffects(w, [1, 0], { topN: 2, bins: 4 });
    assert.deepEqual(fx.topPositive, [{ token: 0, effect: 0.5 }, { token: 1, effect: 0 }]);
    assert.deepEqual(fx.topNegative, [{ token: 2, effect: -1.5 }, { token: 1, effect: 0 }]);
    // Bins of width 0.5 over [−1.5, 0.5]: −1.5 → bin 0, 0 → bin 3, 0.5 (the max) → last bin.
    assert.deepEqual(fx.histogram, { min: -1.5, max: 0.5, counts: [1, 0, 0, 2] });

    const sae = zeroWeights(2, 2);
    sae.W_dec.set([0, 0, 1, 0]); // feature 1's direction is (1, 0)
    assert.deepEqual(featureLogitEffects(w, sae, 1, { topN: 1 }).topPositive, [{ token: 0, effect: 0.5 }]);
    assert.throws(() => logitEffectVector(w, [1, 0, 0]), /d_mlp 2/);
  });

  it('reads weights stored as float_data too', () => {
    const asFloatData = (name: string, dims: number[], values: number[]) =>
      create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType: TensorProto_DataType.FLOAT, floatData: values });
    const w = loaded(modelWith([
      asFloatData('blocks.0.mlp.W_out', [2, 2], [1, 0, 0, 1]),
      asFloatData('ln_final.w', [2], [1, 3]),
      asFloatData('unembed.W_U', [2, 3], [1, 0, 0, 0, 0, 1]),
    ]));
    assert.deepEqual(Array.from(logitEffectVector(w, [1, 0])), [0.5, 0, -1.5]);
  });

  it('says "not available" for a model without the weights', () => {
    const missing = loadLogitWeights(modelWith([floatTensor('blocks.0.mlp.W_out', [2, 2], [1, 0, 0, 1])]));
    assert.deepEqual(missing, { ok: false, reason: 'not available: missing initializer ln_final.w' });
    const wrongType = loadLogitWeights(modelWith([
      create(TensorProtoSchema, { name: 'blocks.0.mlp.W_out', dims: [1n], dataType: TensorProto_DataType.INT64, int64Data: [1n] }),
    ]));
    assert.equal(wrongType.ok, false);
    assert.match((wrongType as { reason: string }).reason, /^not available: initializer blocks\.0\.mlp\.W_out has data type INT64/);
    const mismatched = loadLogitWeights(modelWith([
      floatTensor('blocks.0.mlp.W_out', [2, 2], [1, 0, 0, 1]), floatTensor('ln_final.w', [3], [1, 1, 1]), floatTensor('unembed.W_U', [2, 1], [1, 1]),
    ]));
    assert.match((mismatched as { reason: string }).reason, /do not chain/);
  });

  it('on the demo model: 512 → 128 → vocab, finite values', () => {
    const bytes = new Uint8Array(readFileSync(DEMO_MODEL));
    const w = loaded(bytes);
    assert.equal(w.dMlp, 512);
    assert.equal(w.dModel, 128);
    assert.ok(w.vocab > 1000, `vocab ${w.vocab}`);
    const direction = new Float32Array(512);
    direction[7] = 0.6; direction[300] = -0.8;
    const fx = logitEffects(w, direction, { topN: 10, bins: 20, residualScale: 0.7 });
    assert.equal(fx.topPositive.length, 10);
    assert.equal(fx.topNegative.length, 10);
    assert.equal(fx.histogram.counts.reduce((a, b) => a + b, 0), w.vocab);
    for (const t of [...fx.topPositive, ...fx.topNegative]) {
      assert.ok(Number.isFinite(t.effect) && Number.isInteger(t.token) && t.token >= 0 && t.token < w.vocab);
    }
    assert.ok(fx.topPositive[0].effect > 0 && fx.topNegative[0].effect < 0);
    for (let n = 1; n < 10; n++) assert.ok(fx.topPositive[n].effect <= fx.topPositive[n - 1].effect);
    // The demo model lacks e.g. an eighth block: naming it gives "not available", not an exception.
    assert.deepEqual(loadLogitWeights(bytes, { wOut: 'blocks.7.mlp.W_out' }), { ok: false, reason: 'not available: missing initializer blocks.7.mlp.W_out' });
  });

  it('reads the W_out of the block whose MLP the dictionary was trained on', () => {
    assert.deepEqual(logitWeightNamesForHook('blocks.1.mlp.hook_post'), { wOut: 'blocks.1.mlp.W_out' });
    assert.deepEqual(logitWeightNamesForHook('blocks.12.mlp.hook_post'), { wOut: 'blocks.12.mlp.W_out' });
    for (const other of ['blocks.1.hook_resid_post', 'blocks.1.mlp.hook_pre', '/transformer/h.0/mlp/act/Mul_3_output_0', undefined]) {
      assert.deepEqual(logitWeightNamesForHook(other), {}, String(other));
    }
  });

  it('estimates σ̂ as the mean per-row standard deviation', () => {
    assert.equal(estimateResidualScale([1, -1, 3, 3, 5, 1], 2), (1 + 0 + 2) / 3);
  });
});
