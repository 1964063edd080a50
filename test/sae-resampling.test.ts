// Dead-feature resampling: planted dead features (encoder bias far below zero, so they never fire)
// are given inputs the model reconstructs badly, and fire on those inputs afterwards.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../core/random/seeded-random.js';
import { zeroAdamState } from '../core/sae/adam-state.js';
import { RESAMPLE_ENCODER_NORM_FACTOR, resampleDeadFeatures } from '../core/sae/dead-resampling.js';
import { referenceForward } from '../core/sae/reference-forward.js';
import { initSaeWeights } from '../core/sae/sae-init.js';
import { createSaeTrainer } from '../core/sae/sae-trainer.js';
import { reconstructionErrors } from '../core/sae/sae-encoder-model.js';
import { syntheticActivations } from '../core/sae/synthetic-activations.js';
import type { SaeWeights } from '../core/sae/sae-weights.js';

const dIn = 12;
const dSae = 32;
const PLANTED = [2, 7, 19, 30];
const L1 = { arch: 'l1' as const, l1Coefficient: 0.01, k: 0, kAux: 0, auxKCoefficient: 0 };

function data(rows: number, seed = 1): Float32Array {
  return syntheticActivations({ dIn, nDirections: 20, density: 0.1, seed }).batch(rows);
}

function plantedWeights(sample: Float32Array): SaeWeights {
  const w = initSaeWeights({ dIn, dSae, arch: 'l1', seed: 3, sample });
  for (const i of PLANTED) w.b_enc[i] = -100;
  return w;
}

function encoderRowNorm(w: SaeWeights, i: number): number {
  let n2 = 0;
  for (let j = 0; j < dIn; j++) n2 += w.W_enc[j * dSae + i] ** 2;
  return Math.sqrt(n2);
}

describe('resampleDeadFeatures', () => {
  it('revives planted dead features on the inputs they were given, leaving everything else alone', async () => {
    const inputs = data(400);
    const w = plantedWeights(inputs);
    const before = referenceForward(w, inputs, L1);
    for (const i of PLANTED) assert.equal(before.fireCount[i], 0, `feature ${i} is dead before`);

    const adam = zeroAdamState(dIn, dSae);
    adam.step = 42;
    for (const t of [adam.m, adam.v]) for (const name of ['W_enc', 'W_dec', 'b_enc', 'b_dec'] as const) t[name].fill(0.5);
    const wBefore = structuredClone(w);
    const losses = await reconstructionErrors(w, L1, inputs);
    const rng = new SeededRandom(9);
    const result = resampleDeadFeatures({ weights: w, adam, dead: PLANTED, inputs, losses, random: () => rng.next() });

    assert.deepEqual(w, wBefore, 'inputs are not mutated');
    assert.ok(adam.m.W_enc.every((v) => v === 0.5), 'adam state passed in is not mutated');
    const after = referenceForward(result.weights, inputs, L1);
    const live = Array.from({ length: dSae }, (_, i) => i).filter((i) => !PLANTED.includes(i));
    const liveNorm = live.reduce((s, i) => s + encoderRowNorm(w, i), 0) / live.length;
    assert.ok(Math.abs(result.liveEncoderNorm - liveNorm) < 1e-5);

    PLANTED.forEach((i, n) => {
      const c = result.chosenInputs[n];
      assert.ok(after.f[c * dSae + i] > 0, `feature ${i} fires on its input ${c}`);
      assert.ok(after.fireCount[i] > 0);
      assert.equal(result.weights.b_enc[i], 0);
      const x = inputs.subarray(c * dIn, (c + 1) * dIn);
      const xNorm = Math.hypot(...x);
      for (let j = 0; j < dIn; j++) {
        assert.ok(Math.abs(result.weights.W_dec[i * dIn + j] - x[j] / xNorm) < 1e-6, 'decoder row = normalised input');
      }
      assert.ok(Math.abs(encoderRowNorm(result.weights, i) - RESAMPLE_ENCODER_NORM_FACTOR * liveNorm) < 1e-5, 'encoder row norm = 0.2 × live mean');
      assert.equal(result.adam.m.b_enc[i], 0);
      assert.equal(result.adam.v.b_enc[i], 0);
      for (let j = 0; j < dIn; j++) {
        assert.equal(result.adam.m.W_dec[i * dIn + j], 0);
        assert.equal(result.adam.v.W_enc[j * dSae + i], 0);
      }
    });
    // Live features and their optimizer state are untouched; the step count is kept.
    for (const i of live) {
      assert.equal(result.weights.b_enc[i], w.b_enc[i]);
      assert.equal(result.adam.m.b_enc[i], 0.5);
      for (let j = 0; j < dIn; j++) assert.equal(result.weights.W_dec[i * dIn + j], w.W_dec[i * dIn + j]);
    }
    assert.equal(result.adam.step, 42);
    assert.ok(result.adam.m.b_dec.every((v) => v === 0.5));
  });

  it('draws inputs with probability ∝ loss², never one with zero loss', () => {
    const inputs = data(4, 2);
    const w = plantedWeights(inputs);
    const losses = [0, 1, 0, 3]; // weights 1 : 9
    const counts = [0, 0, 0, 0];
    const all = Array.from({ length: dSae }, (_, i) => i);
    for (let seed = 0; seed < 40; seed++) {
      const rng = new SeededRandom(seed);
      const r = resampleDeadFeatures({ weights: w, adam: zeroAdamState(dIn, dSae), dead: all, inputs, losses, random: () => rng.next() });
      for (const c of r.chosenInputs) counts[c]++;
    }
    const total = counts.reduce((a, b) => a + b, 0);
    assert.equal(counts[0] + counts[2], 0);
    const share = counts[3] / total;
    assert.ok(share > 0.86 && share < 0.94, `share of the loss-3 input ${share}, expected ≈ 0.9`);
  });

  it('is reproducible for the same seed', () => {
    const inputs = data(100, 3);
    const w = plantedWeights(inputs);
    const losses = Array.from({ length: 100 }, (_, i) => (i % 7) + 1);
    const once = (seed: number) => {
      const rng = new SeededRandom(seed);
      return resampleDeadFeatures({ weights: w, adam: zeroAdamState(dIn, dSae), dead: PLANTED, inputs, losses, random: () => rng.next() }).chosenInputs;
    };
    assert.deepEqual(once(5), once(5));
  });
});

describe('SaeTrainer.resample', () => {
  it('finds planted dead features after the dead window, resamples them with ONNX-computed losses, and they fire', async () => {
    const batchSize = 64;
    const source = syntheticActivations({ dIn, nDirections: 20, density: 0.1, seed: 6 });
    const sample = source.batch(256);
    const trainer = await createSaeTrainer({
      dIn, dSae, batchSize, arch: 'l1', l1Coefficient: 0.01, lr: 1e-3, seed: 3, deadAfterTokens: 3 * batchSize,
      initialState: { weights: plantedWeights(sample), adam: zeroAdamState(dIn, dSae) },
    });
    try {
      for (let s = 0; s < 4; s++) await trainer.step(source.batch(batchSize));
      const dead = trainer.deadFeatures();
      for (const i of PLANTED) assert.ok(dead.includes(i), `planted feature ${i} reported dead (dead: ${dead})`);
      const candidates = source.batch(512);
      const report = await trainer.resample({ inputs: candidates, seed: 1 });
      assert.deepEqual(report.resampled, dead);
      assert.deepEqual(trainer.deadFeatures(), [], 'dead counters reset');
      const f = referenceForward(trainer.weights(), candidates, L1).f;
      report.resampled.forEach((i, n) => assert.ok(f[report.chosenInputs[n] * dSae + i] > 0, `feature ${i} fires on its input`));
      const m = await trainer.step(candidates.subarray(0, batchSize * dIn));
      assert.ok(Number.isFinite(m.loss));
    } finally {
      await trainer.close();
    }
  });
});
