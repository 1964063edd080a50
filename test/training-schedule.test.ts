// Learning-rate and λ schedules: the values per step, the config checks, the fingerprint, and that
// a scheduled step really trains with the scheduled values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSaeTrainer } from '../core/sae/sae-trainer.js';
import { syntheticActivations } from '../core/sae/synthetic-activations.js';
import { parseTrainingConfig, resolveTrainingConfig, dictionaryConfig, sweepJobs, trainingFingerprint } from '../core/training/training-config.js';
import { NO_SCHEDULE, scheduledL1, scheduledLr } from '../core/training/training-schedule.js';

test('scheduledLr: linear warm-up, flat, linear decay to lr/D at the last step', () => {
  const s = { ...NO_SCHEDULE, lrWarmupSteps: 4, lrDecaySteps: 2 };
  const lrs = Array.from({ length: 10 }, (_, done) => scheduledLr(1, done, 10, s));
  assert.deepEqual(lrs, [0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 0.5]);
  assert.deepEqual(Array.from({ length: 3 }, (_, done) => scheduledLr(2, done, 3, NO_SCHEDULE)), [2, 2, 2]);
  // Warm-up and decay overlapping on a short training: the smaller factor wins.
  assert.deepEqual(Array.from({ length: 4 }, (_, done) => scheduledLr(1, done, 4, { ...NO_SCHEDULE, lrWarmupSteps: 2, lrDecaySteps: 2 })), [0.5, 1, 1, 0.5]);
});

test('scheduledL1: λ rises linearly over the warm-up, then stays', () => {
  const s = { ...NO_SCHEDULE, l1WarmupSteps: 4 };
  assert.deepEqual(Array.from({ length: 6 }, (_, done) => scheduledL1(8, done, s)), [2, 4, 6, 8, 8, 8]);
});

const base = { harvest: { runId: 'r', output: 's3://thresher/runs' }, hook: 'h', sizes: [64], l1Coefficients: [0.01], steps: 100 };

test('the schedule is checked against the training length and arch, each problem by field', () => {
  assert.throws(() => parseTrainingConfig({ ...base, schedule: { lrWarmupSteps: 60, lrDecaySteps: 50 } }), /- schedule\.lrDecaySteps: lrWarmupSteps \+ lrDecaySteps \(110\) exceed the 100 training steps/);
  assert.throws(() => parseTrainingConfig({ ...base, steps: undefined, totalTokens: 4096 * 10, schedule: { l1WarmupSteps: 11 } }), /- schedule\.l1WarmupSteps: \(11\) exceeds the 10 training steps/);
  assert.throws(() => parseTrainingConfig({ ...base, arch: 'topk', k: 4, l1Coefficients: undefined, schedule: { l1WarmupSteps: 10 } }), /- schedule\.l1WarmupSteps: applies to arch 'l1' only/);
  assert.throws(() => parseTrainingConfig({ ...base, schedule: { lrWarmupSteps: -1, warmup: 3 } }), (err: Error) => /- schedule\.lrWarmupSteps:/.test(err.message) && /warmup/.test(err.message));
  const parsed = parseTrainingConfig({ ...base, schedule: { l1WarmupSteps: 100 } });
  assert.deepEqual(parsed.schedule, { lrWarmupSteps: 0, lrDecaySteps: 0, l1WarmupSteps: 100 });
});

test('a schedule is kept, and fingerprinted, only when it schedules something', () => {
  const resolve = (raw: object) => {
    const c = resolveTrainingConfig(parseTrainingConfig(raw), { runId: 'r', outputUri: 's3://thresher/runs' }, 'sweep');
    return dictionaryConfig(c, sweepJobs(c)[0]);
  };
  const plain = resolve(base);
  const zeros = resolve({ ...base, schedule: {} });
  const warm = resolve({ ...base, schedule: { lrWarmupSteps: 10 } });
  assert.equal(plain.schedule, undefined);
  assert.equal(zeros.schedule, undefined);
  assert.deepEqual(warm.schedule, { lrWarmupSteps: 10, lrDecaySteps: 0, l1WarmupSteps: 0 });
  assert.equal(trainingFingerprint(zeros), trainingFingerprint(plain), 'an empty schedule does not change the fingerprint');
  assert.notEqual(trainingFingerprint(warm), trainingFingerprint(plain), 'a checkpoint of another schedule is refused');
});

test("a step given the schedule's lr and λ trains exactly as a trainer configured with them", async () => {
  const dIn = 16;
  const source = syntheticActivations({ dIn, nDirections: 8, seed: 3 });
  const batches = [source.batch(64), source.batch(64)];
  const common = { dIn, dSae: 32, batchSize: 64, arch: 'l1' as const, seed: 5, initSample: source.batch(256), deadAfterTokens: 6400 };
  const scheduled = await createSaeTrainer({ ...common, lr: 1e-2, l1Coefficient: 4e-3 });
  const fixed = await createSaeTrainer({ ...common, lr: 1e-2 / 4, l1Coefficient: 4e-3 / 8 });
  const unscheduled = await createSaeTrainer({ ...common, lr: 1e-2, l1Coefficient: 4e-3 });
  try {
    for (const b of batches) {
      const a = await scheduled.step(b, { lr: 1e-2 / 4, l1Coefficient: 4e-3 / 8 });
      const f = await fixed.step(b);
      await unscheduled.step(b);
      assert.equal(a.loss, f.loss);
    }
    assert.deepEqual(scheduled.weights(), fixed.weights());
    assert.notDeepEqual(scheduled.weights(), unscheduled.weights());
  } finally {
    await Promise.all([scheduled.close(), fixed.close(), unscheduled.close()]);
  }
});
