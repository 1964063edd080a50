// lane-labels.ts: the row labels of a batch cross to a summariser lane as one byte per row into
// the batch's distinct names, and come back as the same strings, row for row.
// summariser-pool.test.ts covers them through the pool (labelled parts give the one-pass summary).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labelIdsOf, laneLabels } from '../core/stats/lane-labels.js';

const lane = (ids: Uint8Array, names: string[]) => ({ shard: 0, doc: new Int32Array(0), context: new Int32Array(0), position: new Int32Array(0), token: new Int32Array(0), labelIds: ids, labelNames: names });

describe('lane labels', () => {
  it('names in order of first appearance, one id per row, and the same labels back', () => {
    const labels = ['dna', 'dna', 'json', 'dna', 'hébreu', 'hébreu', 'json', ''];
    const got = labelIdsOf(labels)!;
    assert.deepEqual(got.names, ['dna', 'json', 'hébreu', '']);
    assert.deepEqual(Array.from(got.ids), [0, 0, 1, 0, 2, 2, 1, 3]);
    assert.deepEqual(laneLabels(lane(got.ids, got.names)), labels);
  });

  it('no rows, and no labels', () => {
    const got = labelIdsOf([])!;
    assert.deepEqual([got.names, got.ids.length], [[], 0]);
    assert.equal(laneLabels({ shard: 0, doc: new Int32Array(0), context: new Int32Array(0), position: new Int32Array(0), token: new Int32Array(0) }), undefined);
  });

  it('256 distinct labels fit in a byte; 257 do not', () => {
    const names = Array.from({ length: 257 }, (_, i) => `genre-${i}`);
    const fits = labelIdsOf(names.slice(0, 256).flatMap((n) => [n, n]))!;
    assert.equal(fits.names.length, 256);
    assert.equal(fits.ids[511], 255);
    assert.equal(labelIdsOf(names), undefined);
  });
});
