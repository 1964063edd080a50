// Worker-thread side of openInferenceWorker: owns the ORT session so that session.run(), which
// blocks its thread for the whole inference, never blocks the main thread's event loop (Temporal
// heartbeats, cancellation). Requests are served one at a time, in arrival order.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { InferenceSession, Tensor as OrtTensor, type Tensor } from 'onnxruntime-node';
import { checkProvider } from './execution-provider.js';
import { SpareBuffers } from './spare-buffers.js';
import { buildFeeds, planInputs, type InputPlan } from './inference-inputs.js';
import {
  serializeError,
  ExecutionProviderError,
  type FromThread,
  type HookOutput,
  type InferenceInfo,
  type InferenceWorkerOptions,
  type ToThread,
} from './inference-protocol.js';
import { decodeModel, extractHooks, modelSha256, resolveHooks, type HookInfo } from './onnx-graph.js';
import type { Dim } from './onnx-types.js';
import { float16ArrayToFloat32 } from '../parquet/float16.js';

// onnxruntime-node can hand these back; bfloat16 outputs it cannot represent at all.
const RETURNABLE = new Set(['float32', 'float16', 'float64']);

const port = parentPort!;
const options = workerData as InferenceWorkerOptions;
let session: InferenceSession | undefined;
let plan: InputPlan[] = [];
let hookNames: string[] = [];
/** Whether every hook comes back as float32, so ORT can write results into buffers we own. */
let allFloat32 = false;
/**
 * Each hook's output dims per (batch, seq), learned from the first run of that shape. With them
 * known, ORT writes the next results straight into buffers the main thread handed back: without
 * that, every batch allocated fresh result buffers that the main thread then had to collect (on
 * the harvest benchmark, garbage collection was the main thread's largest cost).
 */
const knownDims = new Map<string, Record<string, number[]>>();
/** Enough for every hook of the batches in flight. */
const spare = new SpareBuffers(16);

const post = (msg: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function open(): Promise<InferenceInfo> {
  // Provider and hook names are checked before the (possibly slow) session creation.
  const provider = checkProvider(options.executionProvider ?? 'cpu');
  const modelPath = resolve(options.modelPath);
  const bytes = await readFile(modelPath);
  const proto = decodeModel(bytes);
  const hooks = resolveHooks(proto, options.hooks);
  const bad = hooks.filter((h) => !RETURNABLE.has(h.dtype));
  if (bad.length) {
    throw new Error(`onnxruntime-node cannot return ${bad.map((h) => `${h.name} (${h.dtype})`).join(', ')}`);
  }
  plan = planInputs(proto.graph!, options.inputName ?? 'input_ids');
  hookNames = hooks.map((h) => h.name);
  allFloat32 = hooks.every((h) => h.dtype === 'float32');
  const exposed = extractHooks(proto, hookNames);
  const sha = modelSha256(bytes);

  try {
    session = await InferenceSession.create(exposed, {
      executionProviders: [provider],
      // The binding rejects an explicit undefined, so only set what was given.
      ...(options.intraOpThreads !== undefined && { intraOpNumThreads: options.intraOpThreads }),
      // Loaded from a buffer, ORT cannot tell where external weight files live; point it at the
      // model's folder, where exporters put them.
      extra: { session: { model_external_initializers_file_folder_path: dirname(modelPath) } },
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (provider === 'cpu') throw e;
    throw new ExecutionProviderError(`Execution provider "${provider}" failed to create a session: ${msg}`);
  }
  const completed = hooks.map((h) => withOrtShape(h));
  return { hooks: completed, widths: await learnWidths(completed), executionProvider: provider, modelSha256: sha };
}

// ORT runs its own shape inference over the whole graph, so its output metadata often knows
// shapes that the file never declared.
function withOrtShape(h: HookInfo): HookInfo {
  const meta = session!.outputMetadata.find((m) => m.name === h.name);
  if (!meta?.isTensor || meta.shape.length === 0) return h;
  const shape = meta.shape.map((d): Dim => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d ? d : null));
  return { ...h, shape };
}

// Declared last dims are taken as-is; the rest come from two tiny runs (seq 2 and 3), which
// also reveal last dims that follow the sequence length.
async function learnWidths(hooks: HookInfo[]): Promise<Record<string, number | null>> {
  const widths: Record<string, number | null> = {};
  const unknown: string[] = [];
  for (const h of hooks) {
    const last = h.shape?.[h.shape.length - 1];
    if (typeof last === 'number') widths[h.name] = last;
    else unknown.push(h.name);
  }
  if (unknown.length === 0) return widths;
  const probe = async (seq: number) => infer(new BigInt64Array(seq), 1, seq, unknown);
  const [a, b] = [await probe(2), await probe(3)];
  for (const name of unknown) {
    const wa = a[name].dims.at(-1);
    const wb = b[name].dims.at(-1);
    widths[name] = wa !== undefined && wa === wb ? wa : null;
  }
  return widths;
}

// float32 results are passed through untouched (their buffers get transferred, not copied).
function toFloat32(t: Tensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.type === 'float16' && t.data instanceof Uint16Array) return float16ArrayToFloat32(t.data);
  if (t.type === 'float64' || t.type === 'float16') return Float32Array.from(t.data as ArrayLike<number>);
  throw new Error(`hook output of type ${t.type} cannot be returned as float32`);
}

async function infer(ids: BigInt64Array | Int32Array, batch: number, seq: number, names = hookNames) {
  const feeds = buildFeeds(plan, ids, batch, seq);
  const shapeKey = `${batch}x${seq}`;
  const dims = names === hookNames ? knownDims.get(shapeKey) : undefined;
  if (dims) {
    // Pre-allocated fetches: ORT writes each hook into our buffer.
    const outputs: Record<string, HookOutput> = {};
    const fetches: Record<string, Tensor> = {};
    for (const name of names) {
      const data = spare.float32(dims[name].reduce((a, b) => a * b, 1));
      outputs[name] = { data, dims: dims[name] };
      fetches[name] = new OrtTensor('float32', data, dims[name]);
    }
    await session!.run(feeds, fetches);
    return outputs;
  }
  // Fetching only the hooks lets ORT skip everything downstream of them (e.g. the logits).
  const result = await session!.run(feeds, names);
  const outputs: Record<string, HookOutput> = {};
  for (const name of names) outputs[name] = { data: toFloat32(result[name] as Tensor), dims: [...result[name].dims] };
  if (names === hookNames && allFloat32) knownDims.set(shapeKey, Object.fromEntries(names.map((n) => [n, outputs[n].dims])));
  return outputs;
}

let closing = false;
let queue: Promise<void> = open().then(
  (info) => post({ type: 'ready', info }),
  (e) => {
    post({ type: 'open-error', error: serializeError(e) });
    port.close(); // nothing more to do; lets the thread exit
  },
);

port.on('message', (msg: ToThread) => {
  if (msg.type === 'recycle') {
    for (const b of msg.buffers) spare.give(b);
    return;
  }
  if (msg.type === 'close') {
    closing = true;
    queue = queue.then(async () => {
      await session?.release();
      port.close();
    });
    return;
  }
  const { id, ids, batch, seq } = msg;
  queue = queue.then(async () => {
    if (closing || !session) return; // the main thread has already rejected it
    try {
      const t0 = performance.now();
      const outputs = await infer(ids, batch, seq);
      const seconds = (performance.now() - t0) / 1000;
      const buffers = new Set(Object.values(outputs).map((o) => o.data.buffer as ArrayBuffer));
      post({ type: 'result', id, outputs, seconds }, [...buffers]);
    } catch (e) {
      post({ type: 'run-error', id, error: serializeError(e) });
    }
  });
});
