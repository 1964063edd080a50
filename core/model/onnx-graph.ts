// Hook discovery and exposure on an ONNX model's bytes.
//
// A "hook" is any float tensor of the top-level graph that can be fetched at run time. ORT only
// returns graph outputs, so exposing a hook means appending a name-only ValueInfoProto to
// graph.output; ORT infers its type and computes only what the fetched outputs need.
import { createHash } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, ValueInfoProtoSchema, type ModelProto } from 'onnx-buf';
import { closest } from './edit-distance.js';
import { dtypeName, isFloatType, tensorTypes, type Dim } from './onnx-types.js';

export interface HookInfo {
  name: string;
  /** op_type of the node producing the tensor, or 'input' for a graph input. */
  op: string;
  dtype: string;
  /** Declared shape (symbolic dims as strings, unknown dims null); null when undeclared. */
  shape: Dim[] | null;
}

/** Raw model bytes, or a ModelProto already decoded (to avoid decoding a big model twice). */
export type ModelSource = Uint8Array | ModelProto;

export class UnknownHookError extends Error {
  override name = 'UnknownHookError';
  constructor(
    readonly unknown: string[],
    /** Up to 3 closest real hook names per unknown name. */
    readonly suggestions: Record<string, string[]>,
    message?: string,
    /** dtype of names that exist in the graph but are not float tensors. */
    notFloat: Record<string, string> = {},
  ) {
    super(
      message ??
        `Unknown hook${unknown.length > 1 ? 's' : ''}: ` +
          unknown
            .map((n) => {
              const why = notFloat[n] ? `${notFloat[n]} tensor, not a float activation; ` : '';
              return `"${n}" (${why}closest: ${suggestions[n]?.join(', ') || 'none'})`;
            })
            .join('; '),
    );
  }
}

export function decodeModel(model: ModelSource): ModelProto {
  // fromBinary keeps bytes fields (weights) as views of the input, so decoding is cheap.
  return model instanceof Uint8Array ? fromBinary(ModelProtoSchema, model) : model;
}

export function modelSha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function listHooks(model: ModelSource): HookInfo[] {
  const graph = decodeModel(model).graph;
  if (!graph) throw new Error('ONNX model has no graph');
  const types = tensorTypes(graph);
  const hooks: HookInfo[] = [];
  const seen = new Set<string>();
  const add = (name: string, op: string) => {
    const t = types.get(name);
    if (!name || seen.has(name) || !isFloatType(t?.elemType)) return;
    seen.add(name);
    hooks.push({ name, op, dtype: dtypeName(t?.elemType), shape: t?.shape ?? null });
  };
  // Old exporters list initializers among graph inputs; those are weights, not activations.
  const initializers = new Set(graph.initializer.map((t) => t.name));
  for (const input of graph.input) if (!initializers.has(input.name)) add(input.name, 'input');
  for (const node of graph.node) for (const out of node.output) add(out, node.opType);
  return hooks;
}

/** HookInfo for each requested name, in request order (duplicates dropped); throws UnknownHookError. */
export function resolveHooks(model: ModelSource | HookInfo[], names: string[]): HookInfo[] {
  const proto = Array.isArray(model) ? undefined : decodeModel(model);
  const hooks = proto ? listHooks(proto) : (model as HookInfo[]);
  const byName = new Map(hooks.map((h) => [h.name, h]));
  const wanted = [...new Set(names)];
  const unknown = wanted.filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    const candidates = hooks.map((h) => h.name);
    const suggestions = Object.fromEntries(unknown.map((n) => [n, closest(n, candidates, 3)]));
    // Asking for e.g. input_ids is a different mistake from a typo; say so.
    const types = proto?.graph ? tensorTypes(proto.graph) : new Map();
    const notFloat = Object.fromEntries(
      unknown.filter((n) => types.has(n)).map((n) => [n, dtypeName(types.get(n)?.elemType)]),
    );
    throw new UnknownHookError(unknown, suggestions, undefined, notFloat);
  }
  return wanted.map((n) => byName.get(n)!);
}

/** Model bytes whose graph outputs also include `names` (validated with resolveHooks). */
export function exposeHooks(model: ModelSource, names: string[]): Uint8Array {
  const proto = decodeModel(model);
  resolveHooks(proto, names);
  const graph = proto.graph!;
  const present = new Set(graph.output.map((o) => o.name));
  const added = [...new Set(names)]
    .filter((n) => !present.has(n))
    .map((name) => create(ValueInfoProtoSchema, { name })); // type left empty: ORT infers it
  // Shallow copies so a caller's decoded ModelProto is not mutated.
  return toBinary(ModelProtoSchema, { ...proto, graph: { ...graph, output: [...graph.output, ...added] } });
}
