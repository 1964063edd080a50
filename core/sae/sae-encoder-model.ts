// An inference-only ONNX model of a trained dictionary: x → feature activations, and optionally
// the per-token squared reconstruction error. The statistics stage (densities, top activations,
// histograms) runs it over stored activations; resampling uses the error output to weight inputs.
// Weights are initializers, so the file is self-contained.
import ort from 'onnxruntime-node';
import { OnnxGraphWriter } from './onnx-graph-writer.js';
import type { SaeArch } from './sae-config.js';
import { assertWeightShapes, type SaeWeights } from './sae-weights.js';

/** Output names. `feature_acts` follows SAELens' hook_sae_acts_post in meaning. */
export const ENCODER_OUTPUTS = { acts: 'feature_acts', sqError: 'sq_error' } as const;
export const ENCODER_INPUT = 'x';

export interface EncoderModelOptions {
  arch: SaeArch;
  /** 'topk': active latents per token. */
  k?: number;
  /** Also output sq_error [batch] = Σ_j (x̂ − x)². Default false. */
  withReconstructionError?: boolean;
}

/** Model bytes; the batch dimension is symbolic ("batch"), so any number of rows can be fed. */
export function buildSaeEncoderModel(w: SaeWeights, options: EncoderModelOptions): Uint8Array {
  assertWeightShapes(w);
  const { dIn, dSae } = w;
  if (options.arch === 'topk' && !(Number.isInteger(options.k) && options.k! >= 1 && options.k! <= dSae)) {
    throw new RangeError(`encoder model: 'topk' needs an integer k in [1, ${dSae}], got ${options.k}`);
  }
  const g = new OnnxGraphWriter(`thresher_sae_${options.arch}_encoder`);
  const x = g.input(ENCODER_INPUT, ['batch', dIn]);
  const W_enc = g.weight('W_enc', [dIn, dSae], w.W_enc);
  const b_enc = g.weight('b_enc', [dSae], w.b_enc);
  const b_dec = g.weight('b_dec', [dIn], w.b_dec);
  const xc = g.op('Sub', [x, b_dec]);
  const pre = g.op('Gemm', [xc, W_enc, b_enc]);
  let acts: string;
  if (options.arch === 'topk') {
    const [values, indices] = g.opMulti('TopK', [pre, g.ints([options.k!])], 2, { axis: 1, largest: 1, sorted: 0 });
    // Zeros shaped like pre (batch is symbolic here, so no constant shape).
    const zeros = g.op('ConstantOfShape', [g.op('Shape', [pre])]);
    acts = g.op('ScatterElements', [zeros, indices, g.op('Relu', [values])], { axis: 1 }, ENCODER_OUTPUTS.acts);
  } else {
    acts = g.op('Relu', [pre], {}, ENCODER_OUTPUTS.acts);
  }
  g.output(ENCODER_OUTPUTS.acts, ['batch', dSae]);
  if (options.withReconstructionError) {
    const W_dec = g.weight('W_dec', [dSae, dIn], w.W_dec);
    const err = g.op('Gemm', [acts, W_dec, xc], { alpha: { float: 1 }, beta: { float: -1 } }); // x̂ − x
    g.op('ReduceSumSquare', [err], { axes: [1], keepdims: 0 }, ENCODER_OUTPUTS.sqError);
    g.output(ENCODER_OUTPUTS.sqError, ['batch']);
  }
  return g.toBytes(`Thresher SAE encoder (${options.arch}), d_in ${dIn}, d_sae ${dSae}`, {
    'thresher.sae_arch': options.arch,
    ...(options.arch === 'topk' && { 'thresher.sae_k': String(options.k) }),
  });
}

/**
 * ‖x − x̂‖² per input row under `w`, in chunks of `chunkRows` so a large resampling sample never
 * needs a [n × d_sae] activation tensor at once.
 */
export async function reconstructionErrors(
  w: SaeWeights, cfg: { arch: SaeArch; k: number }, inputs: Float32Array, chunkRows = 4096,
): Promise<Float32Array> {
  const n = inputs.length / w.dIn;
  if (!Number.isInteger(n)) throw new RangeError(`reconstructionErrors: ${inputs.length} values are not a whole number of ${w.dIn}-vectors`);
  const session = await ort.InferenceSession.create(
    buildSaeEncoderModel(w, { arch: cfg.arch, k: cfg.k, withReconstructionError: true }),
    { graphOptimizationLevel: 'all' },
  );
  try {
    const out = new Float32Array(n);
    for (let start = 0; start < n; start += chunkRows) {
      const rows = Math.min(chunkRows, n - start);
      const x = new ort.Tensor('float32', inputs.subarray(start * w.dIn, (start + rows) * w.dIn), [rows, w.dIn]);
      const result = await session.run({ [ENCODER_INPUT]: x }, [ENCODER_OUTPUTS.sqError]);
      out.set(result[ENCODER_OUTPUTS.sqError].data as Float32Array, start);
    }
    return out;
  } finally {
    await session.release();
  }
}
