// Worker-thread side of openEncoderWorker (encoder-worker.ts): owns the ORT session of a
// dictionary's encoder.onnx, so session.run() never blocks the main thread (heartbeats,
// cancellation, S3 reads of the next part). Requests are served one at a time, in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { EncoderFromThread, EncoderToThread, EncoderWorkerOptions } from './encoder-worker.js';
import { checkProvider } from '../model/execution-provider.js';
import { SpareBuffers } from '../model/spare-buffers.js';

const port = parentPort!;
const options = workerData as EncoderWorkerOptions;
let session: ort.InferenceSession | undefined;

const errorOf = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });
const post = (msg: EncoderFromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

/** d_sae, learned from the first result; from then on ORT writes each result straight into a buffer we own. */
let dSae: number | undefined;
/** Result buffers the main thread handed back (recycle), reused instead of fresh allocations. */
const spare = new SpareBuffers(4);

port.on('message', (msg: EncoderToThread) => {
  if (msg.type === 'close') {
    // After the run in progress (queued behind it), never under it.
    queue = queue.then(async () => {
      await session?.release().catch(() => undefined);
      port.close();
    });
    return;
  }
  if (msg.type === 'recycle') {
    spare.give(msg.buffer);
    return;
  }
  queue = queue.then(async () => {
    try {
      const x = msg.x;
      const feeds = { [options.inputName]: new ort.Tensor('float32', x, [msg.rows, options.dIn]) };
      let acts: Float32Array;
      const t0 = performance.now();
      if (dSae === undefined) {
        const out = (await session!.run(feeds, [options.outputName]))[options.outputName];
        dSae = out.dims[1];
        // Copy into an owned buffer so it can be transferred, not cloned.
        acts = (out.data as Float32Array).slice();
      } else {
        // Pre-allocated fetch: ORT writes the activations into our buffer (no copy of a
        // rows × d_sae array per batch, and no fresh pages when the main thread recycles them).
        acts = spare.float32(msg.rows * dSae);
        await session!.run(feeds, { [options.outputName]: new ort.Tensor('float32', acts, [msg.rows, dSae]) });
      }
      const seconds = (performance.now() - t0) / 1000;
      post({ type: 'result', id: msg.id, acts, seconds }, [acts.buffer as ArrayBuffer]);
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
      // Unset or 0: onnxruntime's choice, one thread per core.
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    });
    post({ type: 'ready' });
  } catch (e) {
    post({ type: 'open-error', error: errorOf(e) });
    // Nothing more to do: closing the port lets the thread exit (it would otherwise live on, idle,
    // in the worker process that asked for it).
    port.close();
  }
})();
