// Worker-thread side of openSummariserPool (summariser-pool.ts): one lane of the statistics stage.
// It owns an ORT session of the dictionary's encoder.onnx and a FeatureSummary, and for each
// batch it is sent, encodes the rows and adds them to its summary right away, while the
// activations are still in this core's cache; only the rows' inputs come in and only counts go
// back. At the end it sends its summary (summary-codec bytes) for the pool to merge.
// Requests are served one at a time, in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { checkProvider } from '../model/execution-provider.js';
import { FeatureSummary } from './feature-summary.js';
import { FiringScanner } from './firing-scan-wasm.js';
import type { LaneFromThread, LaneToThread, SummariserLaneOptions } from './summariser-pool.js';
import { encodeSummary } from './summary-codec.js';

const port = parentPort!;
const options = workerData as SummariserLaneOptions;
const summary = new FeatureSummary(options.summary);
let session: ort.InferenceSession | undefined;
/**
 * The encoder's output goes into the scanner's WebAssembly memory, where add() finds the firings
 * 16 values at a time; without WebAssembly SIMD (or for a batch beyond the scanner's 2 GiB), into
 * `acts` (reused by every batch, grown to the largest) and add() scans it in JavaScript.
 */
const scanner = FiringScanner.create();
let acts = new Float32Array(0);

const errorOf = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });
const post = (msg: LaneFromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on('message', (msg: LaneToThread) => {
  queue = queue.then(async () => {
    if (msg.type === 'close') {
      await session?.release().catch(() => undefined);
      port.close();
      return;
    }
    if (msg.type === 'finish') {
      // Uncompressed: it only crosses to the main thread, which decodes it at once.
      const bytes = encodeSummary(summary, { gzip: false });
      post({ type: 'summary', bytes }, [bytes.buffer as ArrayBuffer]);
      return;
    }
    try {
      const { x, rows, provenance } = msg;
      const { dIn } = options;
      const { dSae } = summary;
      // A batch too large for the scanner's memory (encodeBatchRows far above the default) is scanned in JavaScript.
      const inScanner = scanner?.fits(rows * dSae) ? scanner : undefined;
      if (!inScanner && acts.length < rows * dSae) acts = new Float32Array(rows * dSae);
      const out = inScanner ? inScanner.buffer(rows * dSae) : acts.subarray(0, rows * dSae);
      const t0 = performance.now();
      // Pre-allocated fetch: ORT writes the activations into our buffer.
      await session!.run(
        { [options.inputName]: new ort.Tensor('float32', x.subarray(0, rows * dIn), [rows, dIn]) },
        { [options.outputName]: new ort.Tensor('float32', out, [rows, dSae]) },
      );
      const t1 = performance.now();
      summary.add(out, provenance, inScanner);
      const t2 = performance.now();
      // x goes back for the pool to fill with a later batch.
      post({ type: 'done', id: msg.id, encodeSeconds: (t1 - t0) / 1000, addSeconds: (t2 - t1) / 1000, x }, [x.buffer as ArrayBuffer]);
    } catch (e) {
      post({ type: 'error', id: msg.id, error: errorOf(e) });
    }
  });
});

let queue: Promise<void> = (async () => {
  try {
    session = await ort.InferenceSession.create(options.model, {
      // ExecutionProviderError (by name, so the activity fails for good) when it cannot load here.
      executionProviders: [checkProvider(options.executionProvider ?? 'cpu')],
      graphOptimizationLevel: 'all',
      // 0: onnxruntime's choice, one thread per core (a pool of one lane).
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    });
    post({ type: 'ready' });
  } catch (e) {
    post({ type: 'open-error', error: errorOf(e) });
    // Closing the port lets the thread exit instead of idling in the worker process.
    port.close();
  }
})();
