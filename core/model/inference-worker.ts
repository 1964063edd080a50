// Main-thread handle on an inference thread (inference-thread.ts). The thread owns the ORT
// session because session.run() blocks its thread; here requests are numbered, sent with their
// buffers transferred, and matched with replies.
import { Worker } from 'node:worker_threads';
import {
  deserializeError,
  type FromThread,
  type HookOutput,
  type Ids,
  type InferenceInfo,
  type InferenceWorkerOptions,
  type ToThread,
} from './inference-protocol.js';

export { ExecutionProviderError } from './inference-protocol.js';
export type { HookOutput, InferenceInfo, InferenceWorkerOptions } from './inference-protocol.js';

export interface InferenceWorker {
  /**
   * Hook activations for one batch; requests queue and run one at a time. `onComputed` hears the
   * seconds the thread spent on this batch (waiting in the queue excluded), just before it resolves.
   */
  run(ids: Ids, batch: number, seq: number, onComputed?: (seconds: number) => void): Promise<Record<string, HookOutput>>;
  /**
   * Hands a result's buffers back for later batches to be written into (no fresh allocation).
   * The arrays are detached: the caller must be done with them.
   */
  recycle(outputs: Record<string, HookOutput>): void;
  /** Rejects unanswered requests at once; the thread finishes the run in progress, releases the session and exits. */
  close(): Promise<void>;
  readonly info: InferenceInfo;
}

// How long close() waits for the thread to wind down before terminating it.
const CLOSE_GRACE_MS = 30_000;

interface Pending {
  onComputed?: (seconds: number) => void;
  resolve(outputs: Record<string, HookOutput>): void;
  reject(error: Error): void;
}

export function openInferenceWorker(options: InferenceWorkerOptions): Promise<InferenceWorker> {
  if (!Array.isArray(options.hooks) || options.hooks.length === 0) {
    return Promise.reject(new Error('openInferenceWorker: at least one hook name is required'));
  }
  // Resolved relative to this compiled file, so it works from dist/ wherever the cwd is.
  const worker = new Worker(new URL('./inference-thread.js', import.meta.url), { workerData: options });
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let dead: Error | undefined; // set once the thread can no longer answer
  let closing: Promise<void> | undefined;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  // An idle worker should not keep the process alive; a busy one must.
  const updateRef = () => (pending.size > 0 ? worker.ref() : worker.unref());

  const failAll = (error: Error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    updateRef();
  };

  return new Promise<InferenceWorker>((resolveOpen, rejectOpen) => {
    let opened = false;
    const fail = (error: Error) => {
      dead ??= error;
      if (!opened) rejectOpen(error);
      failAll(dead);
    };

    worker.on('message', (msg: FromThread) => {
      switch (msg.type) {
        case 'ready':
          opened = true;
          updateRef();
          resolveOpen(handle(msg.info));
          break;
        case 'open-error':
          fail(deserializeError(msg.error));
          break;
        case 'result':
        case 'run-error': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          updateRef();
          if (msg.type === 'result') {
            p?.onComputed?.(msg.seconds);
            p?.resolve(msg.outputs);
          }
          else p?.reject(deserializeError(msg.error));
        }
      }
    });
    worker.on('error', (e) => fail(new Error(`inference thread crashed: ${e.message}`, { cause: e })));
    worker.on('messageerror', (e) => fail(new Error(`inference thread sent an unreadable message: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(closing ? 'inference worker closed' : `inference thread exited (code ${code})`)));
  });

  function handle(info: InferenceInfo): InferenceWorker {
    return {
      info,
      run(ids, batch, seq, onComputed) {
        if (dead) return Promise.reject(dead);
        if (closing) return Promise.reject(new Error('inference worker closed'));
        if (!(ids instanceof Int32Array || ids instanceof BigInt64Array)) {
          return Promise.reject(new TypeError('ids must be an Int32Array or a BigInt64Array'));
        }
        if (!Number.isInteger(batch) || !Number.isInteger(seq) || batch < 1 || seq < 1 || ids.length !== batch * seq) {
          return Promise.reject(new RangeError(`ids has ${ids.length} elements, expected batch*seq = ${batch}*${seq}`));
        }
        // ids are small: copy them into an exactly-sized buffer and transfer that, so the caller's
        // array (possibly a view of a larger buffer) is neither detached nor cloned whole.
        const own = ids.slice();
        const id = nextId++;
        return new Promise((resolve, reject) => {
          pending.set(id, { onComputed, resolve, reject });
          updateRef();
          const msg: ToThread = { type: 'run', id, ids: own, batch, seq };
          worker.postMessage(msg, [own.buffer]);
        });
      },
      recycle(outputs) {
        if (dead || closing) return;
        const buffers = [...new Set(Object.values(outputs).map((o) => o.data.buffer as ArrayBuffer))].filter((b) => b.byteLength > 0);
        if (buffers.length) worker.postMessage({ type: 'recycle', buffers } satisfies ToThread, buffers);
      },
      close() {
        closing ??= (async () => {
          failAll(new Error('inference worker closed'));
          if (!dead) {
            worker.postMessage({ type: 'close' } satisfies ToThread);
            worker.ref(); // keep the process up until the session is released
            const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
            await exited;
            clearTimeout(timer);
          }
        })();
        return closing;
      },
    };
  }
}
