// Main-thread handle on an encoder thread (encoder-thread.ts), following the inference worker's
// pattern (core/model/inference-worker.ts): the thread owns the ORT session of a dictionary's
// encoder.onnx; batches go over with their buffers transferred and replies are matched by id.
// The example-window step encodes its contexts with it, and bench:stats its encode-only side; the
// statistics themselves run in summariser lanes (summariser-pool.ts), which also encode.
import { Worker } from 'node:worker_threads';
import { ENCODER_INPUT, ENCODER_OUTPUTS } from '../sae/sae-encoder-model.js';

export interface EncoderWorkerOptions {
  /** encoder.onnx bytes (x [batch × d_in] → feature_acts [batch × d_sae]). */
  model: Uint8Array;
  dIn: number;
  inputName: string;
  outputName: string;
  /** ORT intra-op threads; unset or 0: onnxruntime's default, one per core. */
  intraOpThreads?: number;
  /** onnxruntime execution provider: 'cpu' (default), 'cuda', … (checked when the session opens). */
  executionProvider?: string;
}

export type EncoderToThread =
  | { type: 'run'; id: number; x: Float32Array; rows: number }
  | { type: 'recycle'; buffer: ArrayBuffer }
  | { type: 'close' };
export type EncoderFromThread =
  | { type: 'ready' }
  | { type: 'open-error'; error: { name: string; message: string } }
  | { type: 'result'; id: number; acts: Float32Array; seconds: number }
  | { type: 'error'; id: number; error: { name: string; message: string } };

export interface EncodedBatch {
  /** Feature activations [rows × d_sae]. */
  acts: Float32Array;
  /** Seconds session.run() took in the thread (queueing behind earlier batches not included). */
  seconds: number;
}

export interface EncoderWorker {
  /** Feature activations [rows × d_sae] of x [rows × d_in]; x is copied, never detached. */
  encode(x: Float32Array, rows: number): Promise<Float32Array>;
  /** encode(), plus the time the session computed the batch. */
  encodeTimed(x: Float32Array, rows: number): Promise<EncodedBatch>;
  /**
   * Hands a result's buffer back for the thread to write a later result into (detaches `acts`;
   * optional — without it every result gets fresh memory).
   */
  recycle(acts: Float32Array): void;
  close(): Promise<void>;
}

const rebuild = (e: { name: string; message: string }): Error => Object.assign(new Error(e.message), { name: e.name });

export function openEncoderWorker(opts: Omit<EncoderWorkerOptions, 'inputName' | 'outputName'> & Partial<EncoderWorkerOptions>): Promise<EncoderWorker> {
  const workerData: EncoderWorkerOptions = { inputName: ENCODER_INPUT, outputName: ENCODER_OUTPUTS.acts, ...opts };
  const worker = new Worker(new URL('./encoder-thread.js', import.meta.url), { workerData });
  const pending = new Map<number, { resolve(b: EncodedBatch): void; reject(e: Error): void }>();
  let nextId = 0;
  let dead: Error | undefined;
  let closing: Promise<void> | undefined;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const failAll = (e: Error) => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  return new Promise<EncoderWorker>((resolveOpen, rejectOpen) => {
    const fail = (e: Error) => {
      dead ??= e;
      rejectOpen(e);
      failAll(dead);
    };
    worker.on('message', (msg: EncoderFromThread) => {
      if (msg.type === 'ready') resolveOpen(handle);
      else if (msg.type === 'open-error') fail(rebuild(msg.error));
      else {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.type === 'result') p?.resolve({ acts: msg.acts, seconds: msg.seconds });
        else p?.reject(rebuild(msg.error));
      }
    });
    worker.on('error', (e) => fail(new Error(`encoder thread crashed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => fail(new Error(closing ? 'encoder worker closed' : `encoder thread exited (code ${code})`)));

    const handle: EncoderWorker = {
      encode(x, rows) {
        return handle.encodeTimed(x, rows).then((b) => b.acts);
      },
      encodeTimed(x, rows) {
        if (dead) return Promise.reject(dead);
        if (closing) return Promise.reject(new Error('encoder worker closed'));
        if (x.length !== rows * workerData.dIn) return Promise.reject(new RangeError(`x has ${x.length} values, ${rows} rows × d_in ${workerData.dIn} need ${rows * workerData.dIn}`));
        const own = x.slice();
        const id = nextId++;
        return new Promise<EncodedBatch>((resolve, reject) => {
          pending.set(id, { resolve, reject });
          worker.postMessage({ type: 'run', id, x: own, rows } satisfies EncoderToThread, [own.buffer]);
        });
      },
      recycle(acts) {
        if (dead || closing || acts.buffer.byteLength === 0 || !(acts.buffer instanceof ArrayBuffer)) return;
        worker.postMessage({ type: 'recycle', buffer: acts.buffer } satisfies EncoderToThread, [acts.buffer]);
      },
      close() {
        closing ??= (async () => {
          failAll(new Error('encoder worker closed'));
          if (!dead) {
            worker.postMessage({ type: 'close' } satisfies EncoderToThread);
            const timer = setTimeout(() => void worker.terminate(), 30_000);
            await exited;
            clearTimeout(timer);
          }
        })();
        return closing;
      },
    };
  });
}
