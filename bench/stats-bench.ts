// Statistics throughput against encode-only ORT throughput, side by side in one run on the same
// activation parts (the machine is noisy: compare the ratio, not the absolute numbers).
//
//   npm run bench:stats  [-- --d-in 512 --d-sae 4096 --parts 3 --rows 16384 --l0 64 --labels 4
//                            --batch 1024 --repeats 5 --in-flight 2 --threads N --encode-threads N]
//
//   (a) encode-only: the dictionary's encoder.onnx in the encoder worker thread (openEncoderWorker)
//       over every row of the parts, pre-decoded, results discarded (their buffers handed back, as
//       summariseParts hands them back); batches are kept queued so the session never waits on
//       this thread. Nothing else.
//   (b) statistics: summariseParts(), the function the summarisePart activity runs: read each part
//       (readActivationPart on in-memory bytes) → encode → FeatureSummary.add, pipelined.
//
// Both sides see the same parts and the same encoder model; each round runs both (alternating
// which goes first) after one warm-up round, and the ratio is taken per round. Target: median
// ratio ≥ 0.8. Also printed: how busy the encoder session was (session.run time / wall time) and
// the main thread's CPU per row, which on side (b) is reading parts plus FeatureSummary.add.
//
// Data: deterministic synthetic activations (core/sae/synthetic-activations.ts: sparse mixes of
// random directions) written as real activation parts (encodeActivationPart), and an L1 dictionary
// from initSaeWeights whose encoder biases are calibrated on a sample so that feature densities are
// log-uniform over two decades with mean L0 = --l0 active features per token (a random init would
// fire half of all features, far from any trained dictionary). The measured L0 is printed.
//
// Flags:
//   --d-in N            activation width (default 512, the demo's MLP hook)
//   --d-sae N           dictionary size (default 4096, the size the issue names; the demo now trains 1,024)
//   --parts N           activation parts (default 3)
//   --rows N            rows per part (default 16384)
//   --l0 N              mean active features per token the dictionary is calibrated to (default 64)
//   --labels N          distinct row labels, as the demo's genres (default 4; 0 for none)
//   --batch N           rows per encoder call (default: the stage's, defaultEncodeBatchRows(d_sae): 1024 at d_sae 4096)
//   --repeats N         timed rounds of (a) and (b) (default 5)
//   --in-flight N       summariseParts maxInFlight (default: its default, 2; 1 is the serial loop)
//   --threads N         ORT intra-op threads of (b)'s encoder (default: the stats stage's choice)
//   --encode-threads N  ORT intra-op threads of (a)'s encoder (default: onnxruntime's, all cores)
//   --seed N            data and dictionary seed (default 1)
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { encodeActivationPart, readActivationPart } from '../core/parquet/activation-part.js';
import { SeededRandom } from '../core/random/seeded-random.js';
import { buildSaeEncoderModel, ENCODER_INPUT, ENCODER_OUTPUTS } from '../core/sae/sae-encoder-model.js';
import { initSaeWeights } from '../core/sae/sae-init.js';
import type { SaeWeights } from '../core/sae/sae-weights.js';
import { syntheticActivations } from '../core/sae/synthetic-activations.js';
import { defaultEncoderThreads, openEncoderWorker, type EncodedBatch } from '../core/stats/encoder-worker.js';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { DEFAULT_MAX_IN_FLIGHT, defaultEncodeBatchRows, summariseParts } from '../core/stats/summarise-parts.js';
import { fixed, int, intFlag, median, printTable, verdict } from './bench-table.js';

const TARGET_RATIO = 0.8;
const CALIBRATION_ROWS = 4096;
const GENRES = ['code', 'dna', 'json', 'prose', 'math', 'legal', 'chat', 'poetry'];

interface Flags {
  dIn: number;
  dSae: number;
  parts: number;
  rows: number;
  l0: number;
  labels: number;
  batch: number;
  repeats: number;
  inFlight: number;
  threads?: number;
  encodeThreads?: number;
  seed: number;
}

function readFlags(): Flags {
  const { values } = parseArgs({
    options: Object.fromEntries(['d-in', 'd-sae', 'parts', 'rows', 'l0', 'labels', 'batch', 'repeats', 'in-flight', 'threads', 'encode-threads', 'seed']
      .map((k) => [k, { type: 'string' as const }])),
  }) as { values: Record<string, string | undefined> };
  const labels = values.labels === '0' ? 0 : intFlag(values.labels, 'labels', 4);
  if (labels > GENRES.length) throw new Error(`--labels: at most ${GENRES.length}`);
  const optional = (k: string) => (values[k] === undefined ? undefined : intFlag(values[k], k, 1));
  const dSae = intFlag(values['d-sae'], 'd-sae', 4096);
  return {
    dIn: intFlag(values['d-in'], 'd-in', 512),
    dSae,
    parts: intFlag(values.parts, 'parts', 3),
    rows: intFlag(values.rows, 'rows', 16384),
    l0: intFlag(values.l0, 'l0', 64),
    labels,
    batch: intFlag(values.batch, 'batch', defaultEncodeBatchRows(dSae)),
    repeats: intFlag(values.repeats, 'repeats', 5),
    inFlight: intFlag(values['in-flight'], 'in-flight', DEFAULT_MAX_IN_FLIGHT),
    threads: optional('threads'),
    encodeThreads: optional('encode-threads'),
    seed: values.seed === undefined ? 1 : Number(values.seed),
  };
}

/** Activation parts as a harvest would write them: contexts of 128 tokens, 64 sampled positions each. */
function makeParts(f: Flags): Map<string, Uint8Array> {
  const gen = syntheticActivations({ dIn: f.dIn, nDirections: 2 * f.dIn, density: 8 / (2 * f.dIn), seed: f.seed });
  const rng = SeededRandom.derived(f.seed, 3);
  const parts = new Map<string, Uint8Array>();
  for (let p = 0; p < f.parts; p++) {
    const n = f.rows;
    const doc = new Int32Array(n);
    const context = new Int32Array(n);
    const position = new Int32Array(n);
    const token = new Int32Array(n);
    const label: string[] = [];
    let docId = 0;
    let docLabel = f.labels ? rng.pick(GENRES.slice(0, f.labels)) : '';
    for (let r = 0; r < n; r++) {
      context[r] = Math.floor(r / 64);
      position[r] = 1 + ((r % 64) * 2) + rng.int(0, 2);
      // A new document every ~300 stored tokens; it carries its genre.
      if (rng.chance(1 / 300)) {
        docId++;
        if (f.labels) docLabel = rng.pick(GENRES.slice(0, f.labels));
      }
      doc[r] = docId;
      token[r] = rng.int(0, 8192);
      if (f.labels) label.push(docLabel);
    }
    const bytes = encodeActivationPart(
      { runId: 'bench-stats', hook: 'blocks.0.mlp.hook_post', modelSha256: '0'.repeat(64), dtype: 'fp32', width: f.dIn, shard: p, part: 0 },
      { doc, context, position, token, ...(f.labels && { label }), values: gen.batch(n) },
    );
    parts.set(`activations/blocks.0.mlp.hook_post/shard-${String(p).padStart(6, '0')}/part-00000.parquet`, bytes);
  }
  return parts;
}

/**
 * An L1 dictionary whose feature i fires on a fraction p_i of the data: p log-uniform over two
 * decades, scaled to mean l0 / d_sae. b_enc[i] is minus the (1 − p_i) quantile of feature i's
 * pre-activation over a calibration sample (computed by the encoder itself with b_enc = 0).
 */
async function makeDictionary(f: Flags): Promise<{ weights: SaeWeights; model: Uint8Array }> {
  const sample = syntheticActivations({ dIn: f.dIn, nDirections: 2 * f.dIn, density: 8 / (2 * f.dIn), seed: f.seed + 1000 }).batch(CALIBRATION_ROWS);
  const w = initSaeWeights({ dIn: f.dIn, dSae: f.dSae, arch: 'l1', seed: f.seed, sample });
  const session = await ort.InferenceSession.create(buildSaeEncoderModel(w, { arch: 'l1' }));
  let pre: Float32Array;
  try {
    const out = await session.run({ [ENCODER_INPUT]: new ort.Tensor('float32', sample, [CALIBRATION_ROWS, f.dIn]) });
    pre = out[ENCODER_OUTPUTS.acts].data as Float32Array;
  } finally {
    await session.release();
  }
  const rng = SeededRandom.derived(f.seed, 4);
  const raw = Array.from({ length: f.dSae }, () => 10 ** rng.uniform(-1, 1));
  const scale = f.l0 / f.dSae / (raw.reduce((a, b) => a + b, 0) / f.dSae);
  const column = new Float32Array(CALIBRATION_ROWS);
  for (let i = 0; i < f.dSae; i++) {
    const p = Math.min(0.5, raw[i] * scale);
    for (let r = 0; r < CALIBRATION_ROWS; r++) column[r] = pre[r * f.dSae + i];
    column.sort();
    w.b_enc[i] = -column[Math.min(CALIBRATION_ROWS - 1, Math.floor((1 - p) * CALIBRATION_ROWS))];
  }
  return { weights: w, model: buildSaeEncoderModel(w, { arch: 'l1' }) };
}

interface Side {
  seconds: number;
  rows: number;
  encodeSeconds: number;
  /** CPU seconds of this (the main) thread: reading parts and FeatureSummary.add on side (b). */
  mainCpu: number;
}

/** User + system CPU seconds of this process's main thread so far (Linux /proc), or NaN. */
function mainThreadCpuSeconds(): number {
  try {
    const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100; // USER_HZ
  } catch {
    return NaN;
  }
}

/** (a): every row through the encoder worker, `inFlight` batches queued, results dropped. */
async function encodeOnly(f: Flags, model: Uint8Array, decoded: Float32Array[]): Promise<Side> {
  const encoder = await openEncoderWorker({ model, dIn: f.dIn, ...(f.encodeThreads !== undefined && { intraOpThreads: f.encodeThreads }) });
  try {
    const queue: Promise<EncodedBatch>[] = [];
    let rows = 0;
    let encodeSeconds = 0;
    // Results are dropped: their buffers go back to the encoder, as summariseParts hands them back.
    const take = async () => {
      const r = await queue.shift()!;
      encodeSeconds += r.seconds;
      encoder.recycle(r.acts);
    };
    const cpu0 = mainThreadCpuSeconds();
    const t0 = performance.now();
    for (const values of decoded) {
      const n = values.length / f.dIn;
      for (let start = 0; start < n; start += f.batch) {
        const k = Math.min(f.batch, n - start);
        if (queue.length >= f.inFlight) await take();
        queue.push(encoder.encodeTimed(values.subarray(start * f.dIn, (start + k) * f.dIn), k));
        rows += k;
      }
    }
    while (queue.length) await take();
    return { seconds: (performance.now() - t0) / 1000, rows, encodeSeconds, mainCpu: mainThreadCpuSeconds() - cpu0 };
  } finally {
    await encoder.close();
  }
}

/** (b): the statistics path, from part bytes in memory. */
async function statistics(f: Flags, model: Uint8Array, parts: Map<string, Uint8Array>): Promise<Side & { summary: FeatureSummary }> {
  const encoder = await openEncoderWorker({ model, dIn: f.dIn, ...(f.threads !== undefined && { intraOpThreads: f.threads }) });
  try {
    const summary = new FeatureSummary({ dSae: f.dSae });
    let encodeSeconds = 0;
    const cpu0 = mainThreadCpuSeconds();
    const t0 = performance.now();
    const { rows } = await summariseParts({
      partKeys: [...parts.keys()],
      fetchPart: async (key) => parts.get(key)!,
      encoder, summary, dIn: f.dIn, batchRows: f.batch, maxInFlight: f.inFlight,
      onBatch: (e) => void (encodeSeconds += e.encodeSeconds),
    });
    return { seconds: (performance.now() - t0) / 1000, rows, encodeSeconds, mainCpu: mainThreadCpuSeconds() - cpu0, summary };
  } finally {
    await encoder.close();
  }
}

async function main(): Promise<void> {
  const f = readFlags();
  const loadBefore = loadavg()[0];
  console.log(`Statistics vs encode-only: d_in ${f.dIn}, d_sae ${f.dSae}, ${f.parts} parts × ${int(f.rows)} rows, ` +
    `batch ${int(f.batch)}, ${f.labels ? `${f.labels} labels` : 'no labels'}, in flight ${f.inFlight}, 1 warm-up + ${f.repeats} timed rounds`);
  const tGen = performance.now();
  const parts = makeParts(f);
  const { model } = await makeDictionary(f);
  // (a) gets the rows already decoded; (b) decodes the same bytes itself, as the activity does.
  const decoded = await Promise.all([...parts.values()].map(async (b) => (await readActivationPart(b)).cols.values));
  const bytes = [...parts.values()].reduce((a, b) => a + b.byteLength, 0);
  console.log(`generated ${f.parts} parts (${fixed(bytes / 2 ** 20, 1)} MiB, read from memory by both sides: no S3) and the dictionary in ${fixed((performance.now() - tGen) / 1000, 1)} s`);
  const stageThreads = defaultEncoderThreads() || "onnxruntime's default, one per core";
  console.log(`ORT intra-op threads: statistics ${f.threads ?? `${stageThreads} (the stage's default)`}, encode-only ${f.encodeThreads ?? "onnxruntime's default"}; ${cpus().length} CPUs`);

  const rounds: { a: Side; b: Side; ratio: number }[] = [];
  let l0 = NaN;
  for (let i = 0; i <= f.repeats; i++) {
    // Alternate which side goes first, so a drift in machine speed does not favour one.
    let a: Side;
    let b: Side & { summary: FeatureSummary };
    if (i % 2 === 0) {
      a = await encodeOnly(f, model, decoded);
      b = await statistics(f, model, parts);
    } else {
      b = await statistics(f, model, parts);
      a = await encodeOnly(f, model, decoded);
    }
    if (b.rows !== a.rows || b.summary.tokens !== a.rows) throw new Error(`the sides saw different rows: ${a.rows} vs ${b.rows} (summary ${b.summary.tokens})`);
    l0 = b.summary.firing.reduce((s, x) => s + x, 0) / b.summary.tokens;
    if (i > 0) rounds.push({ a, b, ratio: (b.rows / b.seconds) / (a.rows / a.seconds) });
  }
  const rate = (s: Side) => s.rows / s.seconds;
  const busy = (s: Side) => s.encodeSeconds / s.seconds;
  const mainUs = (s: Side) => (s.mainCpu / s.rows) * 1e6;
  const ratio = median(rounds.map((r) => r.ratio));
  const med = (f: (r: (typeof rounds)[number]) => number) => median(rounds.map(f));
  printTable(
    `rows/s per round; busy = encoder session.run time / wall time; main µs/row = CPU of the main thread per row; measured L0 ${fixed(l0, 1)}`,
    ['round', 'encode-only rows/s', 'busy', 'statistics rows/s', 'busy', 'main µs/row', 'ratio', 'target'],
    [
      ...rounds.map((r, i) => [String(i + 1), int(rate(r.a)), fixed(busy(r.a), 2), int(rate(r.b)), fixed(busy(r.b), 2), fixed(mainUs(r.b), 1), fixed(r.ratio, 2), '']),
      ['median', int(med((r) => rate(r.a))), fixed(med((r) => busy(r.a)), 2), int(med((r) => rate(r.b))), fixed(med((r) => busy(r.b)), 2),
        fixed(med((r) => mainUs(r.b)), 1), fixed(ratio, 2), verdict(Number(ratio.toFixed(2)), TARGET_RATIO, 'higher')],
    ],
  );
  console.log(`\n1-minute load average ${fixed(loadBefore, 1)} before, ${fixed(loadavg()[0], 1)} after`);
}

await main();
