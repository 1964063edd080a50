// Learning-rate and λ schedules of a dictionary's training, as SAE practice uses them: a linear
// learning-rate warm-up, a linear decay over the last steps, and a linear λ warm-up so features
// are not killed by the sparsity penalty before the reconstruction has formed. Each value is a pure
// function of the step index, so a training resumed from a checkpoint follows the same schedule.

export interface TrainingSchedule {
  /** Steps over which the learning rate rises linearly to `lr` (lr·t/W at the t-th step). 0: none. */
  lrWarmupSteps: number;
  /** Last steps over which the learning rate falls linearly (lr/D at the final step). 0: none. */
  lrDecaySteps: number;
  /** Steps over which λ rises linearly to its value ('l1' only). 0: none. */
  l1WarmupSteps: number;
}

export const NO_SCHEDULE: TrainingSchedule = { lrWarmupSteps: 0, lrDecaySteps: 0, l1WarmupSteps: 0 };

export const isScheduled = (s: TrainingSchedule | undefined): s is TrainingSchedule =>
  s !== undefined && (s.lrWarmupSteps > 0 || s.lrDecaySteps > 0 || s.l1WarmupSteps > 0);

/** The learning rate of the step taken after `done` steps (0-based) of `steps`. */
export function scheduledLr(lr: number, done: number, steps: number, s: TrainingSchedule): number {
  let factor = 1;
  if (done < s.lrWarmupSteps) factor = (done + 1) / s.lrWarmupSteps;
  const left = steps - done; // this step included
  if (left <= s.lrDecaySteps) factor = Math.min(factor, left / s.lrDecaySteps);
  return lr * factor;
}

/** λ of the step taken after `done` steps. */
export function scheduledL1(l1: number, done: number, s: TrainingSchedule): number {
  return done < s.l1WarmupSteps ? (l1 * (done + 1)) / s.l1WarmupSteps : l1;
}

/** Why a schedule does not fit a training of `steps` steps: one entry per problem, none when it fits. */
export function scheduleProblems(s: TrainingSchedule, steps: number, arch: 'l1' | 'topk'): { field: keyof TrainingSchedule; message: string }[] {
  const problems: { field: keyof TrainingSchedule; message: string }[] = [];
  if (s.lrWarmupSteps + s.lrDecaySteps > steps) {
    problems.push({ field: 'lrDecaySteps', message: `lrWarmupSteps + lrDecaySteps (${s.lrWarmupSteps + s.lrDecaySteps}) exceed the ${steps} training steps` });
  }
  if (s.l1WarmupSteps > steps) problems.push({ field: 'l1WarmupSteps', message: `(${s.l1WarmupSteps}) exceeds the ${steps} training steps` });
  if (arch === 'topk' && s.l1WarmupSteps > 0) problems.push({ field: 'l1WarmupSteps', message: "applies to arch 'l1' only (TopK has no λ)" });
  return problems;
}
