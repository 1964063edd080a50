// `thresher run status --watch`: the one-line progress with tokens/s, ETA and failed shards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, progressLine } from '../cli/progress-bar.js';
import type { HarvestProgress } from '../workflows/harvest-types.js';

const NOW = 1_800_000_000_000;

function progress(over: Omit<Partial<HarvestProgress>, 'shards'> & { shards?: Partial<HarvestProgress['shards']> } = {}): HarvestProgress {
  return {
    runId: 'r',
    outputUri: 's3://b/runs',
    phase: 'harvesting',
    paused: false,
    tokens: 1000,
    rows: 900,
    bytes: 2048,
    startedAt: NOW - 10_000,
    ...over,
    shards: { total: 10, done: 4, failed: 1, running: 2, skipped: 0, ...over.shards },
  };
}

test('shows shards, running, failed, tokens/s and an ETA from the shards finished so far', () => {
  const line = progressLine(progress(), NOW);
  assert.match(line, /^\[#{15}\.{15}\] 5\/10 shards/, 'done and failed both count as finished');
  assert.match(line, /\| 2 running \| 1 failed \|/);
  assert.match(line, /\| 1,000 tokens \| 100 tok\/s \|/);
  assert.match(line, /\| 2\.0 KiB \|/);
  // 5 shards left at 4 fresh shards per 10 s.
  assert.match(line, /\| ETA 13s \| harvesting$/);
});

test('ETA: unknown before a shard finishes, 0 at the end; shards done by an earlier run do not count as speed', () => {
  assert.match(progressLine(progress({ shards: { done: 0, failed: 0 } }), NOW), /ETA \? /);
  assert.match(progressLine(progress({ shards: { done: 3, skipped: 3, failed: 0 } }), NOW), /ETA \? /);
  assert.match(progressLine(progress({ phase: 'done', shards: { done: 9, failed: 1, running: 0 } }), NOW), /ETA 0s \| done$/);
});

test('after a resume, tokens of shards done before it count in the total but not in tok/s', () => {
  const line = progressLine(progress({ tokens: 5000, skippedTokens: 4000, shards: { done: 6, skipped: 3 } }), NOW);
  assert.match(line, /\| 5,000 tokens \| 100 tok\/s \|/);
});

test('a paused run says so', () => {
  assert.match(progressLine(progress({ paused: true }), NOW), /\| PAUSED \| harvesting$/);
});

test('durations read as h/m/s', () => {
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(125), '2m05s');
  assert.equal(formatDuration(3 * 3600 + 7 * 60), '3h07m');
  assert.equal(formatDuration(Infinity), '?');
});
