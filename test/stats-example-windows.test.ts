// Example windows without Temporal: a small in-memory "shard" and a hook that is a fixed function
// of (token, position), so every expected activation can be computed by hand. Both ways of
// getting window activations (the full encoder on distinct window tokens, and the one-feature dot
// product of ReLU dictionaries) must agree with the reference encode; windows stop at their
// context's edges; a corpus that changed since the harvest fails; examples.parquet round-trips.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PackedStep } from '../core/harvest/shard-contexts.js';
import { referenceForward } from '../core/sae/reference-forward.js';
import { zeroWeights, type SaeWeights } from '../core/sae/sae-weights.js';
import { SeededRandom } from '../core/random/seeded-random.js';
import {
  buildExampleWindows, CorpusChangedError, exampleTargets, reluFeatureActivation, type ExampleTarget, type WindowSources,
} from '../core/stats/example-windows-builder.js';
import { parquetMetadata } from 'hyparquet';
import { encodeExampleWindows, ExampleWindowsWriter, openExampleWindows, readExampleWindows, type ExampleWindow } from '../core/stats/example-windows.js';
import { splitTargetsByShard } from '../core/stats/example-window-tasks.js';

const D_IN = 6;
const D_SAE = 5;
const SEQ = 12;

/** Shard 0: 3 contexts of SEQ tokens; document d covers tokens [d·8, d·8 + 8) of the stream. */
function contextsOf(shard: number): PackedStep[] {
  const steps: PackedStep[] = [];
  for (let c = 0; c < 3; c++) {
    const ids = Int32Array.from({ length: SEQ }, (_, t) => (shard * 100 + c * SEQ + t) % 50);
    const docs = Int32Array.from({ length: SEQ }, (_, t) => Math.floor((c * SEQ + t) / 8));
    steps.push({ document: { index: c, text: '', label: `genre${c}` }, contexts: [{ index: c, ids, docs }] });
  }
  return steps;
}

const hookValue = (token: number, position: number, j: number): number => Math.sin(token * 0.7 + j * 1.3) + 0.1 * position;

function weights(): SaeWeights {
  const rng = new SeededRandom(7);
  const w = zeroWeights(D_IN, D_SAE);
  for (let i = 0; i < w.W_enc.length; i++) w.W_enc[i] = rng.uniform(-1, 1);
  for (let i = 0; i < D_SAE; i++) w.b_enc[i] = rng.uniform(-0.3, 0.3);
  for (let j = 0; j < D_IN; j++) w.b_dec[j] = rng.uniform(-0.2, 0.2);
  return w;
}

function sources(w: SaeWeights, shards: (shard: number) => PackedStep[] = contextsOf): WindowSources {
  return {
    async *shardContexts(shard) { yield* shards(shard); },
    async hookVectors(ids, batch, seq) {
      const out = new Float32Array(batch * seq * D_IN);
      for (let b = 0; b < batch; b++) for (let t = 0; t < seq; t++) for (let j = 0; j < D_IN; j++) out[(b * seq + t) * D_IN + j] = hookValue(Number(ids[b * seq + t]), t, j);
      return out;
    },
    async encode(x, rows) {
      return Float32Array.from(referenceForward(w, x, { arch: 'l1', l1Coefficient: 0, k: 0, kAux: 0, auxKCoefficient: 0 }).f);
    },
    tokenText: (id) => `<t${id}&>`,
  };
}

const reference = (w: SaeWeights, token: number, position: number, feature: number): number => {
  const x = Float32Array.from({ length: D_IN }, (_, j) => hookValue(token, position, j));
  return referenceForward(w, x, { arch: 'l1', l1Coefficient: 0, k: 0, kAux: 0, auxKCoefficient: 0 }).f[feature];
};

const target = (feature: number, context: number, position: number, group = 0): ExampleTarget => {
  const token = (context * SEQ + position) % 50;
  return { feature, kind: 'top', group, ref: { act: reference(weights(), token, position, feature), shard: 0, doc: Math.floor((context * SEQ + position) / 8), context, position, token } };
};

describe('example windows', () => {
  const targets = [target(0, 0, 0), target(1, 0, 5, 1), target(2, 2, 11), target(4, 1, 6), target(0, 2, 3, 2)];

  it('cuts ±radius windows inside the context, with each token\'s activation from the encoder or the one-feature path', async () => {
    const w = weights();
    const viaEncoder = await buildExampleWindows(targets, sources(w), { dIn: D_IN, dSae: D_SAE, radius: 3, batchContexts: 2 });
    const viaFeature = await buildExampleWindows(targets, { ...sources(w), featureActivation: reluFeatureActivation(w) }, { dIn: D_IN, dSae: D_SAE, radius: 3 });
    for (const windows of [viaEncoder, viaFeature]) {
      assert.equal(windows.length, targets.length);
      for (const [i, win] of windows.entries()) {
        const { feature, ref } = targets[i];
        const from = Math.max(0, ref.position - 3);
        const to = Math.min(SEQ - 1, ref.position + 3);
        assert.equal(win.tokens.length, to - from + 1, `window ${i} stops at the context's edges`);
        assert.equal(win.center, ref.position - from);
        assert.equal(win.tokens[win.center], ref.token);
        assert.deepEqual(win.texts, win.tokens.map((t) => `<t${t}&>`));
        for (let k = 0; k < win.tokens.length; k++) {
          const expected = reference(w, win.tokens[k], from + k, feature);
          assert.ok(Math.abs(win.acts[k] - expected) < 1e-5, `window ${i} token ${k}: ${win.acts[k]} vs ${expected}`);
        }
        assert.ok(Math.abs(win.acts[win.center] - win.act) < 1e-5, 'the centre matches the recorded activation');
      }
    }
    assert.equal(viaEncoder[0].center, 0, 'an example at position 0 has no left context');
    assert.equal(viaEncoder[2].tokens.length, 4, 'an example at the last position has no right context');
  });

  it('labels each window by the centre token\'s document', async () => {
    const windows = await buildExampleWindows(targets, sources(weights()), { dIn: D_IN, dSae: D_SAE });
    // Steps bring documents 0–2 (labelled genre<d>); context tokens also point at documents 3–4,
    // which no step brought: those windows have no label.
    for (const [i, win] of windows.entries()) {
      const doc = Math.floor((targets[i].ref.context * SEQ + targets[i].ref.position) / 8);
      assert.equal(win.label, doc <= 2 ? `genre${doc}` : null, `window ${i}`);
    }
  });

  it('fails with CorpusChangedError when a centre token differs from the harvested one, or a context is gone', async () => {
    const changed = (shard: number) => contextsOf(shard).map((s) => ({ ...s, contexts: s.contexts.map((c) => ({ ...c, ids: c.ids.map((id) => (id + 1) % 50) })) }));
    await assert.rejects(buildExampleWindows(targets, sources(weights(), changed), { dIn: D_IN, dSae: D_SAE }), (err: Error) => err instanceof CorpusChangedError && /corpus changed since the harvest/.test(err.message));
    const shorter = (shard: number) => contextsOf(shard).slice(0, 2);
    await assert.rejects(buildExampleWindows(targets, sources(weights(), shorter), { dIn: D_IN, dSae: D_SAE }), (err: Error) => err instanceof CorpusChangedError && /contexts 2 are not in the corpus/.test(err.message));
  });

  it('exampleTargets lists top then interval examples per feature; examples.parquet round-trips', async () => {
    const ref = { act: 1, shard: 0, doc: 0, context: 0, position: 1, token: 1 };
    const listed = exampleTargets([
      { feature: 3, top: [ref, { ...ref, position: 2 }], intervals: [{ lo: 0, hi: 1, examples: [] }, { lo: 1, hi: 2, examples: [{ ...ref, act: 1.5 }] }] },
    ]);
    assert.deepEqual(listed.map((t) => [t.feature, t.kind, t.group, t.ref.position]), [[3, 'top', 0, 1], [3, 'top', 1, 2], [3, 'interval', 1, 1]]);

    const rows = await buildExampleWindows(targets, sources(weights()), { dIn: D_IN, dSae: D_SAE });
    const back = await readExampleWindows(encodeExampleWindows({ radius: 4, rows }));
    assert.equal(back.radius, 4);
    const order = [...rows].sort((a, b) => a.feature - b.feature || a.group - b.group);
    assert.deepEqual(back.rows.map((r) => [r.feature, r.group, r.tokens, r.texts, r.label]), order.map((r) => [r.feature, r.group, r.tokens, r.texts, r.label]));
    for (const [i, r] of back.rows.entries()) r.acts.forEach((a, k) => assert.ok(Math.abs(a - order[i].acts[k]) <= 1e-5 * Math.max(1, Math.abs(a))));
  });
});

describe('example-window tasks', () => {
  it('split the targets by shard, shards ascending, every target in exactly one task', () => {
    const ref = (shard: number, position: number) => ({ act: 1, shard, doc: 0, context: 0, position, token: 0 });
    const targets: ExampleTarget[] = [5, 1, 9, 1, 5, 3, 7].map((shard, i) => ({ feature: i, kind: 'top' as const, group: 0, ref: ref(shard, i) }));
    const tasks = splitTargetsByShard(targets, 2);
    assert.deepEqual(tasks.map((t) => t.shards), [[1, 3], [5, 7], [9]]);
    assert.deepEqual(tasks.map((t) => t.targets.map((x) => x.feature)), [[1, 3, 5], [0, 4, 6], [2]]);
    assert.deepEqual(splitTargetsByShard([], 4), []);
    assert.throws(() => splitTargetsByShard(targets, 0), /shardsPerTask must be a positive integer, got 0/);
  });

  it('cap the windows per task, splitting a shard with more examples than the cap over several tasks', () => {
    const ref = (shard: number, position: number) => ({ act: 1, shard, doc: 0, context: 0, position, token: 0 });
    // Shard 2 has 5 examples, shards 4 and 6 one each; at most 2 per task.
    const targets: ExampleTarget[] = [2, 2, 4, 2, 2, 6, 2].map((shard, i) => ({ feature: i, kind: 'top' as const, group: 0, ref: ref(shard, i) }));
    const tasks = splitTargetsByShard(targets, 8, 2);
    assert.deepEqual(tasks.map((t) => t.shards), [[2], [2], [2, 4], [6]]);
    assert.deepEqual(tasks.map((t) => t.targets.map((x) => x.feature)), [[0, 1], [3, 4], [6, 2], [5]]);
    assert.ok(tasks.every((t) => t.targets.length <= 2));
    assert.deepEqual(tasks.flatMap((t) => t.targets.map((x) => x.feature)).sort(), [0, 1, 2, 3, 4, 5, 6]);
  });
});

describe('ExampleWindowsWriter', () => {
  const window = (feature: number, kind: 'top' | 'interval', group: number): ExampleWindow => ({
    feature, kind, group, act: feature + group / 10, shard: 1, doc: 2, context: 3, position: 4, label: null, center: 0, tokens: [7], texts: ['x'], acts: [0.5],
  });

  it('writes one row group per call, in feature order, and reads back as the one-group file does', async () => {
    const rows = [window(0, 'interval', 1), window(0, 'top', 0), window(3, 'top', 0), window(5, 'top', 1), window(5, 'top', 0), window(9, 'interval', 0)];
    const writer = new ExampleWindowsWriter(4, { 'thresher.hook': 'h' });
    writer.writeRowGroup(rows.slice(0, 3));
    writer.writeRowGroup([]);
    writer.writeRowGroup(rows.slice(3));
    const bytes = writer.finish();
    assert.equal(writer.rows, 6);
    const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    assert.deepEqual(meta.row_groups.map((g) => Number(g.num_rows)), [3, 3]);
    assert.deepEqual(await readExampleWindows(bytes), await readExampleWindows(encodeExampleWindows({ radius: 4, rows })));
    assert.throws(() => writer.writeRowGroup([window(2, 'top', 0)]), /feature order: feature 2 after 9/);

    // By feature range: only the windows of [from, to), in file order.
    const reader = await openExampleWindows(bytes);
    assert.equal(reader.radius, 4);
    assert.deepEqual((await reader.windowsOf(1, 6)).map((w) => [w.feature, w.group]), [[3, 0], [5, 0], [5, 1]]);
    assert.deepEqual(await reader.windowsOf(6, 9), []);
    assert.deepEqual((await reader.windowsOf(0, 1)).map((w) => [w.feature, w.kind]), [[0, 'top'], [0, 'interval']]);
    assert.deepEqual((await reader.windowsOf(9, 10)).map((w) => w.feature), [9]);
  });
});
