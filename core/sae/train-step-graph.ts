// One SAE training step as a single ONNX graph: forward, closed-form backward (the formulas in
// reference-backward.ts), decoder-gradient projection, Adam, decoder renormalisation. State goes
// in as inputs and comes out as `new_*` outputs, so onnxruntime needs no training build and the
// whole step is one session.run().
//
// Cost shape ('l1'): five GEMMs of B·d_in·d_sae multiply-adds — encoder, decoder, ∂L/∂f,
// ∂L/∂W_dec, ∂L/∂W_enc — i.e. 10·d_in·d_sae FLOPs per token where autograd would spend 12 (its
// sixth GEMM, ∂L/∂x̄, is not needed), plus a few elementwise passes over the [B × d_sae]
// activations and Adam's passes over the weights. Choices made to keep those passes few:
//   - every matrix product is a Gemm with transA/transB, never MatMul after a Transpose, so no
//     transposed copy of a [B × d_sae] tensor is ever materialised;
//   - the reconstruction error comes straight out of the decoder Gemm: err = f·W_dec − x̄
//     (C = x̄, β = −1), which equals x̂ − x because x̂ = f·W_dec + b_dec and x̄ = x − b_dec;
//   - ∂L/∂f's constant L1 term rides in that Gemm's C input, its 2/(B·d_in) scale in α;
//   - b_dec's gradient through the encoder, Σ_b ∂L/∂pre·W_encᵀ, is W_enc·∂L/∂b_enc (a
//     matrix-vector product) instead of the sixth GEMM;
//   - sums over the batch axis are ones-row GEMVs, which ORT runs faster than ReduceSum.
// 'topk' adds TopK + ScatterElements (twice with AuxK) and, with AuxK, three more GEMMs
// (decode the dead latents, their ∂L/∂f, their ∂L/∂W_dec); a separate graph without AuxK serves
// the steps on which no latent is dead.
import type { ResolvedSaeConfig } from './sae-config.js';
import { OnnxGraphWriter, TensorProto_DataType } from './onnx-graph-writer.js';
import { paramShape, SAE_PARAM_NAMES, type SaeParamName } from './sae-weights.js';

/** Per-step scalar inputs (shape []). */
export const STEP_SCALAR_INPUTS = {
  /** lr / (1 − β1ᵗ); see adamScalars. */
  alpha: 'adam_alpha',
  /** 1 / √(1 − β2ᵗ). */
  vScale: 'adam_v_scale',
  /** λ ('l1' graphs only), an input so it can follow a warm-up schedule. */
  l1: 'l1_coefficient',
} as const;

/** Bool [d_sae] input of 'topk' graphs with AuxK: true for dead latents. */
export const DEAD_MASK_INPUT = 'dead_mask';

/** Float outputs the host turns into StepMetrics (see StepSums). Scalars except fire_count [d_sae]. */
export const STEP_SUM_OUTPUTS = ['sum_sq_err', 'sum_sq_dev', 'l1_sum', 'aux_num', 'aux_den', 'fire_count'] as const;
export type StepSumOutput = (typeof STEP_SUM_OUTPUTS)[number];

export const stateInputName = (kind: 'p' | 'm' | 'v', name: SaeParamName): string => (kind === 'p' ? name : `${kind}_${name}`);
export const stateOutputName = (kind: 'p' | 'm' | 'v', name: SaeParamName): string => `new_${stateInputName(kind, name)}`;

export interface TrainStepGraphOptions {
  /** 'topk' only: include the AuxK loss (needs the dead_mask input). Build without it for steps with no dead latent. */
  auxK?: boolean;
}

export function buildTrainStepGraph(cfg: ResolvedSaeConfig, options: TrainStepGraphOptions = {}): Uint8Array {
  const { dIn, dSae, batchSize: B } = cfg;
  const withAux = cfg.arch === 'topk' && (options.auxK ?? true);
  const g = new OnnxGraphWriter(`thresher_sae_${cfg.arch}_train_step`);
  const F = TensorProto_DataType.FLOAT;

  const x = g.input('x', [B, dIn]);
  const p = {} as Record<SaeParamName, string>;
  for (const name of SAE_PARAM_NAMES) {
    const shape = paramShape(name, dIn, dSae);
    p[name] = g.input(stateInputName('p', name), shape);
    g.input(stateInputName('m', name), shape);
    g.input(stateInputName('v', name), shape);
  }
  const alpha = g.input(STEP_SCALAR_INPUTS.alpha, []);
  const vScale = g.input(STEP_SCALAR_INPUTS.vScale, []);
  const zero = g.scalar(0);
  const s = 2 / (B * dIn);
  const onesRow = g.weight('_ones_row', [1, B], new Float32Array(B).fill(1));

  // ---- forward
  const xc = g.op('Sub', [x, p.b_dec]);
  let f: string;
  let pre: string | undefined;
  if (cfg.arch === 'topk') {
    pre = g.op('Gemm', [xc, p.W_enc, p.b_enc]);
    f = sparseTopK(g, pre, cfg.k, B, dSae);
  } else {
    // Gemm followed by Relu; ORT fuses the pair into one kernel.
    f = g.op('Relu', [g.op('Gemm', [xc, p.W_enc, p.b_enc])]);
  }
  const err = g.op('Gemm', [f, p.W_dec, xc], { alpha: { float: 1 }, beta: { float: -1 } });
  // 1 where the feature is active, else 0: the ReLU / TopK derivative. (Greater + Cast + Mul
  // measured well ahead of Where, whose broadcast of a scalar zero is slow, and of Sign.)
  const active = g.op('Cast', [g.op('Greater', [f, zero])], { to: F });

  // ---- metric sums
  g.op('ReduceSumSquare', [err], { keepdims: 0 }, 'sum_sq_err');
  const xMean = g.op('ReduceMean', [x], { axes: [0], keepdims: 1 });
  g.op('ReduceSumSquare', [g.op('Sub', [x, xMean])], { keepdims: 0 }, 'sum_sq_dev');
  // Σ|f| as a ones-row GEMV then a short sum: MLAS streams [B × d_sae] faster than ReduceSum does.
  g.op('ReduceSum', [g.op('MatMul', [onesRow, f])], { keepdims: 0 }, 'l1_sum');
  // Sums over the batch axis are ones-row GEMVs for the same reason.
  g.op('Reshape', [g.op('MatMul', [onesRow, active]), g.ints([dSae])], {}, 'fire_count');

  // ---- backward
  // ∂L/∂f; for 'l1' the constant λ/B rides in as Gemm's C.
  const gf = cfg.arch === 'l1'
    ? g.op('Gemm', [err, p.W_dec, g.op('Mul', [g.input(STEP_SCALAR_INPUTS.l1, []), g.scalar(1 / B)])], { alpha: { float: s }, beta: { float: 1 }, transB: 1 })
    : g.op('Gemm', [err, p.W_dec], { alpha: { float: s }, transB: 1 });
  let gPre = g.op('Mul', [gf, active]);
  let gWdec = g.op('Gemm', [f, err], { alpha: { float: s }, transA: 1 });

  if (withAux && pre) {
    const dead = g.input(DEAD_MASK_INPUT, [dSae], TensorProto_DataType.BOOL);
    // Live latents get −∞ so TopK never picks them; added as a [d_sae] row (a cheap broadcast)
    // rather than a Where over the whole [B × d_sae] tensor.
    const masked = g.op('Add', [pre, g.op('Where', [dead, zero, g.scalar(-Infinity)])]);
    const fAux = sparseTopK(g, masked, cfg.kAux, B, dSae);
    // ê − r = fAux·W_dec + err (r = x − x̂ = −err, held constant).
    const auxErr = g.op('Gemm', [fAux, p.W_dec, err], { beta: { float: 1 } });
    g.op('ReduceSumSquare', [auxErr], { keepdims: 0 }, 'aux_num');
    const errMean = g.op('ReduceMean', [err], { axes: [0], keepdims: 1 });
    const auxDen = g.op('ReduceSumSquare', [g.op('Sub', [err, errMean])], { keepdims: 0 }, 'aux_den');
    // 2α/D, or 0 when D = 0 (the loss then counts AuxK as 0 too).
    const auxScale = g.op('Where', [
      g.op('Greater', [auxDen, zero]),
      g.op('Div', [g.scalar(2 * cfg.auxKCoefficient), g.op('Max', [auxDen, g.scalar(1e-30)])]),
      zero,
    ]);
    const gAux = g.op('Mul', [auxErr, auxScale]);
    const gfAux = g.op('Gemm', [gAux, p.W_dec], { transB: 1 });
    gPre = g.op('Add', [gPre, g.op('Mul', [gfAux, g.op('Cast', [g.op('Greater', [fAux, zero])], { to: F })])]);
    gWdec = g.op('Gemm', [fAux, gAux, gWdec], { transA: 1, beta: { float: 1 } });
  } else {
    g.op('Identity', [zero], {}, 'aux_num');
    g.op('Identity', [zero], {}, 'aux_den');
  }

  const grad = {} as Record<SaeParamName, string>;
  grad.W_enc = g.op('Gemm', [xc, gPre], { transA: 1 });
  grad.b_enc = g.op('Reshape', [g.op('MatMul', [onesRow, gPre]), g.ints([dSae])]);
  const errSum = g.op('Reshape', [g.op('MatMul', [onesRow, err], {}), g.ints([dIn])]);
  const errSumScaled = g.op('Mul', [errSum, g.scalar(s)]);
  grad.b_dec = g.op('Sub', [errSumScaled, g.op('MatMul', [p.W_enc, grad.b_enc])]);
  // Remove each decoder row's gradient component along the (unit-norm) row.
  const along = g.op('ReduceSum', [g.op('Mul', [gWdec, p.W_dec]), g.ints([1])], { keepdims: 1 });
  grad.W_dec = g.op('Sub', [gWdec, g.op('Mul', [along, p.W_dec])]);

  // ---- Adam, then decoder renormalisation
  const b1 = cfg.adamBeta1;
  const b2 = cfg.adamBeta2;
  for (const name of SAE_PARAM_NAMES) {
    const gr = grad[name];
    const m = g.op('Add', [g.op('Mul', [stateInputName('m', name), g.scalar(b1)]), g.op('Mul', [gr, g.scalar(1 - b1)])], {}, stateOutputName('m', name));
    const v = g.op('Add', [
      g.op('Mul', [stateInputName('v', name), g.scalar(b2)]),
      g.op('Mul', [g.op('Mul', [gr, gr]), g.scalar(1 - b2)]),
    ], {}, stateOutputName('v', name));
    const denom = g.op('Add', [g.op('Mul', [g.op('Sqrt', [v]), vScale]), g.scalar(cfg.adamEpsilon)]);
    const step = g.op('Div', [g.op('Mul', [m, alpha]), denom]);
    if (name === 'W_dec') {
      const moved = g.op('Sub', [p.W_dec, step]);
      const norm = g.op('Sqrt', [g.op('ReduceSumSquare', [moved], { axes: [1], keepdims: 1 })]);
      g.op('Div', [moved, g.op('Max', [norm, g.scalar(1e-30)])], {}, stateOutputName('p', name));
    } else {
      g.op('Sub', [p[name], step], {}, stateOutputName('p', name));
    }
  }

  for (const name of SAE_PARAM_NAMES) {
    const shape = paramShape(name, dIn, dSae);
    for (const kind of ['p', 'm', 'v'] as const) g.output(stateOutputName(kind, name), shape);
  }
  for (const name of STEP_SUM_OUTPUTS) g.output(name, name === 'fire_count' ? [dSae] : []);
  return g.toBytes(`Thresher SAE training step (${cfg.arch}${withAux ? ' + AuxK' : ''}), batch ${B}, d_in ${dIn}, d_sae ${dSae}`, {
    'thresher.sae_config': JSON.stringify(cfg),
  });
}

/**
 * Dense [B × d_sae] activations keeping each row's `k` largest pre-activations, ReLU'd, zeros
 * elsewhere — TopK then ScatterElements into zeros. (TopK before ReLU selects the same set as
 * after it whenever a row has ≥ k positives, and the values agree in every case.)
 */
function sparseTopK(g: OnnxGraphWriter, pre: string, k: number, B: number, dSae: number): string {
  const [values, indices] = g.opMulti('TopK', [pre, g.ints([k])], 2, { axis: 1, largest: 1, sorted: 0 });
  const zeros = g.op('ConstantOfShape', [g.ints([B, dSae])]);
  return g.op('ScatterElements', [zeros, indices, g.op('Relu', [values])], { axis: 1 });
}
