// Throughput of the ONNX SAE training step against the machine's practical GEMM peak, both
// measured in this process so that machine noise and thread settings hit them alike.
//
//   npm run bench:train  [-- --d-sae 4096,16384 --d-in 512 --batch 4096 --steps 4 --warmup 1
//                            --arch l1 --outputs pingpong --threads N]
//
// Achieved GFLOP/s counts 12·d_in·d_sae FLOPs per token, the usual cost of an SAE step (forward
// 2 GEMMs, backward 4, as autograd would run it). The graph executes only five of those GEMMs —
// ∂L/∂x̄ is replaced by a matrix-vector product (see train-step-graph.ts) — so the table also shows
// the executed 10·d_in·d_sae rate. Elementwise work, reductions and Adam count for nothing and
// show up as time. The peak is a 2048³ MatMul run by the same onnxruntime; target ratio ≥ 0.75.
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { SeededRandom } from '../core/random/seeded-random.js';
import { OnnxGraphWriter } from '../core/sae/onnx-graph-writer.js';
import type { SaeArch } from '../core/sae/sae-config.js';
import { createSaeTrainer } from '../core/sae/sae-trainer.js';
import { fixed, int, intFlag, median, numberList, printTable, verdict } from './bench-table.js';

const TARGET_RATIO = 0.75;
const MATMUL_N = 2048;

interface Flags {
  dSae: number[];
  dIn: number;
  batch: number;
  steps: number;
  warmup: number;
  arch: SaeArch;
  outputs: 'pingpong' | 'fresh';
  threads?: number;
}

function readFlags(): Flags {
  const { values } = parseArgs({
    options: {
      'd-sae': { type: 'string' }, 'd-in': { type: 'string' }, batch: { type: 'string' },
      steps: { type: 'string' }, warmup: { type: 'string' }, arch: { type: 'string' },
      outputs: { type: 'string' }, threads: { type: 'string' },
    },
  });
  const arch = (values.arch ?? 'l1') as SaeArch;
  if (arch !== 'l1' && arch !== 'topk') throw new Error(`--arch: expected l1 or topk, got "${values.arch}"`);
  const outputs = (values.outputs ?? 'pingpong') as Flags['outputs'];
  if (outputs !== 'pingpong' && outputs !== 'fresh') throw new Error(`--outputs: expected pingpong or fresh, got "${values.outputs}"`);
  return {
    dSae: values['d-sae'] ? numberList(values['d-sae'], 'd-sae') : [4096, 16384],
    dIn: intFlag(values['d-in'], 'd-in', 512),
    batch: intFlag(values.batch, 'batch', 4096),
    steps: intFlag(values.steps, 'steps', 4),
    warmup: intFlag(values.warmup, 'warmup', 1),
    arch, outputs,
    threads: values.threads === undefined ? undefined : intFlag(values.threads, 'threads', 1),
  };
}

const sessionThreads = (threads?: number) => (threads === undefined ? {} : { intraOpNumThreads: threads });

/** A 2048³ MatMul session; run() returns its GFLOP/s (inputs and output pre-allocated, as the step's are). */
async function openMatmul(threads: number | undefined): Promise<{ run(): Promise<number>; close(): Promise<void> }> {
  const n = MATMUL_N;
  const g = new OnnxGraphWriter('matmul_peak');
  g.op('MatMul', [g.input('a', [n, n]), g.input('b', [n, n])], {}, 'c');
  g.output('c', [n, n]);
  const session = await ort.InferenceSession.create(g.toBytes('2048³ MatMul'), { graphOptimizationLevel: 'all', ...sessionThreads(threads) });
  const rng = new SeededRandom(7);
  const tensor = () => new ort.Tensor('float32', Float32Array.from({ length: n * n }, () => rng.uniform(-1, 1)), [n, n]);
  const feeds = { a: tensor(), b: tensor() };
  const fetches = { c: new ort.Tensor('float32', new Float32Array(n * n), [n, n]) };
  const run = async () => {
    const t0 = performance.now();
    await session.run(feeds, fetches);
    return (2 * n ** 3) / ((performance.now() - t0) / 1000) / 1e9;
  };
  await run();
  return { run, close: () => session.release() };
}

interface Row {
  dSae: number;
  stepSeconds: number;
  tokensPerSec: number;
  /** 12·d_in·d_sae FLOPs per token (the convention). */
  gflops12: number;
  /** 10·d_in·d_sae: the five GEMMs the graph actually executes. */
  gflops10: number;
  peak: number;
  /** Median over steps of (step GFLOP/s, 12 convention) / (mean MatMul GFLOP/s of the runs just before and after it). */
  ratio: number;
  loss: number;
}

/**
 * Each timed step is bracketed by MatMul runs (before and after) and the ratio taken per step, so
 * a busy neighbour slowing the machine for a while slows both sides of the ratio alike.
 */
async function measure(f: Flags, dSae: number, matmul: { run(): Promise<number> }): Promise<Row> {
  const rng = new SeededRandom(dSae);
  // Two batches alternated, so no step sees the exact input the previous one did.
  const batches = [0, 1].map(() => Float32Array.from({ length: f.batch * f.dIn }, () => Math.max(0, rng.uniform(-1, 2))));
  const trainer = await createSaeTrainer({
    dIn: f.dIn, dSae, arch: f.arch, l1Coefficient: 1e-3, k: 32, batchSize: f.batch, seed: 1, lr: 1e-4,
    initSample: batches[0].subarray(0, 256 * f.dIn),
    onnx: { outputs: f.outputs, ...(f.threads !== undefined && { intraOpThreads: f.threads }) },
  });
  try {
    for (let i = 0; i < f.warmup; i++) await trainer.step(batches[i % 2]);
    const seconds: number[] = [];
    const peaks: number[] = [];
    const ratios: number[] = [];
    let loss = NaN;
    let before = await matmul.run();
    for (let i = 0; i < f.steps; i++) {
      const t0 = performance.now();
      loss = (await trainer.step(batches[i % 2])).loss;
      const dt = (performance.now() - t0) / 1000;
      const after = await matmul.run();
      const peak = (before + after) / 2;
      seconds.push(dt);
      peaks.push(peak);
      ratios.push((12 * f.dIn * dSae * f.batch) / dt / 1e9 / peak);
      before = after;
    }
    const stepSeconds = median(seconds);
    const tokensPerSec = f.batch / stepSeconds;
    return {
      dSae, stepSeconds, tokensPerSec,
      gflops12: (12 * f.dIn * dSae * tokensPerSec) / 1e9,
      gflops10: (10 * f.dIn * dSae * tokensPerSec) / 1e9,
      peak: median(peaks), ratio: median(ratios), loss,
    };
  } finally {
    await trainer.close();
  }
}

async function main(): Promise<void> {
  const f = readFlags();
  console.log(`SAE training step (${f.arch}, ONNX, outputs ${f.outputs}): d_in ${f.dIn}, batch ${f.batch}, ` +
    `${f.warmup} warm-up + ${f.steps} timed steps (medians), each bracketed by ${MATMUL_N}³ MatMul runs`);
  // Other work on the machine skews absolute numbers; the load average says how much there was.
  const loadBefore = loadavg()[0];
  const matmul = await openMatmul(f.threads);
  const rows: Row[] = [];
  try {
    for (const dSae of f.dSae) rows.push(await measure(f, dSae, matmul));
  } finally {
    await matmul.close();
  }
  printTable(
    'GFLOP/s counts 12·d_in·d_sae per token; "executed" counts the 10·d_in·d_sae of the five GEMMs the graph runs',
    ['d_sae', 'step s', 'tokens/s', 'GFLOP/s', 'executed', 'MatMul', 'ratio', 'target', 'loss'],
    rows.map((r) => [
      int(r.dSae), fixed(r.stepSeconds, 3), int(r.tokensPerSec), fixed(r.gflops12, 1), fixed(r.gflops10, 1), fixed(r.peak, 1),
      fixed(r.ratio, 2), verdict(Number(r.ratio.toFixed(2)), TARGET_RATIO, 'higher'), r.loss.toPrecision(4),
    ]),
  );
  console.log(`\n${cpus().length} CPUs; 1-minute load average ${fixed(loadBefore, 1)} before, ${fixed(loadavg()[0], 1)} after`);
}

await main();
