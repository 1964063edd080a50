// Models for the harvest benchmark's end-to-end section.
//
// The e2e/bare ratio depends on how much compute the model spends per byte the harvest stores. The
// demo model (1 block, d_model 128) runs ~150k tokens/s on 2 cores, so writing ~1 KB per token
// competes with it for the same cores; a real harvest target is far heavier per token. So the bench
// also runs a model with GPT-2 small's shape (12 blocks, d_model 768, 12 heads, d_mlp 3,072) built
// here from seeded random weights: throughput depends on the shapes, not on the values, and it
// needs no download. Its vocabulary is the demo tokenizer's, so the demo corpus feeds it.
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  buildDemoTransformerBytes, resolveDemoTransformerConfig, weightLayout, type DemoTransformerConfig,
} from '../core/demo/transformer-builder.js';
import { SeededRandom } from '../core/random/seeded-random.js';

export interface BenchModel {
  /** Short name for tables: `demo`, `gpt2-small-shape`, or the file's base name. */
  name: string;
  modelPath: string;
  tokenizerPath: string;
  /** The one-hook case uses hooks[0]; the two-hook case, run when there are two, both. */
  hooks: string[];
}

export const BUILT_IN_MODELS = ['demo', 'gpt2-small-shape'] as const;

/** GPT-2 small's shape (124M parameters with its 50,257-token vocabulary; 89M with the demo's 2,048). */
const GPT2_SMALL_SHAPE: DemoTransformerConfig = {
  vocabSize: 2048, dModel: 768, nHeads: 12, dHead: 64, dMlp: 3072, nLayers: 12, maxPositions: 1024,
};
const GPT2_SEED = 7;
/** GPT-2's initialisation scale; uniform with this standard deviation keeps activations finite through 12 blocks. */
const INIT_STD = 0.02;

/**
 * Seeded weights in the builder's layout: LayerNorm gains 1, biases 0, every matrix uniform with
 * standard deviation INIT_STD.
 */
export function randomTransformerWeights(config: DemoTransformerConfig, seed: number): Float32Array {
  const layout = weightLayout(resolveDemoTransformerConfig(config));
  const sizes = layout.map((t) => t.dims.reduce((a, b) => a * b, 1));
  const weights = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  const random = new SeededRandom(seed);
  const half = INIT_STD * Math.sqrt(3);
  let offset = 0;
  layout.forEach((t, i) => {
    const end = offset + sizes[i];
    if (/\.w$/.test(t.name)) weights.fill(1, offset, end); // LayerNorm gains
    else if (!/\.b(_[A-Za-z]+)?$/.test(t.name)) for (let j = offset; j < end; j++) weights[j] = (random.next() * 2 - 1) * half;
    // Biases (`.b`, `.b_Q`, `.b_in`, …, some of them 2-D) stay 0.
    offset = end;
  });
  return weights;
}

/** Builds the GPT-2-small-shaped model once into cacheDir (~340 MiB, ~10 s) and returns its path. */
async function ensureGpt2SmallShape(cacheDir: string): Promise<string> {
  const file = path.join(cacheDir, `gpt2-small-shape-seed${GPT2_SEED}.onnx`);
  if (await stat(file).then((s) => s.size > 0, () => false)) return file;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.partial`;
  await writeFile(tmp, buildDemoTransformerBytes(GPT2_SMALL_SHAPE, randomTransformerWeights(GPT2_SMALL_SHAPE, GPT2_SEED)));
  await rename(tmp, file);
  return file;
}

/**
 * `demo`, `gpt2-small-shape`, or the path of any ONNX model (then `tokenizer` and one or two
 * `hooks` are required).
 */
export async function resolveBenchModel(
  spec: string,
  opts: { demoAssets: string; cacheDir: string; tokenizer?: string; hooks?: string[] },
): Promise<BenchModel> {
  const demoTokenizer = path.join(opts.demoAssets, 'tokenizer.json');
  if (spec === 'demo') {
    return {
      name: spec,
      modelPath: path.join(opts.demoAssets, 'model.onnx'),
      tokenizerPath: demoTokenizer,
      hooks: ['blocks.0.mlp.hook_post', 'blocks.0.hook_resid_post'],
    };
  }
  if (spec === 'gpt2-small-shape') {
    // Mid-depth residual stream, where SAE work on GPT-2 small usually reads; only blocks 0–5 (0–8
    // with the second hook) run, as the harvest cuts the graph at its hooks.
    return {
      name: spec,
      modelPath: await ensureGpt2SmallShape(opts.cacheDir),
      tokenizerPath: demoTokenizer,
      hooks: ['blocks.5.hook_resid_post', 'blocks.8.hook_resid_post'],
    };
  }
  if (!spec.endsWith('.onnx')) throw new Error(`--models: "${spec}" is neither ${BUILT_IN_MODELS.join(' nor ')} nor an .onnx file`);
  if (!opts.tokenizer) throw new Error(`--models ${spec}: a model file needs --tokenizer FILE (its tokenizer.json)`);
  const hooks = opts.hooks ?? [];
  if (hooks.length < 1 || hooks.length > 2) throw new Error(`--models ${spec}: a model file needs --hooks A[,B] (one or two hook names)`);
  return { name: path.basename(spec, '.onnx'), modelPath: spec, tokenizerPath: opts.tokenizer, hooks };
}
