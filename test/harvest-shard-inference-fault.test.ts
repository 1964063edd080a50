// harvestShard keeps two model batches in flight. A batch that fails while the one before it is
// still being computed must fail the shard in order, not surface as an unhandled rejection, which
// would end the whole worker process (and every shard it runs) instead of this shard's attempt.
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRunConfig, type RunConfig } from '../core/config/run-config.js';
import { harvestShard } from '../core/harvest/harvest-shard.js';
import type { InferenceModel } from '../core/harvest/inference-model.js';
import { RunLayout } from '../core/storage/run-layout.js';
import type { TextTokenizer } from '../core/tokenize/tokenizer.js';
import { openS3Stack, type S3Stack } from './test-support.js';

let s3: S3Stack;

before(async () => {
  s3 = await openS3Stack('inference-fault');
});
after(() => s3?.close());

/** One token per character; id 0 is the BOS token. */
const tokenizer: TextTokenizer = {
  encode: (text) => [...text].map((c) => 1 + (c.charCodeAt(0) % 60)),
  decode: (ids) => ids.map((i) => String.fromCharCode(64 + i)).join(''),
  tokenId: (token) => (token === '<|endoftext|>' ? 0 : undefined),
  vocabSize: 64,
};

test('an inference batch that fails while the batch before it is still running fails the shard, in order, and nothing else', async () => {
  const shardFile = path.join(s3.dir, 'shard-00000.jsonl');
  const text = Array.from({ length: 12 }, (_, d) => JSON.stringify({ text: `document ${d} `.repeat(8) })).join('\n') + '\n';
  await writeFile(shardFile, text);
  const config: RunConfig = {
    ...parseRunConfig({
      model: { path: 'unused.onnx' }, tokenizer: { path: 'unused.json' }, hooks: ['h'], corpus: { path: s3.dir },
      output: { path: `s3://${s3.bucket}/runs` }, contextLength: 16, positionsPerContext: 4, batchSize: 2,
    }),
    runId: 'inference-fault',
  };
  let calls = 0;
  const model: InferenceModel = {
    widths: { h: 4 },
    async run(_ids, batch, seq) {
      const call = calls++;
      // Batch 0 is slow; batch 1 fails meanwhile, while the harvest waits on batch 0.
      if (call === 1) {
        await sleep(5);
        throw new Error('inference failed on batch 1');
      }
      await sleep(call === 0 ? 150 : 0);
      return { h: { data: new Float32Array(batch * seq * 4), dims: [batch, seq, 4] } };
    },
  };
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', record);
  try {
    await assert.rejects(
      harvestShard(
        { config, layout: new RunLayout(config.output.path, config.runId), shard: { index: 0, uri: shardFile, bytes: text.length }, resumeFromPart: 0 },
        { store: s3.store, model, modelSha256: '0'.repeat(64), tokenizer },
      ),
      /inference failed on batch 1/,
    );
    assert.ok(calls >= 3, `a third batch was handed over while the first ran (${calls} calls)`);
    await sleep(50);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', record);
  }
});
