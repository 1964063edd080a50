// Builds the feeds for a token-id batch. Besides the ids, HF-style exports often take an
// attention mask, position ids or token type ids; those have an obvious value for an unpadded
// batch, so they are filled in rather than pushed onto every caller.
import type { GraphProto } from 'onnx-buf';
import { Tensor } from 'onnxruntime-node';
import type { Ids } from './inference-protocol.js';
import { dtypeName, tensorTypes } from './onnx-types.js';

type Fill = 'ids' | 'ones' | 'positions' | 'zeros';
const AUTO_FILL: Record<string, Fill> = { attention_mask: 'ones', position_ids: 'positions', token_type_ids: 'zeros' };
const INT32 = 6;
const INT64 = 7;
const FLOAT = 1;

export interface InputPlan {
  name: string;
  elemType: number;
  fill: Fill;
}

/** How to feed every graph input, or an Error naming inputs that cannot be fed automatically. */
export function planInputs(graph: GraphProto, inputName: string): InputPlan[] {
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const types = tensorTypes(graph);
  const inputs = graph.input.filter((i) => !initializers.has(i.name));
  const listed = inputs.map((i) => `${i.name} (${dtypeName(types.get(i.name)?.elemType)})`).join(', ');
  if (!inputs.some((i) => i.name === inputName)) {
    throw new Error(`Model has no input "${inputName}"; its inputs are: ${listed}`);
  }
  return inputs.map((i) => {
    const fill = i.name === inputName ? 'ids' : AUTO_FILL[i.name];
    if (!fill) throw new Error(`Model input "${i.name}" cannot be filled automatically; its inputs are: ${listed}`);
    const elemType = types.get(i.name)?.elemType ?? INT64;
    if (![INT32, INT64, FLOAT].includes(elemType)) {
      throw new Error(`Model input "${i.name}" has type ${dtypeName(elemType)}; expected int64, int32 or float32`);
    }
    return { name: i.name, elemType, fill };
  });
}

function tensorOf(elemType: number, n: number, dims: number[], value: (i: number) => number): Tensor {
  if (elemType === INT64) return new Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(value(i))), dims);
  if (elemType === INT32) return new Tensor('int32', Int32Array.from({ length: n }, (_, i) => value(i)), dims);
  return new Tensor('float32', Float32Array.from({ length: n }, (_, i) => value(i)), dims);
}

export function buildFeeds(plan: InputPlan[], ids: Ids, batch: number, seq: number): Record<string, Tensor> {
  const n = batch * seq;
  if (ids.length !== n) throw new Error(`ids has ${ids.length} elements but batch*seq is ${batch}*${seq}=${n}`);
  const dims = [batch, seq];
  const feeds: Record<string, Tensor> = {};
  for (const p of plan) {
    if (p.fill === 'ids') {
      // The ids buffer was transferred to this thread, so it can be fed as-is when types match.
      if (p.elemType === INT64 && ids instanceof BigInt64Array) feeds[p.name] = new Tensor('int64', ids, dims);
      else if (p.elemType === INT32 && ids instanceof Int32Array) feeds[p.name] = new Tensor('int32', ids, dims);
      else feeds[p.name] = tensorOf(p.elemType, n, dims, (i) => Number(ids[i]));
    } else {
      const value = p.fill === 'ones' ? () => 1 : p.fill === 'zeros' ? () => 0 : (i: number) => i % seq;
      feeds[p.name] = tensorOf(p.elemType, n, dims, value);
    }
  }
  return feeds;
}
