import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseRunConfig } from '../core/config/run-config.js';

const valid = {
  model: { path: 'model.onnx' },
  tokenizer: { path: 'tokenizer.json' },
  hooks: ['blocks.0.mlp.hook_post'],
  corpus: { path: 'corpus/' },
  output: { path: 's3://thresher/runs' },
};

describe('parseRunConfig', () => {
  it('fills documented defaults', () => {
    const c = parseRunConfig(valid);
    assert.equal(c.contextLength, 128);
    assert.equal(c.dtype, 'fp32');
    assert.equal(c.model.executionProvider, 'cpu');
    assert.equal(c.tokenizer.bos, 'context');
    assert.equal(c.concurrency, 8);
    assert.deepEqual(c.stages, []);
  });

  it('lists every problem with its field path', () => {
    assert.throws(
      () => parseRunConfig({ ...valid, contextLength: 'x', hooks: [], dtype: 'int8', extra: 1, output: { path: '/tmp/out' } }, 'config run.json'),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^config run\.json is invalid:/);
        for (const field of ['contextLength', 'hooks', 'dtype', 'output.path', '(root)']) assert.ok(err.message.includes(`- ${field}:`), `${field} in ${err.message}`);
        return true;
      },
    );
  });

  it('rejects more sampled positions than a context has', () => {
    assert.throws(() => parseRunConfig({ ...valid, contextLength: 16, positionsPerContext: 16 }), /positionsPerContext: must be at most contextLength - 1/);
    assert.equal(parseRunConfig({ ...valid, contextLength: 16, positionsPerContext: 15 }).positionsPerContext, 15);
  });

  it('rejects repeated hooks and a BOS mode without a BOS token', () => {
    assert.throws(() => parseRunConfig({ ...valid, hooks: ['a', 'a'] }), /hooks: hooks must not repeat/);
    assert.throws(() => parseRunConfig({ ...valid, tokenizer: { path: 't.json', bosToken: null } }), /tokenizer\.bos: is 'context' but bosToken is null/);
  });

  it('takes a stats section with the stats stage, checking each field', () => {
    const train = { hook: 'blocks.0.mlp.hook_post', sizes: [64], l1Coefficients: [0.01], steps: 10 };
    const staged = { ...valid, stages: ['train', 'stats'], train };
    const c = parseRunConfig({ ...staged, stats: { partsPerGroup: 2, fanIn: 4, featureBrowser: false } });
    assert.deepEqual(c.stats, { partsPerGroup: 2, fanIn: 4, featureBrowser: false });
    assert.equal(parseRunConfig(staged).stats, undefined);
    assert.throws(() => parseRunConfig({ ...valid, stages: ['train'], train, stats: { fanIn: 4 } }), /- stages: must include "stats" when a stats section is given/);
    assert.throws(
      () => parseRunConfig({ ...staged, stats: { fanIn: 1, concurrency: 0, topK: 2.5, encodeBatchRows: 'big', partz: 1 } }),
      (err: Error) => {
        for (const field of ['stats.fanIn', 'stats.concurrency', 'stats.topK', 'stats.encodeBatchRows', 'stats']) assert.ok(err.message.includes(`- ${field}:`), `${field} in ${err.message}`);
        assert.match(err.message, /partz/);
        return true;
      },
    );
  });
});
