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
  /** onnxruntime execution provider: 'cpu' (default), 'cuda', … (checked when the session opens). */
  executionProvider?: string;
}

export type EncoderToThread =
  | { type: 'run'; id: number; x: Float32Array; rows: number }
  | { type: 'load'; part: number; values: Float32Array }
  | { type: 'run-loaded'; id: number; part: number; start: number; rows: number }
  | { type: 'drop'; part: number }
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
   * Moves `values` ([rows × d_in], a buffer of its own) to the thread for encodeLoaded: its buffer
   * is transferred, not copied, so `values` is detached (empty) here afterwards. The statistics
   * stage loads each decoded part once instead of copying every batch out of it (encodeTimed's
   * copy): the part is not needed on this thread once encoded. Returns the id for encodeLoaded and
   * dropLoaded. Throws unless `values` spans its whole ArrayBuffer (a view into a larger buffer
   * would carry the rest along, or be someone else's memory).
   */
  load(values: Float32Array): number;
  /** encodeTimed of rows [start, start + rows) of a loaded part. */
  encodeLoaded(part: number, start: number, rows: number): Promise<EncodedBatch>;
  /** Frees a loaded part in the thread once the batches already submitted from it are done. */
  dropLoaded(part: number): void;
  /**
   * Hands a result's buffer back for the thread to write a later result into (detaches `acts`;
   * optional — without it every result gets fresh memory).
   */
  recycle(acts: Float32Array): void;
  close(): Promise<void>;
}

/**
 * ORT intra-op threads of an encoder session when the caller names none: 0, onnxruntime's default
 * of one thread per core, chosen deliberately over cores − 1 although the statistics stage's main
 * thread (part decoding, FeatureSummary.add) needs CPU too. The encoder's Gemm is most of the
 * work, and the main thread needs only a part of one core at encoder speed (bench:stats reports
 * it as "main µs/row"), so a core reserved for it would sit mostly idle while the encoder ran on
 * one thread. Measured on the 2-core dev VM (bench:stats, d_in 512, d_sae 4,096, L0 65): encode
 * alone 20.8–21.7k rows/s with 2 threads, 15.5k with 1; statistics 14.3–15.5k rows/s with 2
 * encoder threads, 13.8k with 1. Pass intraOpThreads (bench:stats --threads) to try others.
 */
export function defaultEncoderThreads(): number {
  return 0;
}

const rebuild = (e: { name: string; message: string }): Error => Object.assign(new Error(e.message), { name: e.name });

export function openEncoderWorker(opts: Omit<EncoderWorkerOptions, 'inputName' | 'outputName'> & Partial<EncoderWorkerOptions>): Promise<EncoderWorker> {
  const workerData: EncoderWorkerOptions = { inputName: ENCODER_INPUT, outputName: ENCODER_OUTPUTS.acts, intraOpThreads: defaultEncoderThreads(), ...opts };
  const worker = new Worker(new URL('./encoder-thread.js', import.meta.url), { workerData });
  const pending = new Map<number, { resolve(b: EncodedBatch): void; reject(e: Error): void }>();
  let nextId = 0;
  let nextPart = 0;
  const loaded = new Map<number, number>(); // part id → rows, to check encodeLoaded's range here
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
      load(values) {
        if (dead) throw dead;
        if (closing) throw new Error('encoder worker closed');
        if (!(values.buffer instanceof ArrayBuffer) || values.byteOffset !== 0 || values.byteLength !== values.buffer.byteLength) {
          throw new RangeError('load() needs a Float32Array that spans its whole ArrayBuffer');
        }
        if (values.length % workerData.dIn !== 0) throw new RangeError(`values has ${values.length} values, not a whole number of rows of d_in ${workerData.dIn}`);
        const part = nextPart++;
        loaded.set(part, values.length / workerData.dIn);
        worker.postMessage({ type: 'load', part, values } satisfies EncoderToThread, [values.buffer]);
        return part;
      },
      encodeLoaded(part, start, rows) {
        if (dead) return Promise.reject(dead);
        if (closing) return Promise.reject(new Error('encoder worker closed'));
        const total = loaded.get(part);
        if (total === undefined) return Promise.reject(new RangeError(`no loaded part ${part}`));
        if (!(Number.isInteger(start) && Number.isInteger(rows) && start >= 0 && rows >= 1 && start + rows <= total)) {
          return Promise.reject(new RangeError(`rows [${start}, ${start + rows}) are outside loaded part ${part} of ${total} rows`));
        }
        const id = nextId++;
        return new Promise<EncodedBatch>((resolve, reject) => {
          pending.set(id, { resolve, reject });
          worker.postMessage({ type: 'run-loaded', id, part, start, rows } satisfies EncoderToThread);
        });
      },
      dropLoaded(part) {
        if (!loaded.delete(part) || dead || closing) return;
        worker.postMessage({ type: 'drop', part } satisfies EncoderToThread);
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
