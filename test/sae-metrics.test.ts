// Step metrics (MSE, FVU, L0, L1, dead and dense fractions) and the dead-feature counter, on
// hand-computable inputs; and config validation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { referenceForward } from '../core/sae/reference-forward.js';
import { resolveSaeConfig, SaeConfigError } from '../core/sae/sae-config.js';
import { FiringTracker, stepMetrics } from '../core/sae/step-metrics.js';
import { zeroWeights } from '../core/sae/sae-weights.js';

describe('stepMetrics', () => {
  const cfg = resolveSaeConfig({ dIn: 2, dSae: 3, batchSize: 2, l1Coefficient: 0.5, deadAfterTokens: 4, denseThreshold: 0.6 });

  it('computes every metric from the step sums', () => {
    // Identity-ish SAE: features 0 and 1 copy the two inputs, feature 2 never fires.
    const w = zeroWeights(2, 3);
    w.W_enc.set([1, 0, 0, 0, 1, 0]);
    w.W_dec.set([1, 0, 0, 1, 0.6, 0.8]);
    w.b_enc[2] = -1;
    const x = Float32Array.of(1, 0, 3, 2);
    const fw = referenceForward(w, x, cfg);
    assert.equal(fw.sumSqErr, 0);
    const tracker = new FiringTracker(3, cfg.deadAfterTokens);
    tracker.update(fw.fireCount, 2);
    const m = stepMetrics(fw, cfg, 2, 1, 2, tracker);
    assert.equal(m.mse, 0);
    assert.equal(m.fvu, 0);
    assert.equal(m.l0, 1.5); // token 0: feature 0; token 1: features 0 and 1
    assert.equal(m.l1, 3); // (1 + 3 + 2) / 2
    assert.equal(m.loss, 0.5 * 3);
    assert.equal(m.deadFraction, 0); // 2 tokens silent < 4
    assert.equal(m.denseFraction, 1 / 3); // feature 0 on 2/2 tokens > 0.6; feature 1 on 1/2 is not
  });

  it('FVU is squared error over the batch variance', () => {
    const sums = { sumSqErr: 2, sumSqDev: 8, l1Sum: 0, auxNum: 0, auxDen: 0, fireCount: [0, 0, 0] };
    const m = stepMetrics(sums, cfg, 2, 1, 2, new FiringTracker(3, 4));
    assert.equal(m.fvu, 0.25);
    assert.equal(m.mse, 0.5);
  });

  it('a feature is dead after deadAfterTokens silent tokens and revives when it fires', () => {
    const t = new FiringTracker(3, 4);
    t.update([1, 0, 0], 2);
    assert.deepEqual(t.deadIndices(), []);
    t.update([0, 0, 2], 2);
    assert.deepEqual(t.deadIndices(), [1]);
    assert.deepEqual([...t.deadMask()], [0, 1, 0]);
    t.update([0, 3, 0], 2);
    assert.deepEqual(t.deadIndices(), [0]);
    t.reset([0]);
    assert.deepEqual(t.deadIndices(), []);
  });
});

describe('resolveSaeConfig', () => {
  it('fills defaults and lists every problem', () => {
    const c = resolveSaeConfig({ dIn: 512, dSae: 4096, arch: 'topk', k: 32, batchSize: 4096 });
    assert.equal(c.kAux, 256);
    assert.equal(c.auxKCoefficient, 1 / 32);
    assert.equal(c.lr, 1e-4);
    assert.throws(
      () => resolveSaeConfig({ dIn: 0, dSae: 8, arch: 'topk', k: 9, batchSize: 1.5, lr: -1 }),
      (e: Error) => e instanceof SaeConfigError && ['dIn', 'batchSize', 'k (9)', 'lr'].every((s) => e.message.includes(s)),
    );
    assert.throws(() => resolveSaeConfig({ dIn: 4, dSae: 8, batchSize: 2 }), /l1Coefficient is required/);
  });
});
