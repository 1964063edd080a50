// Worker-thread side of openTrainerThread: owns one SaeTrainer (its ORT sessions and state) and
// serves requests one at a time, in arrival order. See trainer-protocol.ts for why it exists.
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../model/inference-protocol.js';
import { createSaeTrainer, type SaeTrainer } from '../sae/sae-trainer.js';
import { buffersOf, type FromTrainer, type ToTrainer } from './trainer-protocol.js';

const port = parentPort!;
let trainer: SaeTrainer | undefined;
let queue: Promise<void> = Promise.resolve();

const need = (): SaeTrainer => {
  if (!trainer) throw new Error('trainer thread: init must come first');
  return trainer;
};

async function handle(msg: ToTrainer): Promise<unknown> {
  switch (msg.method) {
    case 'init': {
      if (trainer) throw new Error('trainer thread: already initialised');
      trainer = await createSaeTrainer(msg.options);
      return { config: trainer.config, backend: trainer.backend };
    }
    case 'step':
      return need().step(msg.batch, msg.options);
    case 'state':
      return need().state();
    case 'load':
      return need().load(msg.state);
    case 'resample':
      return need().resample(msg.options);
    case 'weights':
      return need().weights();
    case 'close':
      await trainer?.close();
      trainer = undefined;
      return undefined;
  }
}

port.on('message', (msg: ToTrainer) => {
  queue = queue.then(async () => {
    let reply: FromTrainer;
    let transfer: ArrayBuffer[] = [];
    try {
      const value = await handle(msg);
      reply = { id: msg.id, ok: true, value };
      transfer = buffersOf(value);
    } catch (e) {
      reply = { id: msg.id, ok: false, error: serializeError(e) };
    }
    port.postMessage(reply, transfer);
    if (msg.method === 'close') port.close(); // nothing left to do: let the thread exit
  });
});
