/**
 * A tiny one-layer transformer (the shape of the Towards Monosemanticity model, untrained) built
 * directly as an ONNX graph, so the demo needs no Python export step and no download.
 *
 * Tensor and weight names follow TransformerLens, so hook names carry over from Python tutorials;
 * weight layouts follow TransformerLens too (W_Q is [n_heads, d_model, d_head], W_U is
 * [d_model, d_vocab]) so a later stage can read them as the same matrices.
 */

import { create, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema, ModelProtoSchema, OperatorSetIdProtoSchema, StringStringEntryProtoSchema,
  type ModelProto, type NodeProto, type TensorProto,
} from 'onnx-buf';
import {
  constantNode, floatTensor, int64Tensor, node, tensorValueInfo, TensorProto_DataType, type Dim,
} from './onnx-proto-builder.js';
import { SeededRandom } from '../random/seeded-random.js';

export interface DemoTransformerConfig {
  vocabSize: number;
  seed: number;
  /** Default 128. */
  dModel?: number;
  /** Default 4. */
  nHeads?: number;
  /** Default 32. */
  dHead?: number;
  /** Default 512. */
  dMlp?: number;
  /** Longest sequence the positional table covers. Default 256. */
  maxPositions?: number;
}

export type ResolvedDemoTransformerConfig = Required<DemoTransformerConfig>;

/**
 * Stand-in for what training teaches a model's embeddings: tokens used in the same kind of text
 * lie close together. Token t's embedding gets Σ_g mix[t·groups + g] · scale · c_g added, where
 * c_g is a random direction per group (same distribution as a token's own embedding) and mix[t]
 * the share of token t's occurrences in each group (rows sum to 1, or 0 for unseen tokens).
 */
export interface TokenGroupEmbedding {
  groups: number;
  /** [vocab × groups]. */
  mix: Float32Array;
  scale: number;
}

/**
 * What stands in for training in the demo model (both optional; without them it is purely random).
 * `recencySlopes`, one per head, subtract slope × (query − key distance) from the attention scores
 * (ALiBi-style): a trained model's many previous-token and local heads, which keep what a token
 * mixes in mostly from its own document instead of a near-uniform average of the whole context.
 */
export interface DemoModelShaping {
  tokenGroups?: TokenGroupEmbedding;
  recencySlopes?: number[];
  /**
   * Multiplies the attention output weights' init range (default 1): how much of what a token
   * carries into the MLP comes from its neighbours rather than from itself.
   */
  attentionOutputScale?: number;
}

export const DEMO_OPSET = 17;
export const DEMO_IR_VERSION = 8;
export const LAYER_NORM_EPSILON = 1e-5;

export function resolveDemoTransformerConfig(config: DemoTransformerConfig): ResolvedDemoTransformerConfig {
  const resolved = { dModel: 128, nHeads: 4, dHead: 32, dMlp: 512, maxPositions: 256, ...config };
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || (key !== 'seed' && value <= 0)) {
      throw new RangeError(`transformer config ${key} must be a positive integer, got ${value}`);
    }
  }
  return resolved;
}

/** Hook tensors the graph exposes by name, with their shapes ("batch", "seq" symbolic). */
export function demoTransformerHooks(config: DemoTransformerConfig): { name: string; shape: Dim[] }[] {
  const { dModel, nHeads, dHead, dMlp } = resolveDemoTransformerConfig(config);
  const resid: Dim[] = ['batch', 'seq', dModel];
  return [
    { name: 'hook_embed', shape: resid },
    { name: 'hook_pos_embed', shape: resid },
    { name: 'blocks.0.hook_resid_pre', shape: resid },
    { name: 'blocks.0.ln1.hook_normalized', shape: resid },
    { name: 'blocks.0.attn.hook_attn_scores', shape: ['batch', nHeads, 'seq', 'seq'] },
    { name: 'blocks.0.attn.hook_pattern', shape: ['batch', nHeads, 'seq', 'seq'] },
    { name: 'blocks.0.attn.hook_z', shape: ['batch', 'seq', nHeads, dHead] },
    { name: 'blocks.0.hook_attn_out', shape: resid },
    { name: 'blocks.0.hook_resid_mid', shape: resid },
    { name: 'blocks.0.ln2.hook_normalized', shape: resid },
    { name: 'blocks.0.mlp.hook_pre', shape: ['batch', 'seq', dMlp] },
    { name: 'blocks.0.mlp.hook_post', shape: ['batch', 'seq', dMlp] },
    { name: 'blocks.0.hook_mlp_out', shape: resid },
    { name: 'blocks.0.hook_resid_post', shape: resid },
    { name: 'ln_final.hook_normalized', shape: resid },
  ];
}

type Init = 'ones' | 'zeros' | { uniform: number };

/**
 * Weight tensors in a fixed order. Each draws from its own stream derived from (seed, position in
 * this list), so a weight's values never depend on how many numbers an earlier one consumed.
 */
function weightSpecs(c: ResolvedDemoTransformerConfig, attentionOutputScale = 1): { name: string; dims: number[]; init: Init }[] {
  const small = { uniform: 0.02 };
  const fanIn = (n: number) => ({ uniform: 1 / Math.sqrt(n) });
  return [
    // Embeddings act on one-hot inputs (fan-in 1). Positions get half the scale so that token
    // identity, not position, dominates the residual stream and the features found in it.
    { name: 'embed.W_E', dims: [c.vocabSize, c.dModel], init: { uniform: 1 } },
    { name: 'pos_embed.W_pos', dims: [c.maxPositions, c.dModel], init: { uniform: 0.5 } },
    { name: 'blocks.0.ln1.w', dims: [c.dModel], init: 'ones' },
    { name: 'blocks.0.ln1.b', dims: [c.dModel], init: 'zeros' },
    { name: 'blocks.0.attn.W_Q', dims: [c.nHeads, c.dModel, c.dHead], init: fanIn(c.dModel) },
    { name: 'blocks.0.attn.b_Q', dims: [c.nHeads, c.dHead], init: small },
    { name: 'blocks.0.attn.W_K', dims: [c.nHeads, c.dModel, c.dHead], init: fanIn(c.dModel) },
    { name: 'blocks.0.attn.b_K', dims: [c.nHeads, c.dHead], init: small },
    { name: 'blocks.0.attn.W_V', dims: [c.nHeads, c.dModel, c.dHead], init: fanIn(c.dModel) },
    { name: 'blocks.0.attn.b_V', dims: [c.nHeads, c.dHead], init: small },
    { name: 'blocks.0.attn.W_O', dims: [c.nHeads, c.dHead, c.dModel], init: { uniform: attentionOutputScale / Math.sqrt(c.nHeads * c.dHead) } },
    { name: 'blocks.0.attn.b_O', dims: [c.dModel], init: small },
    { name: 'blocks.0.ln2.w', dims: [c.dModel], init: 'ones' },
    { name: 'blocks.0.ln2.b', dims: [c.dModel], init: 'zeros' },
    { name: 'blocks.0.mlp.W_in', dims: [c.dModel, c.dMlp], init: fanIn(c.dModel) },
    { name: 'blocks.0.mlp.b_in', dims: [c.dMlp], init: small },
    { name: 'blocks.0.mlp.W_out', dims: [c.dMlp, c.dModel], init: fanIn(c.dMlp) },
    { name: 'blocks.0.mlp.b_out', dims: [c.dModel], init: small },
    { name: 'ln_final.w', dims: [c.dModel], init: 'ones' },
    { name: 'ln_final.b', dims: [c.dModel], init: 'zeros' },
    { name: 'unembed.W_U', dims: [c.dModel, c.vocabSize], init: fanIn(c.dModel) },
    { name: 'unembed.b_U', dims: [c.vocabSize], init: small },
  ];
}

const WEIGHT_STREAM = 0x5745; // "WE": keeps weight streams apart from any other use of the same seed

const GROUP_STREAM = 0x4752; // "GR": the token-group directions

function makeWeights(c: ResolvedDemoTransformerConfig, shaping: DemoModelShaping): TensorProto[] {
  const groups = shaping.tokenGroups;
  return weightSpecs(c, shaping.attentionOutputScale).map(({ name, dims, init }, index) => {
    const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (init === 'ones') values.fill(1);
    else if (typeof init === 'object') {
      const rng = SeededRandom.derived(c.seed, WEIGHT_STREAM, index);
      for (let i = 0; i < values.length; i++) values[i] = rng.uniform(-init.uniform, init.uniform);
    }
    if (name === 'embed.W_E' && groups) addGroupDirections(values, c, groups);
    return floatTensor(name, dims, values);
  });
}

function addGroupDirections(wE: Float32Array, c: ResolvedDemoTransformerConfig, g: TokenGroupEmbedding): void {
  if (g.mix.length !== c.vocabSize * g.groups) throw new RangeError(`token group mix has ${g.mix.length} values, expected vocab ${c.vocabSize} × ${g.groups}`);
  const directions = Array.from({ length: g.groups }, (_, k) => {
    const rng = SeededRandom.derived(c.seed, GROUP_STREAM, k);
    return Float32Array.from({ length: c.dModel }, () => rng.uniform(-1, 1));
  });
  for (let t = 0; t < c.vocabSize; t++) {
    for (let k = 0; k < g.groups; k++) {
      const w = g.mix[t * g.groups + k] * g.scale;
      if (w === 0) continue;
      for (let m = 0; m < c.dModel; m++) wE[t * c.dModel + m] += w * directions[k][m];
    }
  }
}

function layerNorm(input: string, prefix: string, output: string): NodeProto {
  return node('LayerNormalization', [input, `${prefix}.w`, `${prefix}.b`], [output], `${prefix}.LayerNorm`, {
    axis: -1, epsilon: { float: LAYER_NORM_EPSILON },
  });
}

/** MatMul then bias Add, returning the nodes; `output` names the biased result. */
function linear(input: string, weight: string, bias: string, output: string): NodeProto[] {
  const raw = `${output}.__matmul`;
  return [node('MatMul', [input, weight], [raw], `${output}.MatMul`), node('Add', [raw, bias], [output], `${output}.Add`)];
}

/** −slope_h × max(0, i − j) added to head h's scores, sliced to the runtime length. */
function recencyNodes(c: ResolvedDemoTransformerConfig, slopes: number[], scores: string, output: string): NodeProto[] {
  const a = 'blocks.0.attn';
  if (slopes.length !== c.nHeads) throw new RangeError(`recencySlopes has ${slopes.length} values, the model has ${c.nHeads} heads`);
  const n = c.maxPositions;
  const distance = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) distance[i * n + j] = i - j;
  return [
    constantNode(`${a}.__recency_distance`, floatTensor(`${a}.__recency_distance`, [n, n], distance)),
    constantNode(`${a}.__recency_slopes`, floatTensor(`${a}.__recency_slopes`, [c.nHeads, 1, 1], slopes.map((x) => -x))),
    constantNode(`${a}.__zeros2`, int64Tensor(`${a}.__zeros2`, [2], [0, 0])),
    node('Concat', ['__seq_len', '__seq_len'], [`${a}.__recency_ends`], `${a}.RecencyEnds`, { axis: 0 }),
    node('Slice', [`${a}.__recency_distance`, `${a}.__zeros2`, `${a}.__recency_ends`], [`${a}.__recency_dist_seq`], `${a}.RecencySlice`),
    node('Mul', [`${a}.__recency_dist_seq`, `${a}.__recency_slopes`], [`${a}.__recency_bias`], `${a}.RecencyBias`),
    node('Add', [scores, `${a}.__recency_bias`], [output], `${a}.ApplyRecency`),
  ];
}

function attentionNodes(c: ResolvedDemoTransformerConfig, recencySlopes?: number[]): NodeProto[] {
  const a = 'blocks.0.attn';
  const nodes: NodeProto[] = [
    constantNode(`${a}.__axis1`, int64Tensor(`${a}.__axis1`, [1], [1])),
    // Broadcasting [b,1,s,d] against W [h,d,dh] computes all heads in one MatMul: [b,h,s,dh].
    node('Unsqueeze', ['blocks.0.ln1.hook_normalized', `${a}.__axis1`], [`${a}.__x_heads`], `${a}.UnsqueezeInput`),
  ];
  for (const p of ['Q', 'K', 'V']) {
    nodes.push(
      node('Unsqueeze', [`${a}.b_${p}`, `${a}.__axis1`], [`${a}.__b_${p}_heads`], `${a}.UnsqueezeBias${p}`),
      ...linear(`${a}.__x_heads`, `${a}.W_${p}`, `${a}.__b_${p}_heads`, `${a}.__${p.toLowerCase()}`),
    );
  }
  nodes.push(
    node('Transpose', [`${a}.__k`], [`${a}.__k_t`], `${a}.TransposeK`, { perm: [0, 1, 3, 2] }),
    node('MatMul', [`${a}.__q`, `${a}.__k_t`], [`${a}.__qk`], `${a}.MatMulQK`),
    constantNode(`${a}.__scale`, floatTensor(`${a}.__scale`, [], [1 / Math.sqrt(c.dHead)])),
    node('Mul', [`${a}.__qk`, `${a}.__scale`], [recencySlopes ? `${a}.__scores_plain` : `${a}.__scores_unmasked`], `${a}.Scale`),
    ...(recencySlopes ? recencyNodes(c, recencySlopes, `${a}.__scores_plain`, `${a}.__scores_unmasked`) : []),
    // Causal mask built from the runtime length: -inf strictly above the diagonal, 0 elsewhere.
    node('Concat', ['__seq_len', '__seq_len'], [`${a}.__mask_shape`], `${a}.MaskShape`, { axis: 0 }),
    node('ConstantOfShape', [`${a}.__mask_shape`], [`${a}.__neg_inf`], `${a}.MaskFill`, {
      value: floatTensor(`${a}.__neg_inf_value`, [1], [-Infinity]),
    }),
    constantNode(`${a}.__one`, int64Tensor(`${a}.__one`, [], [1])),
    node('Trilu', [`${a}.__neg_inf`, `${a}.__one`], [`${a}.__causal_mask`], `${a}.CausalMask`, { upper: 1 }),
    node('Add', [`${a}.__scores_unmasked`, `${a}.__causal_mask`], [`${a}.hook_attn_scores`], `${a}.ApplyMask`),
    node('Softmax', [`${a}.hook_attn_scores`], [`${a}.hook_pattern`], `${a}.Softmax`, { axis: -1 }),
    node('MatMul', [`${a}.hook_pattern`, `${a}.__v`], [`${a}.__z_heads`], `${a}.MatMulPatternV`),
    node('Transpose', [`${a}.__z_heads`], [`${a}.hook_z`], `${a}.TransposeZ`, { perm: [0, 2, 1, 3] }),
    // Flattening z as (head, d_head) matches flattening W_O's first two axes, so one MatMul sums heads.
    constantNode(`${a}.__z_flat_shape`, int64Tensor(`${a}.__z_flat_shape`, [3], [0, 0, -1])),
    node('Reshape', [`${a}.hook_z`, `${a}.__z_flat_shape`], [`${a}.__z_flat`], `${a}.FlattenZ`),
    constantNode(`${a}.__w_o_shape`, int64Tensor(`${a}.__w_o_shape`, [2], [c.nHeads * c.dHead, c.dModel])),
    node('Reshape', [`${a}.W_O`, `${a}.__w_o_shape`], [`${a}.__w_o_flat`], `${a}.FlattenWO`),
    ...linear(`${a}.__z_flat`, `${a}.__w_o_flat`, `${a}.b_O`, 'blocks.0.hook_attn_out'),
  );
  return nodes;
}

function graphNodes(c: ResolvedDemoTransformerConfig, recencySlopes?: number[]): NodeProto[] {
  return [
    node('Gather', ['embed.W_E', 'input_ids'], ['hook_embed'], 'embed.Gather', { axis: 0 }),
    // Positions come from the input's own length, so callers pass only input_ids.
    node('Shape', ['input_ids'], ['__seq_len'], 'pos_embed.SeqLen', { start: 1, end: 2 }),
    constantNode('pos_embed.__zero', int64Tensor('pos_embed.__zero', [1], [0])),
    node('Slice', ['pos_embed.W_pos', 'pos_embed.__zero', '__seq_len', 'pos_embed.__zero'], ['pos_embed.__rows'], 'pos_embed.Slice'),
    node('Shape', ['hook_embed'], ['pos_embed.__embed_shape'], 'pos_embed.EmbedShape'),
    node('Expand', ['pos_embed.__rows', 'pos_embed.__embed_shape'], ['hook_pos_embed'], 'pos_embed.Expand'),
    node('Add', ['hook_embed', 'hook_pos_embed'], ['blocks.0.hook_resid_pre'], 'blocks.0.ResidPre'),
    layerNorm('blocks.0.hook_resid_pre', 'blocks.0.ln1', 'blocks.0.ln1.hook_normalized'),
    ...attentionNodes(c, recencySlopes),
    node('Add', ['blocks.0.hook_resid_pre', 'blocks.0.hook_attn_out'], ['blocks.0.hook_resid_mid'], 'blocks.0.ResidMid'),
    layerNorm('blocks.0.hook_resid_mid', 'blocks.0.ln2', 'blocks.0.ln2.hook_normalized'),
    ...linear('blocks.0.ln2.hook_normalized', 'blocks.0.mlp.W_in', 'blocks.0.mlp.b_in', 'blocks.0.mlp.hook_pre'),
    node('Relu', ['blocks.0.mlp.hook_pre'], ['blocks.0.mlp.hook_post'], 'blocks.0.mlp.Relu'),
    ...linear('blocks.0.mlp.hook_post', 'blocks.0.mlp.W_out', 'blocks.0.mlp.b_out', 'blocks.0.hook_mlp_out'),
    node('Add', ['blocks.0.hook_resid_mid', 'blocks.0.hook_mlp_out'], ['blocks.0.hook_resid_post'], 'blocks.0.ResidPost'),
    layerNorm('blocks.0.hook_resid_post', 'ln_final', 'ln_final.hook_normalized'),
    ...linear('ln_final.hook_normalized', 'unembed.W_U', 'unembed.b_U', 'logits'),
  ];
}

export function buildDemoTransformer(config: DemoTransformerConfig, shaping: DemoModelShaping = {}): ModelProto {
  const c = resolveDemoTransformerConfig(config);
  const graph = create(GraphProtoSchema, {
    name: 'thresher_demo_1l',
    node: graphNodes(c, shaping.recencySlopes),
    initializer: makeWeights(c, shaping),
    input: [tensorValueInfo('input_ids', TensorProto_DataType.INT64, ['batch', 'seq'])],
    output: [tensorValueInfo('logits', TensorProto_DataType.FLOAT, ['batch', 'seq', c.vocabSize])],
    valueInfo: demoTransformerHooks(c).map((h) => tensorValueInfo(h.name, TensorProto_DataType.FLOAT, h.shape)),
    docString: 'One-layer pre-LayerNorm transformer with random weights (Thresher demo). Hook names follow TransformerLens.',
  });
  return create(ModelProtoSchema, {
    irVersion: BigInt(DEMO_IR_VERSION),
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(DEMO_OPSET) })],
    producerName: 'thresher-demo-transformer-builder',
    producerVersion: '1',
    modelVersion: 1n,
    graph,
    metadataProps: [
      create(StringStringEntryProtoSchema, { key: 'thresher.demo_config', value: JSON.stringify(c) }),
      create(StringStringEntryProtoSchema, { key: 'thresher.layer_norm_epsilon', value: String(LAYER_NORM_EPSILON) }),
    ],
  });
}

/** Serialized model; equal config gives equal bytes. */
export function buildDemoTransformerBytes(config: DemoTransformerConfig, shaping: DemoModelShaping = {}): Uint8Array {
  return toBinary(ModelProtoSchema, buildDemoTransformer(config, shaping));
}
