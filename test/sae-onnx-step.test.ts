// The ONNX training step against the plain TypeScript reference: same init, same batches, same
// loss trajectory. The two differ only in float32 summation order inside GEMMs (the reference sums
// in float64), so a relative tolerance of 1e-4 over 20 Adam steps is generous but still catches
// any formula difference (those show up at 1e-2 or worse within a few steps).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSaeTrainer, type CreateSaeTrainerOptions, type SaeTrainer } from '../core/sae/sae-trainer.js';
import { syntheticActivations } from '../core/sae/synthetic-activations.js';
import type { StepMetrics } from '../core/sae/step-metrics.js';
import type { SaeWeights } from '../core/sae/sae-weights.js';

const LOSS_RTOL = 1e-4;
const WEIGHT_ATOL = 1e-4;
const dIn = 16;
const dSae = 64;
const batchSize = 64;

function batches(count: number, seed = 3): Float32Array[] {
  const source = syntheticActivations({ dIn, nDirections: 24, density: 0.1, seed });
  return Array.from({ length: count }, () => source.batch(batchSize));
}

async function run(trainer: SaeTrainer, data: Float32Array[]): Promise<StepMetrics[]> {
  const out: StepMetrics[] = [];
  for (const x of data) out.push(await trainer.step(x));
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function assertUnitDecoderRows(w: SaeWeights, label: string): void {
  for (let i = 0; i < w.dSae; i++) {
    const norm = Math.hypot(...w.W_dec.subarray(i * w.dIn, (i + 1) * w.dIn));
    assert.ok(Math.abs(norm - 1) < 1e-5, `${label}: decoder row ${i} has norm ${norm}`);
  }
}

async function compare(options: Omit<CreateSaeTrainerOptions, 'backend'>, steps: number): Promise<{ ref: StepMetrics[]; onnx: StepMetrics[] }> {
  const data = batches(steps);
  const reference = await createSaeTrainer({ ...options, backend: 'reference', initSample: data[0] });
  const onnx = await createSaeTrainer({ ...options, backend: 'onnx', initSample: data[0] });
  try {
    const ref = await run(reference, data);
    const got = await run(onnx, data);
    for (let s = 0; s < steps; s++) {
      const rel = Math.abs(got[s].loss - ref[s].loss) / Math.abs(ref[s].loss);
      assert.ok(rel <= LOSS_RTOL, `step ${s + 1}: ONNX loss ${got[s].loss} vs reference ${ref[s].loss} (rel ${rel.toExponential(2)})`);
      assert.equal(got[s].l0, ref[s].l0, `step ${s + 1}: L0`);
      assert.equal(got[s].deadFraction, ref[s].deadFraction, `step ${s + 1}: dead fraction`);
    }
    assert.ok(ref[steps - 1].mse < ref[0].mse, 'training lowers the reconstruction error');
    const wr = reference.weights();
    const wo = onnx.weights();
    for (const name of ['W_enc', 'W_dec', 'b_enc', 'b_dec'] as const) {
      assert.ok(maxAbsDiff(wr[name], wo[name]) <= WEIGHT_ATOL, `${name} differs by ${maxAbsDiff(wr[name], wo[name])}`);
    }
    assertUnitDecoderRows(wr, 'reference');
    assertUnitDecoderRows(wo, 'onnx');
    return { ref, onnx: got };
  } finally {
    await reference.close();
    await onnx.close();
  }
}

describe('ONNX training step vs reference', () => {
  it('L1 SAE: same loss trajectory over 20 steps (rel 1e-4), same weights, unit decoder rows', async () => {
    await compare({ dIn, dSae, batchSize, arch: 'l1', l1Coefficient: 0.02, lr: 3e-3, seed: 11 }, 20);
  });

  it('TopK SAE with AuxK: same trajectory while latents die and AuxK switches on', async () => {
    const { ref } = await compare(
      { dIn, dSae, batchSize, arch: 'topk', k: 4, kAux: 8, auxKCoefficient: 0.25, lr: 3e-3, seed: 12, deadAfterTokens: 2 * batchSize },
      20,
    );
    assert.ok(ref.some((m) => m.auxK > 0), 'AuxK was exercised');
    assert.ok(ref.every((m) => m.l0 === 4), 'TopK keeps exactly k active');
  });

  it("'fresh' ORT-allocated outputs give the same steps as the ping-pong buffers", async () => {
    const data = batches(5, 8);
    const options = { dIn, dSae, batchSize, arch: 'l1' as const, l1Coefficient: 0.02, lr: 3e-3, seed: 2, initSample: data[0] };
    const a = await createSaeTrainer({ ...options, onnx: { outputs: 'pingpong' } });
    const b = await createSaeTrainer({ ...options, onnx: { outputs: 'fresh' } });
    const ma = await run(a, data);
    const mb = await run(b, data);
    ma.forEach((m, i) => assert.ok(Math.abs(m.loss - mb[i].loss) <= 1e-6 * m.loss, `step ${i + 1}`));
    assert.ok(maxAbsDiff(a.weights().W_enc, b.weights().W_enc) <= 1e-6);
    await a.close();
    await b.close();
  });

  it('state() / load() resumes exactly: optimizer moments, step count and dead counters included', async () => {
    const data = batches(10, 9);
    const options = { dIn, dSae, batchSize, arch: 'topk' as const, k: 4, lr: 3e-3, seed: 5, deadAfterTokens: batchSize, initSample: data[0] };
    const straight = await createSaeTrainer(options);
    const expected = await run(straight, data);
    const first = await createSaeTrainer(options);
    await run(first, data.slice(0, 5));
    const saved = first.state();
    assert.equal(saved.adam.step, 5);
    assert.equal(saved.tokens, 5 * batchSize);
    const resumed = await createSaeTrainer({ ...options, initSample: undefined, initialState: saved });
    const rest = await run(resumed, data.slice(5));
    rest.forEach((m, i) => {
      assert.equal(m.step, i + 6);
      assert.ok(Math.abs(m.loss - expected[i + 5].loss) <= 1e-6 * expected[i + 5].loss, `step ${m.step}: ${m.loss} vs ${expected[i + 5].loss}`);
      assert.equal(m.deadFraction, expected[i + 5].deadFraction);
    });
    for (const t of [straight, first, resumed]) await t.close();
  });

  it('without an init sample, b_dec starts at the geometric median of the first batch', async () => {
    const data = batches(1, 4);
    const trainer = await createSaeTrainer({ dIn, dSae, batchSize, arch: 'l1', l1Coefficient: 0.02, lr: 1e-9, seed: 1, backend: 'reference' });
    assert.ok(trainer.weights().b_dec.every((v) => v === 0));
    await trainer.step(data[0]);
    const { geometricMedian } = await import('../core/sae/geometric-median.js');
    const median = geometricMedian(data[0], dIn).median;
    assert.ok(maxAbsDiff(trainer.weights().b_dec, median) < 1e-6);
    await trainer.close();
  });
});
