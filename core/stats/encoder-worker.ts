// Main-thread handle on an encoder thread (encoder-thread.ts), following the inference worker's
// pattern (core/model/inference-worker.ts): the thread owns the ORT session of a dictionary's
// encoder.onnx; batches go over with their buffers transferred and replies are matched by id.
import { Worker } from 'node:worker_threads';
import { ENCODER_INPUT, ENCODER_OUTPUTS } from '../sae/sae-encoder-model.js';

export interface EncoderWorkerOptions {
  /** encoder.onnx bytes (x [batch × d_in] → feature_acts [batch × d_sae]). */
  model: Uint8Array;
  dIn: number;
  inputName: string;
  outputName: string;
  intraOpThreads?: number;
}

export type EncoderToThread = { type: 'run'; id: number; x: Float32Array; rows: number } | { type: 'close' };
export type EncoderFromThread =
  | { type: 'ready' }
  | { type: 'open-error'; error: { name: string; message: string } }
  | { type: 'result'; id: number; acts: Float32Array }
  | { type: 'error'; id: number; error: { name: string; message: string } };

export interface EncoderWorker {
  /** Feature activations [rows × d_sae] of x [rows × d_in]; x is copied, never detached. */
  encode(x: Float32Array, rows: number): Promise<Float32Array>;
  close(): Promise<void>;
}

const rebuild = (e: { name: string; message: string }): Error => Object.assign(new Error(e.message), { name: e.name });

export function openEncoderWorker(opts: Omit<EncoderWorkerOptions, 'inputName' | 'outputName'> & Partial<EncoderWorkerOptions>): Promise<EncoderWorker> {
  const workerData: EncoderWorkerOptions = { inputName: ENCODER_INPUT, outputName: ENCODER_OUTPUTS.acts, ...opts };
  const worker = new Worker(new URL('./encoder-thread.js', import.meta.url), { workerData });
  const pending = new Map<number, { resolve(a: Float32Array): void; reject(e: Error): void }>();
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
        if (msg.type === 'result') p?.resolve(msg.acts);
        else p?.reject(rebuild(msg.error));
      }
    });
    worker.on('error', (e) => fail(new Error(`encoder thread crashed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => fail(new Error(closing ? 'encoder worker closed' : `encoder thread exited (code ${code})`)));

    const handle: EncoderWorker = {
      encode(x, rows) {
        if (dead) return Promise.reject(dead);
        if (closing) return Promise.reject(new Error('encoder worker closed'));
        if (x.length !== rows * workerData.dIn) return Promise.reject(new RangeError(`x has ${x.length} values, ${rows} rows × d_in ${workerData.dIn} need ${rows * workerData.dIn}`));
        const own = x.slice();
        const id = nextId++;
        return new Promise<Float32Array>((resolve, reject) => {
          pending.set(id, { resolve, reject });
          worker.postMessage({ type: 'run', id, x: own, rows } satisfies EncoderToThread, [own.buffer]);
        });
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
