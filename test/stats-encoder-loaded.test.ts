// EncoderWorker.load / encodeLoaded / dropLoaded (a decoded part moved to the encoder thread whole,
// its batches encoded there in place): the same activations as encode() of the same rows, the
// moved buffer detached on this side, ranges and views checked; and summariseParts uses them, drops
// every part it loaded (also when it stops early), and gives the summary the copying path gives.
// Also the encoder's execution provider: named, missing here, or unknown.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeActivationPart } from '../core/parquet/activation-part.js';
import { SeededRandom } from '../core/random/seeded-random.js';
import { buildSaeEncoderModel } from '../core/sae/sae-encoder-model.js';
import { zeroWeights, type SaeWeights } from '../core/sae/sae-weights.js';
import { openEncoderWorker, type EncoderWorker } from '../core/stats/encoder-worker.js';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { summariseParts } from '../core/stats/summarise-parts.js';
import { encodeSummary } from '../core/stats/summary-codec.js';
import { ConfigError } from '../core/config/run-config.js';
import { checkProviderForWorkers } from '../core/config/provider-check.js';
import { providerAvailability } from '../core/model/execution-provider.js';
import { quietLog } from './test-support.js';

const D_IN = 8;
const D_SAE = 12;

function dictionary(): SaeWeights {
  const rng = new SeededRandom(7);
  const w = zeroWeights(D_IN, D_SAE);
  for (let k = 0; k < w.W_enc.length; k++) w.W_enc[k] = rng.int(-8, 9) / 8;
  for (let i = 0; i < D_SAE; i++) w.b_enc[i] = -rng.int(0, 8) / 4;
  return w;
}

function values(rows: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: rows * D_IN }, () => rng.int(-32, 48) / 16);
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('encoder worker: loaded parts', () => {
  it('encodeLoaded gives encode()\'s activations for every range; load detaches; ranges and views are checked', async () => {
    const encoder = await openEncoderWorker({ model: buildSaeEncoderModel(dictionary(), { arch: 'l1' }), dIn: D_IN });
    try {
      const x = values(50, 1);
      const copy = x.slice();
      const part = encoder.load(x);
      assert.equal(x.length, 0, 'the moved values are detached here');
      for (const [start, rows] of [[0, 50], [0, 1], [7, 13], [49, 1], [20, 30]]) {
        const want = await encoder.encode(copy.subarray(start * D_IN, (start + rows) * D_IN), rows);
        const got = await encoder.encodeLoaded(part, start, rows);
        assert.deepEqual(bits(got.acts), bits(want), `rows [${start}, ${start + rows})`);
        assert.ok(got.seconds >= 0);
      }
      await assert.rejects(encoder.encodeLoaded(part, 45, 6), /outside loaded part/);
      await assert.rejects(encoder.encodeLoaded(part, 0, 0), /outside loaded part/);
      // Batches submitted before the drop still run; after it the part is gone.
      const before = encoder.encodeLoaded(part, 10, 5);
      encoder.dropLoaded(part);
      assert.deepEqual(bits((await before).acts), bits(await encoder.encode(copy.subarray(10 * D_IN, 15 * D_IN), 5)));
      await assert.rejects(encoder.encodeLoaded(part, 0, 1), /no loaded part/);
      // A view into a larger buffer is not moved (it would take the rest of the buffer along).
      const big = values(10, 2);
      assert.throws(() => encoder.load(big.subarray(D_IN)), /spans its whole ArrayBuffer/);
      assert.equal(big.length, 10 * D_IN);
      assert.throws(() => encoder.load(new Float32Array(D_IN + 1)), /whole number of rows/);
      // Two parts at once keep apart.
      const a = values(4, 3);
      const b = values(4, 4);
      const [ca, cb] = [a.slice(), b.slice()];
      const [pa, pb] = [encoder.load(a), encoder.load(b)];
      assert.deepEqual(bits((await encoder.encodeLoaded(pb, 0, 4)).acts), bits(await encoder.encode(cb, 4)));
      assert.deepEqual(bits((await encoder.encodeLoaded(pa, 0, 4)).acts), bits(await encoder.encode(ca, 4)));
    } finally {
      await encoder.close();
    }
  });

  it('summariseParts loads each part once, drops every one (also on an early exit), and its summary equals the copying path\'s', async () => {
    const rng = new SeededRandom(11);
    const parts = new Map<string, Uint8Array>();
    [70, 0, 33, 64].forEach((n, p) => {
      const ids = (f: (r: number) => number) => Int32Array.from({ length: n }, (_, r) => f(r));
      const label = Array.from({ length: n }, (_, r) => ['a', 'b'][(r >> 3) & 1]);
      parts.set(`part-${p}`, encodeActivationPart(
        { runId: 'r', hook: 'h', modelSha256: '0'.repeat(64), dtype: p === 2 ? 'fp16' : 'fp32', width: D_IN, shard: p, part: 0 },
        { doc: ids((r) => r >> 3), context: ids((r) => r >> 4), position: ids((r) => r & 15), token: ids((r) => rng.int(0, 1000)), label, values: values(n, 20 + p) },
      ));
    });
    const encoder = await openEncoderWorker({ model: buildSaeEncoderModel(dictionary(), { arch: 'l1' }), dIn: D_IN });
    try {
      const log: string[] = [];
      const watched: EncoderWorker = {
        ...encoder,
        load: (v) => {
          const id = encoder.load(v);
          log.push(`load ${id}`);
          return id;
        },
        dropLoaded: (id) => {
          log.push(`drop ${id}`);
          encoder.dropLoaded(id);
        },
      };
      const run = async (enc: Parameters<typeof summariseParts>[0]['encoder'], fail?: string) => {
        const summary = new FeatureSummary({ dSae: D_SAE, topK: 3 });
        await summariseParts({
          partKeys: [...parts.keys()],
          fetchPart: async (key) => {
            if (key === fail) throw new Error(`fetch of ${key} failed`);
            return parts.get(key)!;
          },
          encoder: enc, summary, dIn: D_IN, batchRows: 16,
        });
        return summary;
      };
      const copying = await run({ encodeTimed: (x, n) => encoder.encodeTimed(x, n), recycle: (a) => encoder.recycle(a) });
      const moving = await run(watched);
      assert.deepEqual(Buffer.from(encodeSummary(moving)), Buffer.from(encodeSummary(copying)));
      // Three non-empty parts: each loaded once and dropped once.
      assert.deepEqual(log.filter((l) => l.startsWith('load')).length, 3);
      assert.deepEqual(new Set(log.filter((l) => l.startsWith('drop')).map((l) => l.split(' ')[1])), new Set(log.filter((l) => l.startsWith('load')).map((l) => l.split(' ')[1])));
      assert.equal(log.filter((l) => l.startsWith('drop')).length, 3);

      // The fetch of the last part fails while part 2's batches are in flight: part 2 is still dropped.
      log.length = 0;
      await assert.rejects(run(watched, 'part-3'), /fetch of part-3 failed/);
      const loads = log.filter((l) => l.startsWith('load')).map((l) => l.split(' ')[1]);
      const drops = log.filter((l) => l.startsWith('drop')).map((l) => l.split(' ')[1]);
      assert.ok(loads.length >= 1);
      assert.deepEqual(new Set(drops), new Set(loads));
      assert.equal(drops.length, loads.length);

      // An encode fails in the middle of part 0 (70 rows, 5 batches): its remaining batches are
      // never submitted, and the part is dropped on the way out.
      log.length = 0;
      let calls = 0;
      const failing: EncoderWorker = {
        ...watched,
        encodeLoaded: (id, start, n) => (++calls === 2 ? Promise.reject(new Error('encode failed')) : encoder.encodeLoaded(id, start, n)),
      };
      await assert.rejects(run(failing), /encode failed/);
      assert.equal(log.length, 2, log.join(', '));
      const id = log[0].split(' ')[1];
      assert.deepEqual(log, [`load ${id}`, `drop ${id}`]);
    } finally {
      await encoder.close();
    }
  });
});

describe('encoder worker: execution provider', () => {
  const cudaInstalled = providerAvailability().some((p) => p.name === 'cuda' && p.installed);

  it('"CPUExecutionProvider" names the default provider: the same activations', async () => {
    const model = buildSaeEncoderModel(dictionary(), { arch: 'l1' });
    const plain = await openEncoderWorker({ model, dIn: D_IN });
    const named = await openEncoderWorker({ model, dIn: D_IN, executionProvider: 'CPUExecutionProvider' });
    try {
      const x = values(20, 3);
      assert.deepEqual(bits(await named.encode(x, 20)), bits(await plain.encode(x, 20)));
    } finally {
      await Promise.all([plain.close(), named.close()]);
    }
  });

  it('a provider whose library is missing fails at open, by name, so the activity fails for good', { skip: cudaInstalled && 'CUDA provider is installed here' }, async () => {
    await assert.rejects(openEncoderWorker({ model: buildSaeEncoderModel(dictionary(), { arch: 'l1' }), dIn: D_IN, executionProvider: 'cuda' }), (e: Error) => {
      assert.equal(e.name, 'ExecutionProviderError');
      assert.match(e.message, /"cuda" is not installed/);
      return true;
    });
  });

  it('the up-front check refuses an unknown provider, naming the field, and only warns for a known one missing here', () => {
    const warnings: unknown[] = [];
    const log = { ...quietLog, warn: (...args: unknown[]) => void warnings.push(args) };
    assert.throws(() => checkProviderForWorkers('nonsense', 'stats.executionProvider', log),
      (e: Error) => e instanceof ConfigError && /^stats\.executionProvider: Unknown execution provider "nonsense"/.test(e.message));
    checkProviderForWorkers('cpu', 'stats.executionProvider', log);
    assert.equal(warnings.length, 0);
    if (!cudaInstalled) {
      checkProviderForWorkers('cuda', 'stats.executionProvider', log);
      assert.equal(warnings.length, 1);
    }
  });
});
