import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContextPacker, type PackedContext } from '../core/tokenize/context-packer.js';
import { samplePositions } from '../core/tokenize/position-sampler.js';

const BOS = 0;

function pack(packer: ContextPacker, docs: number[][]): PackedContext[] {
  const out: PackedContext[] = [];
  docs.forEach((tokens, d) => out.push(...packer.push(d, tokens)));
  out.push(...packer.finish());
  return out;
}

describe('ContextPacker', () => {
  it("'context' mode starts every context with BOS and loses no token", () => {
    const docs = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10, 11, 12, 13]];
    const ctxs = pack(new ContextPacker(4, 'context', BOS), docs);
    assert.deepEqual(ctxs.map((c) => [...c.ids]), [[0, 1, 2, 3], [0, 4, 5, 6], [0, 7, 8, 9], [0, 10, 11, 12], [0, 13]]);
    assert.deepEqual(ctxs.map((c) => c.index), [0, 1, 2, 3, 4]);
    // Each token keeps its document; the BOS takes the document of the token after it.
    assert.deepEqual([...ctxs[1].docs], [0, 0, 0, 1]);
    assert.deepEqual([...ctxs[2].docs], [1, 1, 2, 2]);
    const tokensOut = ctxs.flatMap((c) => [...c.ids].slice(1));
    assert.deepEqual(tokensOut, docs.flat());
  });

  it("'document' mode puts BOS before each document", () => {
    const ctxs = pack(new ContextPacker(3, 'document', BOS), [[1, 2], [3]]);
    assert.deepEqual(ctxs.map((c) => [...c.ids]), [[0, 1, 2], [0, 3]]);
    assert.deepEqual([...ctxs[1].docs], [1, 1]);
  });

  it("'none' mode packs tokens only, and emits no empty trailing context", () => {
    const ctxs = pack(new ContextPacker(2, 'none', undefined), [[1, 2], [3, 4]]);
    assert.deepEqual(ctxs.map((c) => [...c.ids]), [[1, 2], [3, 4]]);
  });

  it('refuses a BOS mode without a BOS id', () => {
    assert.throws(() => new ContextPacker(4, 'context', undefined), /needs a BOS token id/);
  });
});

describe('samplePositions', () => {
  it('is reproducible, sorted, unique, and never picks the BOS slot when told', () => {
    const a = samplePositions(7, 3, 11, 128, 20, true);
    const b = samplePositions(7, 3, 11, 128, 20, true);
    assert.deepEqual(a, b);
    assert.equal(a.length, 20);
    assert.equal(new Set(a).size, 20);
    for (let i = 1; i < a.length; i++) assert.ok(a[i] > a[i - 1]);
    assert.ok(a[0] >= 1);
  });

  it('depends on seed, shard and context', () => {
    const base = [...samplePositions(1, 1, 1, 256, 10, true)];
    assert.notDeepEqual([...samplePositions(2, 1, 1, 256, 10, true)], base);
    assert.notDeepEqual([...samplePositions(1, 2, 1, 256, 10, true)], base);
    assert.notDeepEqual([...samplePositions(1, 1, 2, 256, 10, true)], base);
  });

  it('keeps every eligible position when asked for all or more than there are', () => {
    assert.deepEqual([...samplePositions(0, 0, 0, 5, undefined, true)], [1, 2, 3, 4]);
    assert.deepEqual([...samplePositions(0, 0, 0, 3, 10, false)], [0, 1, 2]);
  });

  it('is roughly uniform over positions', () => {
    const counts = new Array(64).fill(0);
    for (let c = 0; c < 4000; c++) for (const p of samplePositions(5, 0, c, 64, 8, true)) counts[p]++;
    assert.equal(counts[0], 0);
    const expected = (4000 * 8) / 63;
    for (let p = 1; p < 64; p++) assert.ok(Math.abs(counts[p] - expected) < expected * 0.2, `position ${p}: ${counts[p]} vs ${expected}`);
  });
});
