// Worker-thread side of openEncoderWorker (encoder-worker.ts): owns the ORT session of a
// dictionary's encoder.onnx, so session.run() never blocks the main thread (heartbeats,
// cancellation, S3 reads of the next part). Requests are served one at a time, in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { EncoderFromThread, EncoderToThread, EncoderWorkerOptions } from './encoder-worker.js';

const port = parentPort!;
const options = workerData as EncoderWorkerOptions;
let session: ort.InferenceSession | undefined;

const errorOf = (e: unknown) => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });
const post = (msg: EncoderFromThread, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on('message', (msg: EncoderToThread) => {
  if (msg.type === 'close') {
    // After the run in progress (queued behind it), never under it.
    queue = queue.then(async () => {
      await session?.release().catch(() => undefined);
      port.close();
    });
    return;
  }
  queue = queue.then(async () => {
    try {
      const x = new ort.Tensor('float32', msg.x, [msg.rows, options.dIn]);
      const out = await session!.run({ [options.inputName]: x }, [options.outputName]);
      const acts = out[options.outputName].data as Float32Array;
      // Copy into an owned buffer so it can be transferred, not cloned.
      const owned = acts.slice();
      post({ type: 'result', id: msg.id, acts: owned }, [owned.buffer]);
    } catch (e) {
      post({ type: 'error', id: msg.id, error: errorOf(e) });
    }
  });
});

let queue: Promise<void> = (async () => {
  try {
    session = await ort.InferenceSession.create(options.model, {
      graphOptimizationLevel: 'all',
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    });
    post({ type: 'ready' });
  } catch (e) {
    post({ type: 'open-error', error: errorOf(e) });
  }
})();
