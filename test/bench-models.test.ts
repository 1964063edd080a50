// The harvest bench's built-in models: the random-weight transformer is deterministic, shaped as
// the builder's layout expects, and runs to finite hook values; bad model flags fail by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { randomTransformerWeights, resolveBenchModel } from '../bench/bench-models.js';
import { buildDemoTransformerBytes, resolveDemoTransformerConfig, weightLayout } from '../core/demo/transformer-builder.js';
import { extractHooks } from '../core/model/onnx-graph.js';

const assetDir = fileURLToPath(new URL('../../assets/demo/', import.meta.url));
const small = { vocabSize: 64, dModel: 32, nHeads: 2, dHead: 16, dMlp: 64, nLayers: 3, maxPositions: 16 };

test('randomTransformerWeights: seeded, gains 1, biases 0, matrices at the init scale', () => {
  const layout = weightLayout(resolveDemoTransformerConfig(small));
  const w = randomTransformerWeights(small, 3);
  assert.deepEqual(w, randomTransformerWeights(small, 3));
  assert.notDeepEqual(w, randomTransformerWeights(small, 4));
  let offset = 0;
  for (const t of layout) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const slice = w.subarray(offset, offset + n);
    offset += n;
    if (t.name.endsWith('.w')) assert.ok(slice.every((v) => v === 1), `${t.name} should be all ones`);
    else if (/\.b(_[A-Za-z]+)?$/.test(t.name)) assert.ok(slice.every((v) => v === 0), `${t.name} should be zeros`);
    else {
      assert.ok(t.dims.length > 1, `${t.name} should be a matrix`);
      const std = Math.sqrt(slice.reduce((a, v) => a + v * v, 0) / n);
      assert.ok(std > 0.015 && std < 0.025, `${t.name}: std ${std}`);
    }
  }
  assert.equal(offset, w.length);
});

test('a random-weight transformer runs to finite values at a deep hook', async () => {
  const bytes = buildDemoTransformerBytes(small, randomTransformerWeights(small, 1));
  const session = await ort.InferenceSession.create(extractHooks(bytes, ['blocks.2.hook_resid_post']));
  const ids = BigInt64Array.from({ length: 2 * 8 }, (_, i) => BigInt(i % small.vocabSize));
  const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [2, 8]) });
  const hook = out['blocks.2.hook_resid_post'];
  assert.deepEqual(hook.dims, [2, 8, 32]);
  assert.ok((hook.data as Float32Array).every(Number.isFinite));
  await session.release();
});

test('resolveBenchModel: built-in names, and a model file needs its tokenizer and hooks', async () => {
  const demo = await resolveBenchModel('demo', { demoAssets: assetDir, cacheDir: '/nonexistent' });
  assert.deepEqual(demo.hooks, ['blocks.0.mlp.hook_post', 'blocks.0.hook_resid_post']);
  const opts = { demoAssets: assetDir, cacheDir: '/nonexistent' };
  await assert.rejects(resolveBenchModel('gpt3', opts), /"gpt3" is neither demo nor gpt2-small-shape nor an \.onnx file/);
  await assert.rejects(resolveBenchModel('m.onnx', opts), /needs --tokenizer/);
  await assert.rejects(resolveBenchModel('m.onnx', { ...opts, tokenizer: 't.json' }), /needs --hooks/);
  const file = await resolveBenchModel('/x/m.onnx', { ...opts, tokenizer: 't.json', hooks: ['a'] });
  assert.deepEqual({ name: file.name, hooks: file.hooks }, { name: 'm', hooks: ['a'] });
});
