/**
 * A tiny transformer (one block by default: the shape of the Towards Monosemanticity model) written directly
 * as an ONNX graph around weights trained by scripts/train-demo-transformer.py, so the demo needs
 * no ONNX exporter and no download.
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

export interface DemoTransformerConfig {
  vocabSize: number;
  /** Default 128. */
  dModel?: number;
  /** Default 4. */
  nHeads?: number;
  /** Default 32. */
  dHead?: number;
  /** Default 512. */
  dMlp?: number;
  /** Transformer blocks. Default 1. */
  nLayers?: number;
  /** Longest sequence the positional table covers. Default 256. */
  maxPositions?: number;
}

export type ResolvedDemoTransformerConfig = Required<DemoTransformerConfig>;

export const DEMO_OPSET = 17;
export const DEMO_IR_VERSION = 8;
export const LAYER_NORM_EPSILON = 1e-5;

export function resolveDemoTransformerConfig(config: DemoTransformerConfig): ResolvedDemoTransformerConfig {
  const resolved = { dModel: 128, nHeads: 4, dHead: 32, dMlp: 512, nLayers: 1, maxPositions: 256, ...config };
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`transformer config ${key} must be a positive integer, got ${value}`);
    }
  }
  return resolved;
}

/** Hook tensors the graph exposes by name, with their shapes ("batch", "seq" symbolic). */
export function demoTransformerHooks(config: DemoTransformerConfig): { name: string; shape: Dim[] }[] {
  const { dModel, nHeads, dHead, dMlp, nLayers } = resolveDemoTransformerConfig(config);
  const resid: Dim[] = ['batch', 'seq', dModel];
  const block = (b: string): { name: string; shape: Dim[] }[] => [
    { name: `${b}.hook_resid_pre`, shape: resid },
    { name: `${b}.ln1.hook_normalized`, shape: resid },
    { name: `${b}.attn.hook_attn_scores`, shape: ['batch', nHeads, 'seq', 'seq'] },
    { name: `${b}.attn.hook_pattern`, shape: ['batch', nHeads, 'seq', 'seq'] },
    { name: `${b}.attn.hook_z`, shape: ['batch', 'seq', nHeads, dHead] },
    { name: `${b}.hook_attn_out`, shape: resid },
    { name: `${b}.hook_resid_mid`, shape: resid },
    { name: `${b}.ln2.hook_normalized`, shape: resid },
    { name: `${b}.mlp.hook_pre`, shape: ['batch', 'seq', dMlp] },
    { name: `${b}.mlp.hook_post`, shape: ['batch', 'seq', dMlp] },
    { name: `${b}.hook_mlp_out`, shape: resid },
    { name: `${b}.hook_resid_post`, shape: resid },
  ];
  return [
    { name: 'hook_embed', shape: resid },
    { name: 'hook_pos_embed', shape: resid },
    ...Array.from({ length: nLayers }, (_, l) => block(`blocks.${l}`)).flat(),
    { name: 'ln_final.hook_normalized', shape: resid },
  ];
}

/**
 * Weight tensors in the order the trained-weights file holds them (scripts/train-demo-transformer.py
 * writes them in this order, with these names and layouts).
 */
export function weightLayout(c: ResolvedDemoTransformerConfig): { name: string; dims: number[] }[] {
  const block = (b: string) => [
    { name: `${b}.ln1.w`, dims: [c.dModel] },
    { name: `${b}.ln1.b`, dims: [c.dModel] },
    { name: `${b}.attn.W_Q`, dims: [c.nHeads, c.dModel, c.dHead] },
    { name: `${b}.attn.b_Q`, dims: [c.nHeads, c.dHead] },
    { name: `${b}.attn.W_K`, dims: [c.nHeads, c.dModel, c.dHead] },
    { name: `${b}.attn.b_K`, dims: [c.nHeads, c.dHead] },
    { name: `${b}.attn.W_V`, dims: [c.nHeads, c.dModel, c.dHead] },
    { name: `${b}.attn.b_V`, dims: [c.nHeads, c.dHead] },
    { name: `${b}.attn.W_O`, dims: [c.nHeads, c.dHead, c.dModel] },
    { name: `${b}.attn.b_O`, dims: [c.dModel] },
    { name: `${b}.ln2.w`, dims: [c.dModel] },
    { name: `${b}.ln2.b`, dims: [c.dModel] },
    { name: `${b}.mlp.W_in`, dims: [c.dModel, c.dMlp] },
    { name: `${b}.mlp.b_in`, dims: [c.dMlp] },
    { name: `${b}.mlp.W_out`, dims: [c.dMlp, c.dModel] },
    { name: `${b}.mlp.b_out`, dims: [c.dModel] },
  ];
  return [
    { name: 'embed.W_E', dims: [c.vocabSize, c.dModel] },
    { name: 'pos_embed.W_pos', dims: [c.maxPositions, c.dModel] },
    ...Array.from({ length: c.nLayers }, (_, l) => block(`blocks.${l}`)).flat(),
    { name: 'ln_final.w', dims: [c.dModel] },
    { name: 'ln_final.b', dims: [c.dModel] },
    { name: 'unembed.W_U', dims: [c.dModel, c.vocabSize] },
    { name: 'unembed.b_U', dims: [c.vocabSize] },
  ];
}

const sizeOf = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** The weights file cut into the graph's initializers, checked for size and finiteness. */
function weightTensors(c: ResolvedDemoTransformerConfig, weights: Float32Array): TensorProto[] {
  const expected = weightLayout(c).reduce((sum, w) => sum + sizeOf(w.dims), 0);
  if (weights.length !== expected) {
    throw new RangeError(`trained weights hold ${weights.length} values, a model of ${JSON.stringify(c)} needs ${expected}`);
  }
  let offset = 0;
  return weightLayout(c).map(({ name, dims }) => {
    const values = weights.slice(offset, offset + sizeOf(dims));
    offset += values.length;
    if (!values.every(Number.isFinite)) throw new RangeError(`trained weight ${name} holds a non-finite value`);
    return floatTensor(name, dims, values);
  });
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

function attentionNodes(c: ResolvedDemoTransformerConfig, b: string): NodeProto[] {
  const a = `${b}.attn`;
  const nodes: NodeProto[] = [
    constantNode(`${a}.__axis1`, int64Tensor(`${a}.__axis1`, [1], [1])),
    // Broadcasting [b,1,s,d] against W [h,d,dh] computes all heads in one MatMul: [b,h,s,dh].
    node('Unsqueeze', [`${b}.ln1.hook_normalized`, `${a}.__axis1`], [`${a}.__x_heads`], `${a}.UnsqueezeInput`),
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
    node('Mul', [`${a}.__qk`, `${a}.__scale`], [`${a}.__scores_unmasked`], `${a}.Scale`),
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
    ...linear(`${a}.__z_flat`, `${a}.__w_o_flat`, `${a}.b_O`, `${b}.hook_attn_out`),
  );
  return nodes;
}

/** Block l: reads blocks.l.hook_resid_pre (the previous block's resid_post, renamed by an Identity). */
function blockNodes(c: ResolvedDemoTransformerConfig, l: number): NodeProto[] {
  const b = `blocks.${l}`;
  return [
    ...(l > 0 ? [node('Identity', [`blocks.${l - 1}.hook_resid_post`], [`${b}.hook_resid_pre`], `${b}.ResidPre`)] : []),
    layerNorm(`${b}.hook_resid_pre`, `${b}.ln1`, `${b}.ln1.hook_normalized`),
    ...attentionNodes(c, b),
    node('Add', [`${b}.hook_resid_pre`, `${b}.hook_attn_out`], [`${b}.hook_resid_mid`], `${b}.ResidMid`),
    layerNorm(`${b}.hook_resid_mid`, `${b}.ln2`, `${b}.ln2.hook_normalized`),
    ...linear(`${b}.ln2.hook_normalized`, `${b}.mlp.W_in`, `${b}.mlp.b_in`, `${b}.mlp.hook_pre`),
    node('Relu', [`${b}.mlp.hook_pre`], [`${b}.mlp.hook_post`], `${b}.mlp.Relu`),
    ...linear(`${b}.mlp.hook_post`, `${b}.mlp.W_out`, `${b}.mlp.b_out`, `${b}.hook_mlp_out`),
    node('Add', [`${b}.hook_resid_mid`, `${b}.hook_mlp_out`], [`${b}.hook_resid_post`], `${b}.ResidPost`),
  ];
}

function graphNodes(c: ResolvedDemoTransformerConfig): NodeProto[] {
  return [
    node('Gather', ['embed.W_E', 'input_ids'], ['hook_embed'], 'embed.Gather', { axis: 0 }),
    // Positions come from the input's own length, so callers pass only input_ids.
    node('Shape', ['input_ids'], ['__seq_len'], 'pos_embed.SeqLen', { start: 1, end: 2 }),
    constantNode('pos_embed.__zero', int64Tensor('pos_embed.__zero', [1], [0])),
    node('Slice', ['pos_embed.W_pos', 'pos_embed.__zero', '__seq_len', 'pos_embed.__zero'], ['pos_embed.__rows'], 'pos_embed.Slice'),
    node('Shape', ['hook_embed'], ['pos_embed.__embed_shape'], 'pos_embed.EmbedShape'),
    node('Expand', ['pos_embed.__rows', 'pos_embed.__embed_shape'], ['hook_pos_embed'], 'pos_embed.Expand'),
    node('Add', ['hook_embed', 'hook_pos_embed'], ['blocks.0.hook_resid_pre'], 'blocks.0.ResidPre'),
    ...Array.from({ length: c.nLayers }, (_, l) => blockNodes(c, l)).flat(),
    layerNorm(`blocks.${c.nLayers - 1}.hook_resid_post`, 'ln_final', 'ln_final.hook_normalized'),
    ...linear('ln_final.hook_normalized', 'unembed.W_U', 'unembed.b_U', 'logits'),
  ];
}

/** The graph around `weights` (every weight tensor in weightLayout order, written by the training script). */
export function buildDemoTransformer(config: DemoTransformerConfig, weights: Float32Array): ModelProto {
  const c = resolveDemoTransformerConfig(config);
  const graph = create(GraphProtoSchema, {
    name: 'thresher_demo_1l',
    node: graphNodes(c),
    initializer: weightTensors(c, weights),
    input: [tensorValueInfo('input_ids', TensorProto_DataType.INT64, ['batch', 'seq'])],
    output: [tensorValueInfo('logits', TensorProto_DataType.FLOAT, ['batch', 'seq', c.vocabSize])],
    valueInfo: demoTransformerHooks(c).map((h) => tensorValueInfo(h.name, TensorProto_DataType.FLOAT, h.shape)),
    docString: `${c.nLayers}-block pre-LayerNorm transformer trained on the demo corpus (Thresher demo). Hook names follow TransformerLens.`,
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

/** Serialized model; equal config and weights give equal bytes. */
export function buildDemoTransformerBytes(config: DemoTransformerConfig, weights: Float32Array): Uint8Array {
  return toBinary(ModelProtoSchema, buildDemoTransformer(config, weights));
}
