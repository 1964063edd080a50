// What a training worker exports for Prometheus: the thresher_sae_* gauges of training-metrics.ts
// (names fixed for the alert rules and the dashboard) plus the remaining signals — L1,
// tokens/s, resample events and the last checkpoint step — and a scheduled step's lr and λ. One
// recorder per registry, however many worker sets a process creates on it (prom-client refuses a
// metric registered twice).
import { Counter, Gauge, type Registry } from 'prom-client';
import { createTrainingMetrics } from './training-metrics.js';
import type { StepRecord } from '../training/metrics-log.js';

export const TRAINING_STAGE_METRIC_NAMES = [
  'thresher_sae_l1',
  'thresher_sae_tokens_per_second',
  'thresher_sae_resample_events_total',
  'thresher_sae_resampled_features_total',
  'thresher_sae_checkpoint_step',
  'thresher_sae_lr',
  'thresher_sae_l1_coefficient',
] as const;

export interface TrainingRecorder {
  setPlannedSteps(runId: string, sae: string, steps: number): void;
  step(runId: string, sae: string, r: StepRecord): void;
  checkpoint(runId: string, sae: string, step: number): void;
}

const recorders = new WeakMap<Registry, TrainingRecorder>();

export function trainingRecorder(registry: Registry): TrainingRecorder {
  const known = recorders.get(registry);
  if (known) return known;
  const base = createTrainingMetrics(registry);
  const registers = [registry];
  const labelNames = ['run', 'sae'];
  const l1 = new Gauge({ name: 'thresher_sae_l1', help: 'Mean sum of |feature activations| per token, last step.', labelNames, registers });
  const speed = new Gauge({ name: 'thresher_sae_tokens_per_second', help: 'Training throughput of the last step (data waits included).', labelNames, registers });
  const events = new Counter({ name: 'thresher_sae_resample_events_total', help: 'Dead-feature resampling events.', labelNames, registers });
  const features = new Counter({ name: 'thresher_sae_resampled_features_total', help: 'Features resampled, summed over events.', labelNames, registers });
  const ckpt = new Gauge({ name: 'thresher_sae_checkpoint_step', help: 'Step of the newest checkpoint in S3 (a retry resumes there).', labelNames, registers });
  // Exported only for scheduled trainings (config `schedule`): the values the last step used.
  const lr = new Gauge({ name: 'thresher_sae_lr', help: 'Learning rate of the last step, when the training schedules it.', labelNames, registers });
  const lambda = new Gauge({ name: 'thresher_sae_l1_coefficient', help: 'Sparsity coefficient λ of the last step, when the training schedules it.', labelNames, registers });
  const recorder: TrainingRecorder = {
    setPlannedSteps: (run, sae, steps) => base.setPlannedSteps(run, sae, steps),
    step(run, sae, r) {
      base.recordStep(run, sae, r);
      const l = { run, sae };
      l1.set(l, r.l1);
      speed.set(l, r.tokensPerSecond);
      if (r.lr !== undefined) lr.set(l, r.lr);
      if (r.l1Coefficient !== undefined) lambda.set(l, r.l1Coefficient);
      if (r.resampled > 0) {
        events.inc(l);
        features.inc(l, r.resampled);
      }
    },
    checkpoint: (run, sae, step) => ckpt.set({ run, sae }, step),
  };
  recorders.set(registry, recorder);
  return recorder;
}
