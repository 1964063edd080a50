// The public face of SAE training: createSaeTrainer() → step / weights / state / load / resample.
// It owns what is not the step's business — Adam's step count, the dead-feature counter, b_dec's
// geometric-median start, metrics — and delegates the step itself to the ONNX graph or the
// reference implementation.
//
//   const trainer = await createSaeTrainer({ dIn: 512, dSae: 4096, arch: 'l1', l1Coefficient: 5e-3,
//                                           batchSize: 4096, lr: 1e-4, seed: 0, initSample });
//   for (const batch of batches) log(await trainer.step(batch));      // StepMetrics
//   if (step % 25_000 === 0) await trainer.resample({ inputs: sample }); // paper schedule
//   await writeSaeDictionary(dir, trainer.weights(), trainer.config);   // sae-dictionary-files.ts
//   await trainer.close();
import { SeededRandom } from '../random/seeded-random.js';
import { cloneAdamState, zeroAdamState, type AdamState } from './adam-state.js';
import { resampleDeadFeatures } from './dead-resampling.js';
import { geometricMedian } from './geometric-median.js';
import type { OnnxTrainStepOptions } from './onnx-train-step.js';
import { reconstructionErrors } from './sae-encoder-model.js';
import { resolveSaeConfig, type ResolvedSaeConfig, type SaeTrainerOptions } from './sae-config.js';
import { initSaeWeights } from './sae-init.js';
import { assertWeightShapes, cloneWeights, type SaeWeights } from './sae-weights.js';
import { FiringTracker, stepMetrics, type StepMetrics } from './step-metrics.js';
import { openBackend, type SaeBackendName, type TrainBackend } from './train-backends.js';

export interface CreateSaeTrainerOptions extends SaeTrainerOptions {
  /** Default 'onnx'. 'reference' is plain TypeScript: exact but only usable at small sizes. */
  backend?: SaeBackendName;
  /** Session settings for the 'onnx' backend. */
  onnx?: OnnxTrainStepOptions;
  /**
   * Activations ([n × d_in]) whose geometric median starts b_dec. Without one (and without
   * initialState) the first batch passed to step() is used, before that step's update.
   */
  initSample?: Float32Array;
  /** Resume from a saved state instead of initialising. */
  initialState?: SaeTrainerState;
}

/** Everything needed to continue training exactly where it stopped. */
export interface SaeTrainerState {
  weights: SaeWeights;
  adam: AdamState;
  /** Per feature, tokens since it last fired; all 0 when absent. */
  tokensSinceFired?: Float64Array;
  /** Tokens trained on so far; 0 when absent. */
  tokens?: number;
}

export interface StepOptions {
  /** Learning rate for this step (schedules); default config.lr. */
  lr?: number;
  /** λ for this step ('l1' warm-up); default config.l1Coefficient. */
  l1Coefficient?: number;
}

export interface ResampleOptions {
  /** Candidate inputs, [n × d_in]. */
  inputs: Float32Array;
  /** Per-input loss; default ‖x − x̂‖² under the current weights, computed with ONNX. */
  losses?: ArrayLike<number>;
  /** Seeds which inputs are drawn. Default: the config seed combined with the step count. */
  seed?: number;
  /** Features to resample; default the currently dead ones. */
  features?: readonly number[];
}

export interface ResampleReport {
  resampled: number[];
  chosenInputs: number[];
}

export interface SaeTrainer {
  readonly config: ResolvedSaeConfig;
  readonly backend: SaeBackendName;
  /** One update on `batch` ([config.batchSize × d_in], row-major); metrics describe the batch before the update. */
  step(batch: Float32Array, options?: StepOptions): Promise<StepMetrics>;
  /** A copy of the current weights. */
  weights(): SaeWeights;
  /** A copy of the Adam state. */
  optimizerState(): AdamState;
  /** A copy of everything load() needs to resume. */
  state(): SaeTrainerState;
  load(state: SaeTrainerState): void;
  /** Features that have not fired for config.deadAfterTokens tokens. */
  deadFeatures(): number[];
  /** Paper-style resampling of dead features (see dead-resampling.ts); resets their dead counters. */
  resample(options: ResampleOptions): Promise<ResampleReport>;
  close(): Promise<void>;
}

export async function createSaeTrainer(options: CreateSaeTrainerOptions): Promise<SaeTrainer> {
  const cfg = resolveSaeConfig(options);
  const backend = await openBackend(options.backend ?? 'onnx', cfg, options.onnx);
  const trainer = new Trainer(cfg, backend);
  if (options.initialState) {
    trainer.load(options.initialState);
  } else {
    const weights = initSaeWeights({ dIn: cfg.dIn, dSae: cfg.dSae, arch: cfg.arch, seed: cfg.seed, sample: options.initSample });
    trainer.load({ weights, adam: zeroAdamState(cfg.dIn, cfg.dSae) });
    trainer.bDecFromFirstBatch = !options.initSample;
  }
  return trainer;
}

/** SeededRandom.derived purpose tag for resampling draws (sae-init.ts uses 1 and 2). */
const RESAMPLE_STREAM = 3;

class Trainer implements SaeTrainer {
  private adamStep = 0;
  private tokens = 0;
  private tracker: FiringTracker;
  /** Set when b_dec still waits for its geometric-median start. */
  bDecFromFirstBatch = false;

  constructor(readonly config: ResolvedSaeConfig, private readonly impl: TrainBackend) {
    this.tracker = new FiringTracker(config.dSae, config.deadAfterTokens);
  }

  get backend(): SaeBackendName {
    return this.impl.name;
  }

  async step(batch: Float32Array, options: StepOptions = {}): Promise<StepMetrics> {
    const cfg = this.config;
    if (batch.length !== cfg.batchSize * cfg.dIn) {
      throw new RangeError(`step: batch has ${batch.length} values, expected batchSize ${cfg.batchSize} × d_in ${cfg.dIn}`);
    }
    if (this.bDecFromFirstBatch) {
      const { weights, adam } = this.impl.getState();
      weights.b_dec.set(geometricMedian(batch, cfg.dIn).median);
      this.impl.setState(weights, adam);
      this.bDecFromFirstBatch = false;
    }
    const t = this.adamStep + 1;
    const sums = await this.impl.run(batch, {
      t,
      lr: options.lr ?? cfg.lr,
      l1Coefficient: options.l1Coefficient ?? cfg.l1Coefficient,
      dead: cfg.arch === 'topk' ? this.tracker.deadMask() : undefined,
    });
    this.adamStep = t;
    this.tokens += cfg.batchSize;
    this.tracker.update(sums.fireCount, cfg.batchSize);
    const metrics = stepMetrics(sums, cfg, cfg.batchSize, t, this.tokens, this.tracker);
    if (options.l1Coefficient !== undefined && cfg.arch === 'l1') metrics.loss = metrics.mse + options.l1Coefficient * metrics.l1;
    return metrics;
  }

  weights(): SaeWeights {
    return this.impl.getState().weights;
  }

  optimizerState(): AdamState {
    const { adam } = this.impl.getState();
    adam.step = this.adamStep;
    return adam;
  }

  state(): SaeTrainerState {
    const { weights, adam } = this.impl.getState();
    adam.step = this.adamStep;
    return { weights, adam, tokensSinceFired: this.tracker.tokensSinceFired.slice(), tokens: this.tokens };
  }

  load(state: SaeTrainerState): void {
    const { dIn, dSae } = this.config;
    if (state.weights.dIn !== dIn || state.weights.dSae !== dSae) {
      throw new RangeError(`load: weights are d_in ${state.weights.dIn} × d_sae ${state.weights.dSae}, trainer is ${dIn} × ${dSae}`);
    }
    assertWeightShapes(state.weights);
    this.impl.setState(cloneWeights(state.weights), cloneAdamState(state.adam));
    this.adamStep = state.adam.step;
    this.tokens = state.tokens ?? 0;
    this.tracker = new FiringTracker(dSae, this.config.deadAfterTokens);
    if (state.tokensSinceFired) this.tracker.tokensSinceFired.set(state.tokensSinceFired);
    this.bDecFromFirstBatch = false;
  }

  deadFeatures(): number[] {
    return this.tracker.deadIndices();
  }

  async resample(options: ResampleOptions): Promise<ResampleReport> {
    const { weights, adam } = this.impl.getState();
    adam.step = this.adamStep;
    const dead = options.features ?? this.tracker.deadIndices();
    const losses = options.losses ?? (await reconstructionErrors(weights, this.config, options.inputs));
    const rng = options.seed !== undefined ? new SeededRandom(options.seed) : SeededRandom.derived(this.config.seed, RESAMPLE_STREAM, this.adamStep);
    const result = resampleDeadFeatures({ weights, adam, dead, inputs: options.inputs, losses, random: () => rng.next() });
    this.impl.setState(result.weights, result.adam);
    this.tracker.reset(dead);
    return { resampled: [...dead], chosenInputs: result.chosenInputs };
  }

  close(): Promise<void> {
    return this.impl.close();
  }
}
