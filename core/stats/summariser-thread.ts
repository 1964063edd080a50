// Worker-thread side of openSummariserPool (summariser-pool.ts): one lane of the statistics stage.
// It owns an ORT session of the dictionary's encoder.onnx and a FeatureSummary, and for each
// batch it is sent, encodes the rows and adds them to its summary right away, while the
// activations are still in this core's cache; only the rows' inputs come in and only counts go
// back. At the end it merges the other lanes' summaries it is given (absorb) into its own, then
// sends the result (finish, summary-codec bytes) and goes idle: the pool keeps idle threads warm
// for the next pool.
// Requests are served one at a time, in arrival order.
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { checkProvider } from '../model/execution-provider.js';
import { FeatureSummary, type RowProvenance } from './feature-summary.js';
import { FiringScanner } from './firing-scan-wasm.js';
import { laneLabels } from './lane-labels.js';
import type { LaneFromThread, LaneProvenance, LaneToThread, SummariserLaneOptions } from './summariser-pool.js';
import { decodeSummary, encodeSummary, gzipSummary } from './summary-codec.js';

const port = parentPort!;
/** The open lane: between 'open' and the end of 'finish'; none while the thread is idle. */
let lane: { options: SummariserLaneOptions; session: ort.InferenceSession; summary: FeatureSummary } | undefined;
/**
 * The encoder's output goes into the scanner's WebAssembly memory, where each call's rows are
 * scanned for firings 16 values at a time; without WebAssembly SIMD (or for a batch beyond the
 * scanner's 2 GiB), into `acts` (reused by every batch, grown to the largest) and add() scans it
 * in JavaScript. Both outlive a lane, as the thread does.
 */
const scanner = FiringScanner.create();
let acts = new Float32Array(0);

const errorOf = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });
const post = (msg: LaneFromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function open(options: SummariserLaneOptions): Promise<void> {
  try {
    const session = await ort.InferenceSession.create(options.model, {
      // ExecutionProviderError (by name, so the activity fails for good) when it cannot load here.
      executionProviders: [checkProvider(options.executionProvider ?? 'cpu')],
      graphOptimizationLevel: 'all',
      // 0: onnxruntime's choice, one thread per core (a pool of one lane).
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    });
    lane = { options, session, summary: new FeatureSummary(options.summary) };
    post({ type: 'ready' });
  } catch (e) {
    post({ type: 'open-error', error: errorOf(e) });
  }
}

function absorb(bytes: Uint8Array): void {
  try {
    if (!lane) throw new Error('summariser lane is not open');
    lane.summary.mergeFrom(decodeSummary(bytes));
    post({ type: 'absorbed' });
  } catch (e) {
    post({ type: 'absorb-error', error: errorOf(e) });
  }
}

async function finish(gzip: boolean): Promise<void> {
  try {
    if (!lane) throw new Error('summariser lane is not open');
    const { summary } = lane;
    // Raw when another lane takes it in; gzipped, as stored, when it is the result.
    const raw = encodeSummary(summary);
    const bytes = gzip ? await gzipSummary(raw) : raw;
    await lane.session.release().catch(() => undefined);
    lane = undefined;
    post({ type: 'summary', bytes, tokens: summary.tokens }, [bytes.buffer as ArrayBuffer]);
  } catch (e) {
    post({ type: 'finish-error', error: errorOf(e) });
  }
}

async function summariseBatch(msg: Extract<LaneToThread, { type: 'batch' }>): Promise<void> {
  try {
    if (!lane) throw new Error('summariser lane is not open');
    const { x, rows, provenance } = msg;
    const { options, session, summary } = lane;
    const { dSae } = summary;
    const { dIn, encodeOnly } = options;
    // The batch is encoded in calls of callRows rows into one activation area, each call's rows
    // scanned right after it (see SummariserLaneOptions.callRows); the records gather behind them.
    const callRows = Math.min(rows, options.callRows);
    const inScanner = scanner?.fits(callRows * dSae, rows * dSae) ? scanner : undefined;
    const run = (from: number, to: number, out: Float32Array) => session.run(
      { [options.inputName]: new ort.Tensor('float32', x.subarray(from * dIn, to * dIn), [to - from, dIn]) },
      // Pre-allocated fetch: the activations land in our buffer. onnxruntime-node 1.30 also returns
      // them in a new buffer of its own, which is dropped (see the README's bench:stats notes).
      { [options.outputName]: new ort.Tensor('float32', out.subarray(0, (to - from) * dSae), [to - from, dSae]) },
    );
    let encode = 0;
    let add = 0;
    if (inScanner) {
      const out = inScanner.buffer(callRows * dSae, encodeOnly ? 0 : rows * dSae);
      for (let from = 0; from < rows; from += callRows) {
        const to = Math.min(rows, from + callRows);
        const t0 = performance.now();
        await run(from, to, out);
        const t1 = performance.now();
        if (!encodeOnly) inScanner.scan(dSae, 0, to - from, from);
        encode += t1 - t0;
        add += performance.now() - t1;
      }
      const t2 = performance.now();
      if (!encodeOnly) summary.addScanned(inScanner, laneRows(provenance));
      add += performance.now() - t2;
    } else {
      // No WebAssembly SIMD, or a batch too large for the scanner's memory (encodeBatchRows far
      // above the default): one call, scanned in JavaScript.
      if (acts.length < rows * dSae) acts = new Float32Array(rows * dSae);
      const out = acts.subarray(0, rows * dSae);
      const t0 = performance.now();
      await run(0, rows, out);
      const t1 = performance.now();
      if (!encodeOnly) summary.add(out, laneRows(provenance));
      encode = t1 - t0;
      add = performance.now() - t1;
    }
    // x goes back for the pool to fill with a later batch.
    post({ type: 'done', id: msg.id, encodeSeconds: encode / 1000, addSeconds: add / 1000, x }, [x.buffer as ArrayBuffer]);
  } catch (e) {
    post({ type: 'error', id: msg.id, error: errorOf(e) });
  }
}

/** A batch's provenance as FeatureSummary takes it (labels back to strings, lane-labels.ts). */
function laneRows(provenance: LaneProvenance): RowProvenance {
  const label = laneLabels(provenance);
  return { ...provenance, ...(label && { label }) };
}

// One message at a time, in arrival order.
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: LaneToThread) => {
  queue = queue.then(async () => {
    if (msg.type === 'open') await open(msg.options);
    else if (msg.type === 'batch') await summariseBatch(msg);
    else if (msg.type === 'absorb') absorb(msg.bytes);
    else if (msg.type === 'finish') await finish(msg.gzip);
    else {
      await lane?.session.release().catch(() => undefined);
      lane = undefined;
      // Closing the port lets the thread exit.
      port.close();
    }
  });
});
