// dealToLanes, the dealing of batches to summariser lanes shared by summariseParts and
// bench:stats: each item goes to the least-loaded lane with room, finished items are reported in
// send order, a sync iterator works like an async one, items needing no lane finish at once, and
// a failure or an abort stops the dealing (closing the iterator) without unhandled rejections.
// summarise-parts.test.ts covers it through the statistics loop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dealToLanes } from '../core/stats/lane-dealer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dealToLanes', () => {
  it('gives each item to the lane with the fewest outstanding and reports in send order', async () => {
    const speeds = [16, 1, 4]; // ms per item in each lane
    const outstanding = [0, 0, 0];
    const lanesOf: number[] = [];
    const reported: [number, number | undefined][] = [];
    await dealToLanes<number, number>({
      lanes: 3, perLane: 2, items: Array.from({ length: 60 }, (_, i) => i)[Symbol.iterator](),
      send(lane, item) {
        assert.equal(lane, outstanding.indexOf(Math.min(...outstanding)), `item ${item}: outstanding ${outstanding.join(',')}`);
        assert.ok(outstanding[lane] < 2);
        lanesOf.push(lane);
        if (item % 10 === 7) return undefined; // needs no lane
        outstanding[lane]++;
        return sleep(speeds[lane]).then(() => (outstanding[lane]--, item * 10));
      },
      onDone: (item, result) => reported.push([item, result]),
    });
    assert.deepEqual(reported, Array.from({ length: 60 }, (_, i) => [i, i % 10 === 7 ? undefined : i * 10]));
    const count = (lane: number) => lanesOf.filter((l) => l === lane).length;
    assert.ok(count(1) > count(2) && count(2) > count(0), `items per lane ${[0, 1, 2].map(count).join(', ')}`);
  });

  it('stops at the first failure or an abort, closes the iterator, and leaves no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      let closed = 0;
      async function* items() {
        try {
          for (let i = 0; i < 100; i++) yield i;
        } finally {
          closed++;
        }
      }
      const reported: number[] = [];
      await assert.rejects(dealToLanes<number, void>({
        lanes: 2, perLane: 2, items: items(),
        send: (_lane, item) => sleep(item === 5 ? 1 : 3).then(() => { if (item >= 5) throw new Error(`lane failed on ${item}`); }),
        onDone: (item) => reported.push(item),
      }), /lane failed on 5/);
      assert.equal(closed, 1);
      assert.ok(reported.every((i) => i < 5), `reported ${reported.join(',')}`);

      const abort = new AbortController();
      const after: number[] = [];
      await assert.rejects(dealToLanes<number, void>({
        lanes: 2, perLane: 1, items: items(), signal: abort.signal,
        send: () => sleep(1).then(() => undefined),
        onDone: (item) => { after.push(item); if (item === 3) abort.abort(); },
      }), (e: Error) => e.name === 'AbortError');
      assert.deepEqual(after, [0, 1, 2, 3], 'nothing is reported after the abort');
      assert.equal(closed, 2);
      await assert.rejects(dealToLanes({ lanes: 0, perLane: 1, items: items(), send: () => undefined, onDone: () => undefined }), /lanes must be a positive integer, got 0/);
      await assert.rejects(dealToLanes({ lanes: 2, perLane: 1.5, items: items(), send: () => undefined, onDone: () => undefined }), /perLane must be a positive integer, got 1.5/);
      await sleep(20);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
