// Prometheus metrics of the dictionary-training stage (issue #3). Defined now so the alert rules
// (dead features) and the dashboard's training curves have fixed names to refer to; the training
// worker registers them with createTrainingMetrics and calls recordStep after each logged step.
// Labels: the run and the dictionary ("sae", a name from the run config), both bounded.
import { Gauge, type Registry } from 'prom-client';
import type { StepMetrics } from '../sae/step-metrics.js';

/** The fields of a training step these gauges show. */
export type TrainingStepSample = Pick<StepMetrics, 'step' | 'tokens' | 'loss' | 'mse' | 'fvu' | 'l0' | 'deadFraction' | 'denseFraction'>;

export interface TrainingMetrics {
  recordStep(runId: string, sae: string, m: TrainingStepSample): void;
  /** Steps the schedule plans, for progress and ETA. */
  setPlannedSteps(runId: string, sae: string, steps: number): void;
}

export const TRAINING_METRIC_NAMES = [
  'thresher_sae_step',
  'thresher_sae_steps_planned',
  'thresher_sae_trained_tokens',
  'thresher_sae_loss',
  'thresher_sae_mse',
  'thresher_sae_fvu',
  'thresher_sae_l0',
  'thresher_sae_dead_fraction',
  'thresher_sae_dense_fraction',
] as const;

export function createTrainingMetrics(registry: Registry): TrainingMetrics {
  const registers = [registry];
  // Gauges, not counters: a resumed trainer continues from its checkpointed step and tokens.
  const g = (name: string, help: string) => new Gauge({ name, help, labelNames: ['run', 'sae'], registers });
  const step = g('thresher_sae_step', 'Optimizer updates applied so far.');
  const planned = g('thresher_sae_steps_planned', 'Optimizer updates the training schedule plans.');
  const tokens = g('thresher_sae_trained_tokens', 'Activation vectors trained on so far.');
  const loss = g('thresher_sae_loss', 'Training loss of the last logged batch (reconstruction + sparsity penalty).');
  const mse = g('thresher_sae_mse', 'Mean squared reconstruction error per element, last logged batch.');
  const fvu = g('thresher_sae_fvu', 'Fraction of variance unexplained, last logged batch (0 is perfect, 1 is no better than the mean).');
  const l0 = g('thresher_sae_l0', 'Mean number of active features per token, last logged batch.');
  const dead = g('thresher_sae_dead_fraction', 'Fraction of features that have not fired within the dead-feature window.');
  const dense = g('thresher_sae_dense_fraction', 'Fraction of features active on more than the dense threshold of tokens.');
  return {
    recordStep(run, sae, m) {
      const l = { run, sae };
      step.set(l, m.step);
      tokens.set(l, m.tokens);
      loss.set(l, m.loss);
      mse.set(l, m.mse);
      fvu.set(l, m.fvu);
      l0.set(l, m.l0);
      dead.set(l, m.deadFraction);
      dense.set(l, m.denseFraction);
    },
    setPlannedSteps(run, sae, steps) {
      planned.set({ run, sae }, steps);
    },
  };
}
