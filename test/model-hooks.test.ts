// Hook discovery/exposure and the inference worker, on tiny ONNX models built here with onnx-buf
// (no dependency on the demo transformer).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataType as DT } from 'onnx-buf';
import { providerAvailability } from '../core/model/execution-provider.js';
import { ExecutionProviderError, openInferenceWorker, type InferenceWorker } from '../core/model/inference-worker.js';
import { exposeHooks, listHooks, modelSha256, resolveHooks, UnknownHookError } from '../core/model/onnx-graph.js';

const V = 7; // vocab
const D = 4; // d_model
const H = 6; // mlp width

// Deterministic weights in [-1, 1).
function weights(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 1073741824 - 1) * scale;
  });
}

const initializer = (name: string, dims: number[], data: Float32Array<ArrayBuffer>) => ({
  name,
  dims: dims.map(BigInt),
  dataType: DT.FLOAT,
  rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
});

const tensorInfo = (name: string, elemType: number, dims: (number | string)[]) => ({
  name,
  type: {
    value: {
      case: 'tensorType' as const,
      value: {
        elemType,
        shape: {
          dim: dims.map((d) =>
            typeof d === 'string'
              ? { value: { case: 'dimParam' as const, value: d } }
              : { value: { case: 'dimValue' as const, value: BigInt(d) } },
          ),
        },
      },
    },
  },
});

type Node = { opType: string; input: string[]; output: string[] };

function model(inits: ReturnType<typeof initializer>[], nodes: Node[], output: string, width: number, valueInfo: ReturnType<typeof tensorInfo>[] = []) {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 8n,
      opsetImport: [{ domain: '', version: 17n }],
      graph: {
        name: 'test',
        initializer: inits,
        input: [tensorInfo('input_ids', DT.INT64, ['batch', 'seq'])],
        output: [tensorInfo(output, DT.FLOAT, ['batch', 'seq', width])],
        valueInfo,
        node: nodes,
      },
    }),
  );
}

const emb = weights(V * D, 1);
const w1 = weights(D * H, 2);
const w2 = weights(H * V, 3);

// input_ids → Gather(emb) 'embed' → MatMul 'mlp.hook_pre' → Relu 'mlp.hook_post' → MatMul 'logits'.
// Only mlp.hook_pre gets a value_info, so the others' shapes must come from elsewhere.
const tinyModel = model(
  [initializer('emb', [V, D], emb), initializer('w1', [D, H], w1), initializer('w2', [H, V], w2)],
  [
    { opType: 'Gather', input: ['emb', 'input_ids'], output: ['embed'] },
    { opType: 'MatMul', input: ['embed', 'w1'], output: ['mlp.hook_pre'] },
    { opType: 'Relu', input: ['mlp.hook_pre'], output: ['mlp.hook_post'] },
    { opType: 'MatMul', input: ['mlp.hook_post', 'w2'], output: ['logits'] },
  ],
  'logits',
  V,
  [tensorInfo('mlp.hook_pre', DT.FLOAT, ['batch', 'seq', H])],
);

// Plain-JS reference for one token: [embed, pre, post].
function reference(id: number) {
  const embed = Array.from(emb.subarray(id * D, (id + 1) * D));
  const pre = Array.from({ length: H }, (_, j) => embed.reduce((acc, x, k) => acc + x * w1[k * H + j], 0));
  return { embed, pre, post: pre.map((x) => Math.max(0, x)) };
}

function assertClose(actual: Float32Array, expected: number[], what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) < 1e-5, `${what}[${i}]: ${actual[i]} vs ${e}`));
}

let dir: string;
let tinyPath: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'thresher-hooks-'));
  tinyPath = join(dir, 'tiny.onnx');
  writeFileSync(tinyPath, tinyModel);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('onnx-graph', () => {
  test('listHooks lists float tensors with their producing op and known shapes', () => {
    const hooks = listHooks(tinyModel);
    assert.deepEqual(hooks, [
      { name: 'embed', op: 'Gather', dtype: 'float32', shape: null },
      { name: 'mlp.hook_pre', op: 'MatMul', dtype: 'float32', shape: ['batch', 'seq', H] },
      { name: 'mlp.hook_post', op: 'Relu', dtype: 'float32', shape: null },
      { name: 'logits', op: 'MatMul', dtype: 'float32', shape: ['batch', 'seq', V] },
    ]);
  });

  test('resolveHooks suggests the closest names for unknown hooks', () => {
    assert.deepEqual(resolveHooks(tinyModel, ['mlp.hook_post', 'embed', 'embed']).map((h) => h.name), ['mlp.hook_post', 'embed']);
    assert.throws(
      () => resolveHooks(tinyModel, ['mlp.hook_pst', 'embed', 'MLP.HOOK_PRE!', 'input_ids']),
      (e: unknown) => {
        assert.ok(e instanceof UnknownHookError);
        assert.deepEqual(e.unknown, ['mlp.hook_pst', 'MLP.HOOK_PRE!', 'input_ids']);
        assert.equal(e.suggestions['mlp.hook_pst'][0], 'mlp.hook_post');
        assert.equal(e.suggestions['MLP.HOOK_PRE!'][0], 'mlp.hook_pre'); // case-insensitive distance
        assert.equal(e.suggestions['mlp.hook_pst'].length, 3);
        assert.match(e.message, /"mlp\.hook_pst" \(closest: mlp\.hook_post, mlp\.hook_pre, /);
        assert.match(e.message, /"input_ids" \(int64 tensor, not a float activation/);
        return true;
      },
    );
  });

  test('exposeHooks appends hook outputs and keeps existing ones', () => {
    const exposed = fromBinary(ModelProtoSchema, exposeHooks(tinyModel, ['mlp.hook_post', 'logits', 'embed']));
    assert.deepEqual(exposed.graph!.output.map((o) => o.name), ['logits', 'mlp.hook_post', 'embed']);
    assert.equal(exposed.graph!.output[1].type, undefined); // name only: ORT infers the rest
    assert.throws(() => exposeHooks(tinyModel, ['nope']), UnknownHookError);
    // The input bytes' model is untouched.
    assert.deepEqual(fromBinary(ModelProtoSchema, tinyModel).graph!.output.map((o) => o.name), ['logits']);
  });

  test('modelSha256 is the hex SHA-256 of the bytes', () => {
    assert.equal(modelSha256(tinyModel), createHash('sha256').update(tinyModel).digest('hex'));
    assert.equal(modelSha256(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('inference worker', () => {
  let worker: InferenceWorker;
  before(async () => {
    worker = await openInferenceWorker({ modelPath: tinyPath, hooks: ['mlp.hook_pre', 'mlp.hook_post', 'embed'] });
  });
  after(() => worker.close());

  test('info has each hook with its width', () => {
    assert.deepEqual(worker.info.hooks.map((h) => [h.name, h.op]), [
      ['mlp.hook_pre', 'MatMul'],
      ['mlp.hook_post', 'Relu'],
      ['embed', 'Gather'],
    ]);
    assert.deepEqual(worker.info.widths, { 'mlp.hook_pre': H, 'mlp.hook_post': H, embed: D });
    assert.equal(worker.info.executionProvider, 'cpu');
    assert.equal(worker.info.modelSha256, modelSha256(tinyModel));
  });

  test('hook values match a plain-JS reference (int32 and int64 ids)', async () => {
    const ids = [3, 0, 6, 1, 1, 5];
    for (const typed of [Int32Array.from(ids), BigInt64Array.from(ids.map(BigInt))]) {
      const out = await worker.run(typed, 2, 3);
      assert.deepEqual(Object.keys(out).sort(), ['embed', 'mlp.hook_post', 'mlp.hook_pre']);
      assert.deepEqual(out['mlp.hook_post'].dims, [2, 3, H]);
      assert.deepEqual(out.embed.dims, [2, 3, D]);
      assert.ok(out.embed.data instanceof Float32Array);
      const refs = ids.map(reference);
      assertClose(out.embed.data, refs.flatMap((r) => r.embed), 'embed');
      assertClose(out['mlp.hook_pre'].data, refs.flatMap((r) => r.pre), 'pre');
      assertClose(out['mlp.hook_post'].data, refs.flatMap((r) => r.post), 'post');
      assert.equal(typed.length, 6, "the caller's ids are not detached");
    }
  });

  test('concurrent requests queue and each gets its own answer', async () => {
    const outs = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((id) => worker.run(Int32Array.of(id), 1, 1)));
    outs.forEach((o, id) => assertClose(o.embed.data, reference(id).embed, `embed ${id}`));
  });

  test('recycled result buffers are written into by later runs, with correct values', async () => {
    const first = await worker.run(Int32Array.of(1, 2, 3, 4, 5, 6), 2, 3);
    // The second run of a shape learns its dims; from then on, handed-back buffers are reused.
    worker.recycle(await worker.run(Int32Array.of(6, 5, 4, 3, 2, 1), 2, 3));
    worker.recycle(first);
    assert.equal(first.embed.data.length, 0, 'recycled arrays are detached from the caller');
    for (const ids of [[0, 6, 2, 2, 5, 1], [4, 4, 4, 0, 1, 3], [6, 0, 5, 1, 4, 2]]) {
      const out = await worker.run(Int32Array.from(ids), 2, 3);
      const refs = ids.map(reference);
      assert.deepEqual(out.embed.dims, [2, 3, D]);
      assertClose(out.embed.data, refs.flatMap((r) => r.embed), `embed ${ids}`);
      assertClose(out['mlp.hook_post'].data, refs.flatMap((r) => r.post), `post ${ids}`);
      worker.recycle(out);
    }
    // Another shape does not take buffers of the wrong size.
    const other = await worker.run(Int32Array.of(3, 1), 1, 2);
    assertClose(other['mlp.hook_pre'].data, [3, 1].map(reference).flatMap((r) => r.pre), 'pre at another shape');
  });

  test('a bad input rejects with the thread message and later runs still work', async () => {
    await assert.rejects(worker.run(Int32Array.of(1, 99), 1, 2), /out of data bounds|indices/i);
    await assert.rejects(worker.run(Int32Array.of(1, 2, 3), 2, 2), RangeError);
    const out = await worker.run(Int32Array.of(2), 1, 1);
    assertClose(out.embed.data, reference(2).embed, 'embed after errors');
  });
});

describe('inference worker: opening and closing', () => {
  const cudaInstalled = providerAvailability().some((p) => p.name === 'cuda' && p.installed);

  test('provider "cuda" without its library fails at open, naming providers', { skip: cudaInstalled && 'CUDA provider is installed here' }, async () => {
    await assert.rejects(openInferenceWorker({ modelPath: tinyPath, hooks: ['embed'], executionProvider: 'cuda' }), (e: unknown) => {
      assert.ok(e instanceof ExecutionProviderError);
      assert.match(e.message, /"cuda" is not installed/);
      assert.match(e.message, /usable here: cpu/);
      return true;
    });
  });

  test('an unknown provider fails at open, listing those available', async () => {
    await assert.rejects(openInferenceWorker({ modelPath: tinyPath, hooks: ['embed'], executionProvider: 'nonsense' }), (e: unknown) => {
      assert.ok(e instanceof ExecutionProviderError);
      assert.match(e.message, /Unknown execution provider "nonsense"/);
      assert.match(e.message, /usable here: cpu/);
      return true;
    });
  });

  test('unknown hooks and missing files fail at open', async () => {
    await assert.rejects(openInferenceWorker({ modelPath: tinyPath, hooks: ['mlp.hook_pst'] }), (e: unknown) => {
      assert.ok(e instanceof UnknownHookError);
      assert.deepEqual(e.suggestions['mlp.hook_pst'][0], 'mlp.hook_post');
      return true;
    });
    await assert.rejects(openInferenceWorker({ modelPath: join(dir, 'missing.onnx'), hooks: ['embed'] }), /ENOENT/);
  });

  test('close rejects unanswered requests and later runs', async () => {
    const w = await openInferenceWorker({ modelPath: tinyPath, hooks: ['embed'], executionProvider: 'CPUExecutionProvider' });
    const inflight = assert.rejects(w.run(Int32Array.of(1), 1, 1), /closed/);
    await w.close();
    await inflight;
    await assert.rejects(w.run(Int32Array.of(1), 1, 1), /closed/);
  });
});

describe('inference worker: main thread stays responsive', () => {
  const DS = 1024;
  const LAYERS = 8;
  let slowPath: string;
  before(() => {
    // Embedding then LAYERS MatMuls by the same D×D weight: ~2·LAYERS·DS² FLOPs per token.
    const nodes: Node[] = [{ opType: 'Gather', input: ['emb', 'input_ids'], output: ['h0'] }];
    for (let l = 0; l < LAYERS; l++) nodes.push({ opType: 'MatMul', input: [`h${l}`, 'w'], output: [`h${l + 1}`] });
    const m = model([initializer('emb', [16, DS], weights(16 * DS, 4)), initializer('w', [DS, DS], weights(DS * DS, 5, 1 / Math.sqrt(DS)))], nodes, `h${LAYERS}`, DS);
    slowPath = join(dir, 'slow.onnx');
    writeFileSync(slowPath, m);
  });

  test('setInterval keeps ticking during a slow run', async (t) => {
    const w = await openInferenceWorker({ modelPath: slowPath, hooks: [`h${LAYERS}`], intraOpThreads: 1 });
    try {
      // Grow the batch until one run is long enough that a blocked loop would be obvious.
      for (let seq = 512; ; seq *= 2) {
        const ticks: number[] = [];
        const start = performance.now();
        const timer = setInterval(() => ticks.push(performance.now()), 5);
        const out = await w.run(new Int32Array(4 * seq).fill(3), 4, seq);
        const end = performance.now();
        clearInterval(timer);
        assert.deepEqual(out[`h${LAYERS}`].dims, [4, seq, DS]);
        const duration = end - start;
        if (duration < 300 && seq < 8192) continue;
        const stamps = [start, ...ticks, end];
        const maxGap = Math.max(...stamps.slice(1).map((s, i) => s - stamps[i]));
        t.diagnostic(`${4 * seq} tokens: ${duration.toFixed(0)} ms, ${ticks.length} ticks, longest gap ${maxGap.toFixed(1)} ms`);
        assert.ok(ticks.length >= 10, `${ticks.length} ticks in ${duration.toFixed(0)} ms`);
        assert.ok(maxGap < Math.max(100, duration / 3), `longest gap ${maxGap.toFixed(0)} ms in a ${duration.toFixed(0)} ms run`);
        break;
      }
    } finally {
      await w.close();
    }
  });
});
