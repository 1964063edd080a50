// Runs the training-step graph (train-step-graph.ts) with onnxruntime-node, holding the weights
// and Adam moments between steps.
//
// How state moves between steps, and why. onnxruntime-node has no IOBinding API; what it has is
// (a) input tensors that wrap a JS typed array without copying it, and (b) pre-allocated outputs:
// passing `{ name: tensor }` as fetches makes ORT write that output straight into the tensor's
// buffer. So the state lives in two sets of typed arrays, A and B: a step reads A and writes B,
// the next reads B and writes A ("ping-pong"). No copies, and no fresh 100+ MiB of output buffers
// (with their page faults) per step. Inputs and outputs must not alias — ORT may write an output
// before it has finished reading the input — hence two sets rather than one. The alternative
// (let ORT allocate outputs, feed them back) is kept as `outputs: 'fresh'` for the bench to compare.
//
// session.run() blocks the thread it is called on for the whole step; a Temporal activity must
// run this in a worker thread (GUIDE §3). That wrapper is not part of this module.
import ort from 'onnxruntime-node';
import { checkProvider } from '../model/execution-provider.js';
import type { AdamState } from './adam-state.js';
import type { ResolvedSaeConfig } from './sae-config.js';
import type { StepSums } from './step-metrics.js';
import {
  buildTrainStepGraph, DEAD_MASK_INPUT, STEP_SCALAR_INPUTS, STEP_SUM_OUTPUTS, stateInputName, stateOutputName,
} from './train-step-graph.js';
import { paramShape, SAE_PARAM_NAMES, type SaeWeights } from './sae-weights.js';

export interface OnnxTrainStepOptions {
  /** ORT execution provider, checked against what is installed. Default 'cpu'. */
  executionProvider?: string;
  /** ORT intra-op threads; default: ORT's choice (one per physical core). */
  intraOpThreads?: number;
  /** 'pingpong' (default): pre-allocated double-buffered state. 'fresh': ORT allocates outputs each step. */
  outputs?: 'pingpong' | 'fresh';
}

export interface StepScalars {
  alpha: number;
  vScale: number;
  /** λ, read by 'l1' graphs only. */
  l1Coefficient: number;
}

type Kind = 'p' | 'm' | 'v';
const KINDS: readonly Kind[] = ['p', 'm', 'v'];
/** Graph input name → tensor, for the 12 state tensors. */
type StateSet = Record<string, ort.Tensor>;

export class OnnxTrainStep {
  private sets: [StateSet, StateSet];
  private current = 0;
  private readonly sums: Record<string, ort.Tensor>;

  private constructor(
    readonly cfg: ResolvedSaeConfig,
    private readonly main: ort.InferenceSession,
    /** 'topk' only: the graph with AuxK, used when some latent is dead. */
    private readonly withAux: ort.InferenceSession | null,
    private readonly mode: 'pingpong' | 'fresh',
  ) {
    this.sets = [this.allocateSet(), this.allocateSet()];
    this.sums = Object.fromEntries(STEP_SUM_OUTPUTS.map((n) => [n, floatTensor(new Float32Array(n === 'fire_count' ? cfg.dSae : 1), n === 'fire_count' ? [cfg.dSae] : [])]));
  }

  static async create(cfg: ResolvedSaeConfig, options: OnnxTrainStepOptions = {}): Promise<OnnxTrainStep> {
    const provider = checkProvider(options.executionProvider ?? 'cpu');
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      ...(options.intraOpThreads !== undefined && { intraOpNumThreads: options.intraOpThreads }),
    };
    const main = await ort.InferenceSession.create(buildTrainStepGraph(cfg, { auxK: false }), sessionOptions);
    const withAux = cfg.arch === 'topk' && cfg.auxKCoefficient > 0
      ? await ort.InferenceSession.create(buildTrainStepGraph(cfg, { auxK: true }), sessionOptions)
      : null;
    return new OnnxTrainStep(cfg, main, withAux, options.outputs ?? 'pingpong');
  }

  private allocateSet(): StateSet {
    const { dIn, dSae } = this.cfg;
    const set: StateSet = {};
    for (const name of SAE_PARAM_NAMES) {
      const shape = paramShape(name, dIn, dSae);
      for (const kind of KINDS) set[stateInputName(kind, name)] = floatTensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    }
    return set;
  }

  /** Copies weights and moments in (Adam's step count lives with the caller). */
  writeState(w: SaeWeights, adam: AdamState): void {
    const set = this.sets[this.current];
    for (const name of SAE_PARAM_NAMES) {
      (set[stateInputName('p', name)].data as Float32Array).set(w[name]);
      (set[stateInputName('m', name)].data as Float32Array).set(adam.m[name]);
      (set[stateInputName('v', name)].data as Float32Array).set(adam.v[name]);
    }
  }

  /** The current state as views (no copy); valid until the next run(). */
  stateView(kind: Kind, name: (typeof SAE_PARAM_NAMES)[number]): Float32Array {
    return this.sets[this.current][stateInputName(kind, name)].data as Float32Array;
  }

  /**
   * One step on `x` ([batch × d_in]). `dead` (1 = dead, one byte per feature) switches a 'topk'
   * trainer to the AuxK graph when any latent is dead; without dead latents AuxK is exactly 0, so
   * the cheaper graph gives the same update.
   */
  async run(x: Float32Array, scalars: StepScalars, dead?: Uint8Array): Promise<StepSums> {
    const { cfg } = this;
    if (x.length !== cfg.batchSize * cfg.dIn) throw new RangeError(`batch has ${x.length} values; the step was built for ${cfg.batchSize} × ${cfg.dIn}`);
    const useAux = this.withAux !== null && dead !== undefined && dead.some((d) => d !== 0);
    const session = useAux ? this.withAux! : this.main;

    const feeds: Record<string, ort.Tensor> = { ...this.sets[this.current], x: floatTensor(x, [cfg.batchSize, cfg.dIn]) };
    feeds[STEP_SCALAR_INPUTS.alpha] = floatTensor(Float32Array.of(scalars.alpha), []);
    feeds[STEP_SCALAR_INPUTS.vScale] = floatTensor(Float32Array.of(scalars.vScale), []);
    if (cfg.arch === 'l1') feeds[STEP_SCALAR_INPUTS.l1] = floatTensor(Float32Array.of(scalars.l1Coefficient), []);
    if (useAux) feeds[DEAD_MASK_INPUT] = new ort.Tensor('bool', dead!, [cfg.dSae]);

    const next = 1 - this.current;
    if (this.mode === 'pingpong') {
      const fetches: Record<string, ort.Tensor> = { ...this.sums };
      for (const name of SAE_PARAM_NAMES) for (const kind of KINDS) fetches[stateOutputName(kind, name)] = this.sets[next][stateInputName(kind, name)];
      await session.run(feeds, fetches);
      this.current = next;
      return this.readSums(this.sums);
    }
    const out = await session.run(feeds);
    const set: StateSet = {};
    for (const name of SAE_PARAM_NAMES) for (const kind of KINDS) set[stateInputName(kind, name)] = out[stateOutputName(kind, name)];
    this.sets[next] = set;
    this.current = next;
    return this.readSums(out);
  }

  private readSums(t: Record<string, ort.Tensor>): StepSums {
    const scalar = (n: string) => (t[n].data as Float32Array)[0];
    return {
      sumSqErr: scalar('sum_sq_err'), sumSqDev: scalar('sum_sq_dev'), l1Sum: scalar('l1_sum'),
      auxNum: scalar('aux_num'), auxDen: scalar('aux_den'),
      fireCount: (t.fire_count.data as Float32Array).slice(),
    };
  }

  async close(): Promise<void> {
    await this.main.release();
    await this.withAux?.release();
  }
}

function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}
