// Statistics throughput against encode-only ORT throughput, side by side in one run on the same
// activation parts (the machine is noisy: compare the ratio, not the absolute numbers).
//
//   npm run bench:stats  [-- --d-in 512 --d-sae 4096 --parts 8 --rows 32768 --l0 64 --labels 4
//                            --batch 1024 --repeats 5 --lanes N --threads N --per-lane 2 --call-rows 128]
//
//   (a) encode-only, lanes: the summariser lanes of (b) with `encodeOnly` (the add skipped), over
//       every row of the parts, pre-decoded, batches dealt as (b) deals them. Nothing else: so (b)
//       against (a) is exactly what the statistics cost on top of the encoding.
//   (a') encode-only, one session: one encoder thread with onnxruntime's default threads (one per
//       core), encoding calls of the lanes' size (--call-rows), two batches' worth queued: the
//       other way to spend the cores on encoding.
//   (b) statistics: summariseParts() into a summariser pool, what the summarisePart activity runs:
//       read each part (readActivationPart on in-memory bytes) → lanes encode and add → merge.
//
// The ratio is (b) over the faster of (a) and (a') in the same round, so a thread layout that
// suits the statistics but slows plain encoding cannot flatter it. Each round runs every side
// (rotating which goes first) after one warm-up round. Target: median ratio ≥ 0.8. Also printed:
// the main thread's CPU per row on side (b) (reading parts, cutting batches), and the lanes'
// encode and add time per row.
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
//   --parts N           activation parts (default 8: one summarise activity at the stage's default partsPerGroup)
//   --rows N            rows per part (default 32768: about a 64 MiB part, the harvest's default size, at d_in 512 fp32)
//   --l0 N              mean active features per token the dictionary is calibrated to (default 64)
//   --labels N          distinct row labels, as the demo's genres (default 4; 0 for none)
//   --batch N           rows per encoder call (default: the stage's, defaultEncodeBatchRows(d_sae): 1024 at d_sae 4096)
//   --repeats N         timed rounds (default 5)
//   --lanes N           summariser lanes of (a) and (b) (default: the stage's, defaultSummariserLanes)
//   --threads N         ORT intra-op threads per lane (default: the stage's, 1 with several lanes)
//   --per-lane N        batches outstanding per lane (default: the stage's, 2)
//   --call-rows N       rows per encoder call, in the lanes and in (a') (default: the stage's, ENCODER_CALL_ROWS)
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
import { openEncoderWorker, type EncodedBatch } from '../core/stats/encoder-worker.js';
import type { FeatureSummary } from '../core/stats/feature-summary.js';
import { dealToLanes } from '../core/stats/lane-dealer.js';
import { DEFAULT_PER_LANE, defaultEncodeBatchRows, summariseParts } from '../core/stats/summarise-parts.js';
import { defaultSummariserLanes, ENCODER_CALL_ROWS, openSummariserPool, type LaneBatchResult } from '../core/stats/summariser-pool.js';
import { decodeSummary } from '../core/stats/summary-codec.js';
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
  lanes: number;
  threads: number;
  perLane: number;
  callRows: number;
  seed: number;
}

function readFlags(): Flags {
  const { values } = parseArgs({
    options: Object.fromEntries(['d-in', 'd-sae', 'parts', 'rows', 'l0', 'labels', 'batch', 'repeats', 'lanes', 'threads', 'per-lane', 'call-rows', 'seed']
      .map((k) => [k, { type: 'string' as const }])),
  }) as { values: Record<string, string | undefined> };
  const labels = values.labels === '0' ? 0 : intFlag(values.labels, 'labels', 4);
  if (labels > GENRES.length) throw new Error(`--labels: at most ${GENRES.length}`);
  const dSae = intFlag(values['d-sae'], 'd-sae', 4096);
  const lanes = intFlag(values.lanes, 'lanes', defaultSummariserLanes({ dSae }));
  return {
    dIn: intFlag(values['d-in'], 'd-in', 512),
    dSae,
    parts: intFlag(values.parts, 'parts', 8),
    rows: intFlag(values.rows, 'rows', 32768),
    l0: intFlag(values.l0, 'l0', 64),
    labels,
    batch: intFlag(values.batch, 'batch', defaultEncodeBatchRows(dSae)),
    repeats: intFlag(values.repeats, 'repeats', 5),
    lanes,
    // The pool's default: one ORT thread per lane when there are several, onnxruntime's (0) with one.
    threads: values.threads === undefined ? (lanes > 1 ? 1 : 0) : intFlag(values.threads, 'threads', 1),
    perLane: intFlag(values['per-lane'], 'per-lane', DEFAULT_PER_LANE),
    callRows: intFlag(values['call-rows'], 'call-rows', ENCODER_CALL_ROWS),
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
  /** Seconds the encoder sessions computed, summed over threads. */
  encodeSeconds: number;
  /** Seconds the lanes spent in FeatureSummary.add, summed (side (b) only). */
  addSeconds: number;
  /** CPU seconds of this (the main) thread: reading parts and cutting batches on side (b). */
  mainCpu: number;
  /** Seconds of the pool's finish: merging the lanes' summaries and gzipping the result (side (b) only). */
  finishSeconds: number;
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

/** The pre-decoded rows in batches of batchRows rows (f.batch: as summariseParts cuts them), part by part. */
function* batchesOf(f: Flags, decoded: Float32Array[], batchRows = f.batch): Generator<{ x: Float32Array; rows: number }> {
  for (const values of decoded) {
    const n = values.length / f.dIn;
    for (let start = 0; start < n; start += batchRows) {
      const rows = Math.min(batchRows, n - start);
      yield { x: values.subarray(start * f.dIn, (start + rows) * f.dIn), rows };
    }
  }
}

/**
 * (a) Encode-only in lanes: the summariser pool with encodeOnly, exactly the lanes of (b) with the
 * add skipped, fed the pre-decoded rows, dealt to the lanes as (b) deals them (dealToLanes).
 */
async function encodeOnlyLanes(f: Flags, model: Uint8Array, decoded: Float32Array[]): Promise<Side> {
  const pool = await openSummariserPool({ model, dIn: f.dIn, summary: { dSae: f.dSae }, lanes: f.lanes, intraOpThreads: f.threads, callRows: f.callRows, encodeOnly: true });
  try {
    const ids = new Int32Array(f.batch);
    let rows = 0;
    let encodeSeconds = 0;
    const cpu0 = mainThreadCpuSeconds();
    const t0 = performance.now();
    await dealToLanes<{ x: Float32Array; rows: number }, LaneBatchResult>({
      lanes: pool.lanes, perLane: f.perLane, items: batchesOf(f, decoded),
      send(lane, batch) {
        const x = pool.inputBuffer(batch.rows * f.dIn);
        x.set(batch.x);
        const none = ids.subarray(0, batch.rows);
        return pool.summarise(lane, x, batch.rows, { shard: 0, doc: none, context: none, position: none, token: none });
      },
      onDone(batch, result) {
        rows += batch.rows;
        encodeSeconds += result!.encodeSeconds;
      },
    });
    return { seconds: (performance.now() - t0) / 1000, rows, encodeSeconds, addSeconds: 0, mainCpu: mainThreadCpuSeconds() - cpu0, finishSeconds: 0 };
  } finally {
    await pool.close();
  }
}

/** (a') Encode-only in one encoder thread with onnxruntime's threads, results dropped (their buffers handed back). */
async function encodeOnlyOneSession(f: Flags, model: Uint8Array, decoded: Float32Array[]): Promise<Side> {
  const encoder = await openEncoderWorker({ model, dIn: f.dIn });
  try {
    const queue: Promise<EncodedBatch>[] = [];
    let rows = 0;
    let encodeSeconds = 0;
    const take = async () => {
      const r = await queue.shift()!;
      encodeSeconds += r.seconds;
      encoder.recycle(r.acts);
    };
    // Calls of the lanes' size (as fast or faster than whole batches here), with as many rows in flight as two batches.
    const callRows = Math.min(f.callRows, f.batch);
    const queued = 2 * Math.ceil(f.batch / callRows);
    const cpu0 = mainThreadCpuSeconds();
    const t0 = performance.now();
    for (const batch of batchesOf(f, decoded, callRows)) {
      if (queue.length >= queued) await take();
      queue.push(encoder.encodeTimed(batch.x, batch.rows));
      rows += batch.rows;
    }
    while (queue.length) await take();
    return { seconds: (performance.now() - t0) / 1000, rows, encodeSeconds, addSeconds: 0, mainCpu: mainThreadCpuSeconds() - cpu0, finishSeconds: 0 };
  } finally {
    await encoder.close();
  }
}

/** (b): the statistics path, from part bytes in memory: lanes encode and add, then their summaries merge. */
async function statistics(f: Flags, model: Uint8Array, parts: Map<string, Uint8Array>): Promise<Side & { summary: FeatureSummary }> {
  const pool = await openSummariserPool({ model, dIn: f.dIn, summary: { dSae: f.dSae }, lanes: f.lanes, intraOpThreads: f.threads, callRows: f.callRows });
  try {
    let encodeSeconds = 0;
    let addSeconds = 0;
    const cpu0 = mainThreadCpuSeconds();
    const t0 = performance.now();
    const { rows } = await summariseParts({
      partKeys: [...parts.keys()],
      fetchPart: async (key) => parts.get(key)!,
      summariser: {
        lanes: pool.lanes,
        inputBuffer: (n) => pool.inputBuffer(n),
        summarise: (lane, x, n, provenance) => pool.summarise(lane, x, n, provenance).then((r) => {
          addSeconds += r.addSeconds;
          return r;
        }),
      },
      dIn: f.dIn, dSae: f.dSae, batchRows: f.batch, perLane: f.perLane,
      onBatch: (e) => void (encodeSeconds += e.encodeSeconds),
    });
    // The merge of the lanes' summaries and its encoding (for S3) are part of the stage's work: timed.
    const tFinish = performance.now();
    const { bytes } = await pool.finish();
    const seconds = (performance.now() - t0) / 1000;
    const mainCpu = mainThreadCpuSeconds() - cpu0;
    return { seconds, rows, encodeSeconds, addSeconds, mainCpu, finishSeconds: (performance.now() - tFinish) / 1000, summary: decodeSummary(bytes) };
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const f = readFlags();
  const loadBefore = loadavg()[0];
  console.log(`Statistics vs encode-only: d_in ${f.dIn}, d_sae ${f.dSae}, ${f.parts} parts × ${int(f.rows)} rows, ` +
    `batch ${int(f.batch)}, ${f.labels ? `${f.labels} labels` : 'no labels'}, 1 warm-up + ${f.repeats} timed rounds`);
  const tGen = performance.now();
  const parts = makeParts(f);
  const { model } = await makeDictionary(f);
  // (a) and (a') get the rows already decoded; (b) decodes the same bytes itself, as the activity does.
  const decoded = await Promise.all([...parts.values()].map(async (b) => (await readActivationPart(b)).cols.values));
  const bytes = [...parts.values()].reduce((a, b) => a + b.byteLength, 0);
  console.log(`generated ${f.parts} parts (${fixed(bytes / 2 ** 20, 1)} MiB, read from memory by every side: no S3) and the dictionary in ${fixed((performance.now() - tGen) / 1000, 1)} s`);
  const ortThreads = (n: number) => (n === 0 ? "onnxruntime's default (one per core)" : String(n));
  console.log(`${cpus().length} CPUs; (b) ${f.lanes} lane(s), ORT threads per lane ${ortThreads(f.threads)}, ${f.perLane} batches per lane, ${Math.min(f.callRows, f.batch)} rows per encoder call; ` +
    `(a) the same lanes, encoding only; (a') one encoder thread, ${ortThreads(0)}`);

  type Round = { a: Side; one: Side; b: Side; ratio: number };
  const rounds: Round[] = [];
  let l0 = NaN;
  for (let i = 0; i <= f.repeats; i++) {
    // Rotate which side goes first, so a drift in machine speed does not favour one.
    const sides = [
      async () => ({ a: await encodeOnlyLanes(f, model, decoded) }),
      async () => ({ one: await encodeOnlyOneSession(f, model, decoded) }),
      async () => ({ b: await statistics(f, model, parts) }),
    ];
    const got: Partial<{ a: Side; one: Side; b: Side & { summary: FeatureSummary } }> = {};
    for (let k = 0; k < sides.length; k++) Object.assign(got, await sides[(i + k) % sides.length]());
    const { a, one, b } = got as Required<typeof got>;
    for (const s of [a, one]) {
      if (b.rows !== s.rows || b.summary.tokens !== s.rows) throw new Error(`the sides saw different rows: ${s.rows} vs ${b.rows} (summary ${b.summary.tokens})`);
    }
    l0 = b.summary.firing.reduce((s, x) => s + x, 0) / b.summary.tokens;
    const rate = (s: Side) => s.rows / s.seconds;
    if (i > 0) rounds.push({ a, one, b, ratio: rate(b) / Math.max(rate(a), rate(one)) });
  }
  const rate = (s: Side) => s.rows / s.seconds;
  const perRow = (seconds: number, s: Side) => (seconds / s.rows) * 1e6;
  const ratio = median(rounds.map((r) => r.ratio));
  const med = (g: (r: Round) => number) => median(rounds.map(g));
  const row = (label: string, g: (h: (r: Round) => number) => number, last: string) => [
    label, int(g((r) => rate(r.a))), int(g((r) => rate(r.one))), int(g((r) => rate(r.b))),
    fixed(g((r) => perRow(r.b.mainCpu, r.b)), 1), fixed(g((r) => perRow(r.a.encodeSeconds, r.a)), 1), fixed(g((r) => perRow(r.b.encodeSeconds, r.b)), 1),
    fixed(g((r) => perRow(r.b.addSeconds, r.b)), 1),
    int(g((r) => r.b.finishSeconds * 1000)), fixed(g((r) => r.ratio), 2), last,
  ];
  printTable(
    `rows/s per round; µs/row: main = CPU of (b)'s main thread, encode and add = time in the lanes, summed; finish = merging the lanes' summaries and gzipping the result; ratio = (b) / max((a), (a')); measured L0 ${fixed(l0, 1)}`,
    ['round', "(a) encode-only, lanes", "(a') encode-only, one session", '(b) statistics', 'main µs/row', '(a) encode µs/row', '(b) encode µs/row', 'add µs/row', 'finish ms', 'ratio', 'target'],
    [
      ...rounds.map((r, i) => row(String(i + 1), (g) => g(r), '')),
      row('median', med, verdict(Number(ratio.toFixed(2)), TARGET_RATIO, 'higher')),
    ],
  );
  console.log(`\n1-minute load average ${fixed(loadBefore, 1)} before, ${fixed(loadavg()[0], 1)} after`);
}

await main();
