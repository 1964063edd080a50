import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelProtoSchema, ValueInfoProtoSchema } from 'onnx-buf';
import ort from 'onnxruntime-node';
import {
  DEMO_GENRES, DEMO_TEXT_SEPARATOR, generateDemoCorpus, generateDemoDocuments, type DemoDocument,
} from '../core/demo/corpus-generator.js';
import { buildDemoAssets, sha256Hex, type DemoRecipeJson } from '../core/demo/demo-assets.js';
import { demoTransformerHooks } from '../core/demo/transformer-builder.js';

// Compiled to dist/test/, so the repository root is two levels up.
const assetDir = fileURLToPath(new URL('../../assets/demo/', import.meta.url));
const readAsset = (name: string) => readFile(join(assetDir, name));
const recipe = JSON.parse((await readAsset('recipe.json')).toString('utf8')) as DemoRecipeJson;
const V = recipe.model.config.vocabSize;

interface TextTokenizer {
  encode(text: string): { ids: number[] };
  decode(ids: number[]): string;
}

async function loadTokenizer(): Promise<TextTokenizer> {
  const json = JSON.parse((await readAsset('tokenizer.json')).toString('utf8'));
  const config = JSON.parse((await readAsset('tokenizer_config.json')).toString('utf8'));
  return new Tokenizer(json, config) as TextTokenizer;
}

function idsTensor(rows: number[][]): ort.Tensor {
  const flat = BigInt64Array.from(rows.flat(), BigInt);
  return new ort.Tensor('int64', flat, [rows.length, rows[0].length]);
}

function randomRows(batch: number, seq: number, salt: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length: seq }, (_, s) => (b * 7919 + s * 104729 + salt) % V));
}

test('committed model returns finite, varied logits of shape [2, 16, V]', async () => {
  const session = await ort.InferenceSession.create(await readAsset('model.onnx'));
  assert.deepEqual(session.inputNames, ['input_ids']);
  assert.deepEqual(session.outputNames, ['logits']);
  const { logits } = await session.run({ input_ids: idsTensor(randomRows(2, 16, 1)) });
  assert.deepEqual(logits.dims, [2, 16, V]);
  const data = logits.data as Float32Array;
  assert.ok(data.every(Number.isFinite), 'all logits finite');
  const min = data.reduce((a, b) => Math.min(a, b), Infinity);
  const max = data.reduce((a, b) => Math.max(a, b), -Infinity);
  assert.ok(max - min > 0.5, `logits vary (range ${min}..${max})`);
  const firstRow = data.subarray(0, V);
  const secondRow = data.subarray(V, 2 * V);
  assert.notDeepEqual(Array.from(firstRow), Array.from(secondRow), 'positions differ');
  await session.release();
});

test('committed model is causal and batch rows are independent', async () => {
  const session = await ort.InferenceSession.create(await readAsset('model.onnx'));
  const rows = randomRows(2, 16, 2);
  const changed = rows.map((r) => [...r]);
  changed[0][10] = (changed[0][10] + 1) % V;
  const a = (await session.run({ input_ids: idsTensor(rows) })).logits.data as Float32Array;
  const b = (await session.run({ input_ids: idsTensor(changed) })).logits.data as Float32Array;
  const maxDiff = (row: number, from: number, to: number) => {
    let m = 0;
    for (let i = (row * 16 + from) * V; i < (row * 16 + to) * V; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };
  assert.equal(maxDiff(0, 0, 10), 0, 'positions before the change are untouched');
  assert.ok(maxDiff(0, 10, 16) > 0, 'the changed position and later ones move');
  assert.equal(maxDiff(1, 0, 16), 0, 'the other batch row is untouched');
  await session.release();
});

test('every documented hook tensor can be fetched with its declared shape', async () => {
  const model = fromBinary(ModelProtoSchema, await readAsset('model.onnx'));
  const hooks = demoTransformerHooks(recipe.model.config);
  const declared = new Set(model.graph!.valueInfo.map((v) => v.name));
  for (const hook of hooks) assert.ok(declared.has(hook.name), `value_info for ${hook.name}`);
  for (const hook of hooks) model.graph!.output.push(create(ValueInfoProtoSchema, { name: hook.name }));
  const session = await ort.InferenceSession.create(toBinary(ModelProtoSchema, model));
  const [batch, seq] = [2, 12];
  const out = await session.run({ input_ids: idsTensor(randomRows(batch, seq, 3)) });
  for (const hook of hooks) {
    const expected = hook.shape.map((d) => (d === 'batch' ? batch : d === 'seq' ? seq : d));
    assert.deepEqual(out[hook.name].dims, expected, hook.name);
  }
  const post = out['blocks.0.mlp.hook_post'].data as Float32Array;
  const active = post.filter((x) => x > 0).length / post.length;
  assert.ok(post.every((x) => x >= 0), 'post-ReLU is non-negative');
  assert.ok(active > 0.1 && active < 0.9, `a healthy share of neurons fire (${active.toFixed(2)})`);
  const pattern = out['blocks.0.attn.hook_pattern'].data as Float32Array;
  for (let row = 0; row < pattern.length / seq; row++) {
    const query = row % seq;
    const probs = pattern.subarray(row * seq, (row + 1) * seq);
    assert.ok(Math.abs(probs.reduce((x, y) => x + y, 0) - 1) < 1e-5, 'pattern rows sum to 1');
    assert.ok(probs.subarray(query + 1).every((p) => p === 0), 'no attention to later positions');
  }
  await session.release();
});

test('rebuilding from the recipe reproduces every committed file byte for byte', async () => {
  const trained = { weights: new Uint8Array(await readAsset('trained-weights.bin')), trainingLog: new Uint8Array(await readAsset('training-log.json')) };
  for (const [name, bytes] of [['trained-weights.bin', trained.weights], ['training-log.json', trained.trainingLog]] as const) {
    assert.equal(sha256Hex(bytes), recipe.inputs[name].sha256, `${name} is the input recipe.json records`);
  }
  const rebuilt = buildDemoAssets(trained, recipe.recipe);
  for (const file of rebuilt.files) {
    const committed = await readAsset(file.name);
    if (file.name !== 'recipe.json') assert.equal(sha256Hex(file.bytes), recipe.files[file.name].sha256, `${file.name} sha256 matches recipe.json`);
    assert.equal(sha256Hex(file.bytes), sha256Hex(committed), `${file.name} matches the committed file`);
  }
});

test('the ONNX graph computes what the training script trained: same loss on its check context', async () => {
  const log = JSON.parse((await readAsset('training-log.json')).toString('utf8')) as { check: { ids: number[]; meanNextTokenLoss: number } };
  const { ids, meanNextTokenLoss } = log.check;
  assert.ok(ids.length > 16, 'the training log carries a check context');
  const session = await ort.InferenceSession.create(await readAsset('model.onnx'));
  const input = ids.slice(0, -1);
  const logits = (await session.run({ input_ids: idsTensor([input]) })).logits.data as Float32Array;
  let total = 0;
  for (let p = 0; p < input.length; p++) {
    const row = logits.subarray(p * V, (p + 1) * V);
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    const logSum = Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0)) + max;
    total += logSum - row[ids[p + 1]];
  }
  const loss = total / input.length;
  // A graph that differed from the trained one (a missing bias, a transposed weight, another
  // LayerNorm epsilon) would move this far more than float32 rounding does.
  assert.ok(Math.abs(loss - meanNextTokenLoss) < 1e-3, `ONNX loss ${loss} vs torch ${meanNextTokenLoss}`);
  assert.ok(loss < 6, `the model predicts better than chance (ln ${V} = ${Math.log(V).toFixed(2)}), loss ${loss}`);
  await session.release();
});

test('tokenizer round-trips all eight genres with ids inside the vocabulary', async () => {
  const tokenizer = await loadTokenizer();
  const docs = generateDemoDocuments({ count: DEMO_GENRES.length * 5, seed: 99 });
  const seen = new Set<string>();
  for (const doc of docs) {
    const ids = tokenizer.encode(doc.text).ids;
    assert.ok(ids.length > 0);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < V), `${doc.genre} ids in [0, ${V})`);
    assert.equal(tokenizer.decode(ids), doc.text, `${doc.genre} round trip`);
    seen.add(doc.genre);
  }
  assert.deepEqual([...seen].sort(), [...DEMO_GENRES].sort());
  const hebrew = 'שלום עולם, זה מבחן. 2024!';
  assert.equal(tokenizer.decode(tokenizer.encode(hebrew).ids), hebrew);
  assert.deepEqual(tokenizer.encode('<|endoftext|>').ids, [0], 'special token is id 0');
  const joined = tokenizer.encode(`first doc<|endoftext|>second doc`).ids;
  assert.equal(joined.filter((id) => id === 0).length, 1, 'separator encodes to a single id');
});

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'thresher-demo-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readShards(dir: string): Promise<Buffer[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(names.map((n) => readFile(join(dir, n))));
}

test('corpus generator: same seed gives the same bytes, all genres present, lengths in range', async () => {
  const options = { shards: 3, docsPerShard: 20, seed: 5 };
  const [first, second, other] = await Promise.all([5, 5, 6].map((seed) => withTempDir(async (dir) => {
    const summary = await generateDemoCorpus({ ...options, seed, outDir: dir });
    return { summary, shards: await readShards(dir) };
  })));
  assert.deepEqual(first.shards, second.shards);
  assert.notDeepEqual(first.shards, other.shards);
  assert.equal(first.summary.files.length, 3);
  assert.deepEqual(first.summary.files.map((f) => f.split('/').pop()), ['shard-00000.jsonl', 'shard-00001.jsonl', 'shard-00002.jsonl']);
  assert.equal(first.summary.docs, 60);
  assert.equal(first.summary.bytes, first.shards.reduce((n, b) => n + b.length, 0));
  assert.deepEqual(Object.keys(first.summary.genreCounts).sort(), [...DEMO_GENRES].sort());
  for (const genre of DEMO_GENRES) assert.ok(first.summary.genreCounts[genre] > 0, `${genre} present`);

  const docs = first.shards.flatMap((b) => b.toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as DemoDocument));
  assert.equal(docs.length, 60);
  for (const doc of docs) {
    assert.deepEqual(Object.keys(doc), ['text', 'genre']);
    assert.ok(DEMO_GENRES.includes(doc.genre));
    assert.ok(doc.text.length >= 40 && doc.text.length <= 700, `${doc.genre} length ${doc.text.length}`);
  }
  assert.deepEqual(docs, generateDemoDocuments({ count: 60, seed: 5 }), 'shards hold the in-memory stream');
  assert.ok(docs.some((d) => d.genre === 'hebrew' && /[\u05d0-\u05ea]/.test(d.text)));
});

test('corpus generator writes gzip and txt formats', async () => {
  await withTempDir(async (dir) => {
    const plainDir = join(dir, 'plain');
    const gzDir = join(dir, 'gz');
    await generateDemoCorpus({ outDir: plainDir, shards: 2, docsPerShard: 16, seed: 9 });
    const summary = await generateDemoCorpus({ outDir: gzDir, shards: 2, docsPerShard: 16, seed: 9, gzip: true });
    assert.ok(summary.files.every((f) => f.endsWith('.jsonl.gz')));
    const gz = await readShards(gzDir);
    const plain = await readShards(plainDir);
    for (let i = 0; i < gz.length; i++) {
      assert.equal(gz[i][0], 0x1f);
      assert.equal(gz[i][1], 0x8b);
      assert.deepEqual(gunzipSync(gz[i]), plain[i]);
    }
    const again = await withTempDir(async (d2) => {
      await generateDemoCorpus({ outDir: d2, shards: 2, docsPerShard: 16, seed: 9, gzip: true });
      return readShards(d2);
    });
    assert.deepEqual(again, gz, 'gzip output is reproducible');

    const txtDir = join(dir, 'txt');
    await generateDemoCorpus({ outDir: txtDir, shards: 1, docsPerShard: 16, seed: 9, format: 'txt' });
    const text = (await readShards(txtDir))[0].toString('utf8');
    const texts = text.split(DEMO_TEXT_SEPARATOR).slice(0, -1);
    assert.deepEqual(texts, generateDemoDocuments({ count: 16, seed: 9 }).map((d) => d.text));
  });
});
