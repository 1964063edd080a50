// Hook discovery and exposure on an ONNX model's bytes.
//
// A "hook" is any float tensor of the top-level graph that can be fetched at run time. ORT only
// returns graph outputs, so exposing a hook means appending a name-only ValueInfoProto to
// graph.output; ORT infers its type. ORT runs every node of the graph on each run whatever is
// fetched, so a session that only fetches hooks gets a model cut down to them (extractHooks).
import { createHash } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, ValueInfoProtoSchema, type GraphProto, type ModelProto, type NodeProto } from 'onnx-buf';
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

/**
 * Model bytes whose only graph outputs are `names` (validated with resolveHooks), with every node
 * and initializer they do not depend on removed. ORT executes all nodes on every run, not only
 * those the fetched outputs need: with exposeHooks the demo model still ran its unembedding and
 * attention when only hook_embed was fetched (~0.15M tokens/s, against >1M tokens/s cut down).
 */
export function extractHooks(model: ModelSource, names: string[]): Uint8Array {
  const proto = decodeModel(model);
  resolveHooks(proto, names);
  const graph = proto.graph!;
  const wanted = [...new Set(names)];
  const declared = new Map(graph.output.map((o) => [o.name, o]));
  const output = wanted.map((name) => declared.get(name) ?? create(ValueInfoProtoSchema, { name }));
  // Nodes are topologically sorted (an ONNX requirement), so one backward pass finds all producers.
  const needed = new Set(wanted);
  const keep = new Set<NodeProto>();
  for (let i = graph.node.length - 1; i >= 0; i--) {
    const node = graph.node[i];
    if (!node.output.some((o) => needed.has(o))) continue;
    keep.add(node);
    for (const name of nodeReads(node)) needed.add(name);
  }
  const initializers = new Set(graph.initializer.map((t) => t.name));
  return toBinary(ModelProtoSchema, {
    ...proto,
    graph: {
      ...graph,
      node: graph.node.filter((n) => keep.has(n)),
      initializer: graph.initializer.filter((t) => needed.has(t.name)),
      sparseInitializer: graph.sparseInitializer.filter((t) => !t.values?.name || needed.has(t.values.name)),
      // Old exporters list weights among the inputs; a dropped weight must not become a required input.
      input: graph.input.filter((i) => !initializers.has(i.name) || needed.has(i.name)),
      valueInfo: graph.valueInfo.filter((v) => needed.has(v.name)),
      output,
    },
  });
}

/** Names a node reads: its inputs, plus outer-scope names its subgraphs (If, Loop, Scan) use. */
function nodeReads(node: NodeProto): string[] {
  const names = node.input.filter((n) => n !== '');
  const visit = (g: GraphProto | undefined) => {
    for (const n of g?.node ?? []) names.push(...nodeReads(n));
  };
  for (const a of node.attribute) {
    visit(a.g);
    a.graphs.forEach(visit);
  }
  return names;
}
