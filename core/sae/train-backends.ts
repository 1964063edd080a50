// The two ways a trainer can execute a step, behind one small interface: the ONNX graph (fast)
// and the plain TypeScript reference (small sizes; the yardstick the ONNX path is tested against).
import { adamScalars, cloneAdamState, zeroAdamState, type AdamState } from './adam-state.js';
import { OnnxTrainStep, type OnnxTrainStepOptions } from './onnx-train-step.js';
import { referenceTrainStep } from './reference-step.js';
import type { ResolvedSaeConfig } from './sae-config.js';
import { cloneWeights, SAE_PARAM_NAMES, zeroWeights, type SaeWeights } from './sae-weights.js';
import type { StepSums } from './step-metrics.js';

export type SaeBackendName = 'onnx' | 'reference';

export interface BackendStepInput {
  /** Adam's t for this update (1 for the first). */
  t: number;
  lr: number;
  l1Coefficient: number;
  /** 1 = dead, per feature; read by 'topk'. */
  dead?: Uint8Array;
}

export interface TrainBackend {
  readonly name: SaeBackendName;
  /** Replaces weights and moments (copies them in). */
  setState(weights: SaeWeights, adam: AdamState): void;
  /** Copies of the current weights and moments; `adam.step` is set by the caller. */
  getState(): { weights: SaeWeights; adam: AdamState };
  run(x: Float32Array, input: BackendStepInput): Promise<StepSums>;
  close(): Promise<void>;
}

export async function openBackend(name: SaeBackendName, cfg: ResolvedSaeConfig, onnx: OnnxTrainStepOptions = {}): Promise<TrainBackend> {
  if (name === 'reference') return new ReferenceBackend(cfg);
  if (name === 'onnx') return new OnnxBackend(cfg, await OnnxTrainStep.create(cfg, onnx));
  throw new RangeError(`unknown SAE backend ${String(name)}; expected 'onnx' or 'reference'`);
}

class ReferenceBackend implements TrainBackend {
  readonly name = 'reference';
  private w: SaeWeights;
  private adam: AdamState;

  constructor(private readonly cfg: ResolvedSaeConfig) {
    this.w = zeroWeights(cfg.dIn, cfg.dSae);
    this.adam = zeroAdamState(cfg.dIn, cfg.dSae);
  }

  setState(weights: SaeWeights, adam: AdamState): void {
    this.w = cloneWeights(weights);
    this.adam = cloneAdamState(adam);
  }

  getState() {
    return { weights: cloneWeights(this.w), adam: cloneAdamState(this.adam) };
  }

  async run(x: Float32Array, input: BackendStepInput): Promise<StepSums> {
    this.adam.step = input.t - 1;
    const { forward } = referenceTrainStep(this.w, this.adam, x, this.cfg, { dead: input.dead, lr: input.lr, l1Coefficient: input.l1Coefficient });
    return forward;
  }

  async close(): Promise<void> {}
}

class OnnxBackend implements TrainBackend {
  readonly name = 'onnx';

  constructor(private readonly cfg: ResolvedSaeConfig, private readonly step: OnnxTrainStep) {}

  setState(weights: SaeWeights, adam: AdamState): void {
    this.step.writeState(weights, adam);
  }

  getState() {
    const { dIn, dSae } = this.cfg;
    const weights = zeroWeights(dIn, dSae);
    const adam = zeroAdamState(dIn, dSae);
    for (const name of SAE_PARAM_NAMES) {
      weights[name].set(this.step.stateView('p', name));
      adam.m[name].set(this.step.stateView('m', name));
      adam.v[name].set(this.step.stateView('v', name));
    }
    return { weights, adam };
  }

  run(x: Float32Array, input: BackendStepInput): Promise<StepSums> {
    const { alpha, vScale } = adamScalars(this.cfg, input.t, input.lr);
    return this.step.run(x, { alpha, vScale, l1Coefficient: input.l1Coefficient }, input.dead);
  }

  close(): Promise<void> {
    return this.step.close();
  }
}
