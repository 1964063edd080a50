// "Readable from Python" (issue #4), checked with the reader a researcher's notebook would use:
// pyarrow reads features.parquet, examples.parquet and activation parts (fp32 and fp16,
// uncompressed and Snappy, several row groups) as Thresher wrote them, and gets the same values.
// pyarrow is a test dependency only (infra/install-pyarrow.sh); without it the test is skipped,
// unless THRESHER_REQUIRE_PYARROW=1 (set by .ci/run) makes it fail.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeActivationPart, type ActivationColumns, type ActivationPartMeta } from '../core/parquet/activation-part.js';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from '../core/parquet/float16.js';
import { encodeExampleWindows, type ExampleWindow } from '../core/stats/example-windows.js';
import { encodeFeatureStats, FEATURES_PER_STATS_ROW_GROUP } from '../core/stats/feature-stats-parquet.js';
import { FeatureSummary } from '../core/stats/feature-summary.js';
import { syntheticPart } from '../core/stats/synthetic-encoded-part.js';

const hasPyarrow = spawnSync('python3', ['-c', 'import pyarrow'], { stdio: 'ignore' }).status === 0;
if (!hasPyarrow && process.env.THRESHER_REQUIRE_PYARROW === '1') {
  throw new Error('python3 cannot import pyarrow and THRESHER_REQUIRE_PYARROW=1: install it with `bash infra/install-pyarrow.sh`');
}
const skip = hasPyarrow ? false : 'python3 cannot import pyarrow: run `bash infra/install-pyarrow.sh` to run the Python-interop tests';

// Prints each file as JSON: its rows (a FIXED_LEN_BYTE_ARRAY vector unpacked with struct, as
// little-endian float32 or float16 per the file's thresher.dtype), row groups and key-value metadata.
const READ_WITH_PYARROW = `
import json, struct, sys
import pyarrow.parquet as pq
out = {}
for path in sys.argv[1:]:
    f = pq.ParquetFile(path)
    meta = {k.decode(): v.decode() for k, v in (f.schema_arrow.metadata or {}).items()}
    rows = f.read().to_pylist()
    if "activation" in f.schema_arrow.names:
        code = "e" if meta.get("thresher.dtype") == "fp16" else "f"
        for r in rows:
            b = r["activation"]
            r["activation"] = list(struct.unpack("<%d%s" % (len(b) // struct.calcsize(code), code), b))
    out[path] = {"rows": rows, "rowGroups": f.num_row_groups, "meta": meta}
json.dump(out, sys.stdout, allow_nan=True)
`;

interface PyFile {
  rows: Record<string, unknown>[];
  rowGroups: number;
  meta: Record<string, string>;
}

function readWithPyarrow(files: string[]): Record<string, PyFile> {
  const py = spawnSync('python3', ['-c', READ_WITH_PYARROW, ...files], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(py.status, 0, `pyarrow failed: ${py.stderr}`);
  return JSON.parse(py.stdout) as Record<string, PyFile>;
}

describe('Python reads Thresher\'s Parquet (pyarrow)', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'thresher-pyarrow-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('features.parquet: every statistic of every feature, across row groups', async () => {
    const dSae = FEATURES_PER_STATS_ROW_GROUP + 3;
    const s = new FeatureSummary({ dSae, topK: 2, reservoirPerBucket: 1 });
    const part = syntheticPart(5, 2, 120, dSae, 0.05, 4, ['dna', 'json', 'hebrew']);
    s.add(part.acts, part.rows);
    const file = path.join(dir, 'features.parquet');
    await writeFile(file, encodeFeatureStats(s, { kvMetadata: { 'thresher.run': 'r-py' } }));

    const got = readWithPyarrow([file])[file];
    assert.equal(got.rowGroups, 2);
    assert.equal(got.meta['thresher.run'], 'r-py');
    assert.equal(got.rows.length, dSae);
    const labels = s.labels();
    let firing = 0;
    for (let i = 0; i < dSae; i++) {
      const v = s.view(i);
      const row = got.rows[i];
      assert.equal(row.feature, i);
      assert.equal(row.firing_count, v.firingCount, `feature ${i}`);
      assert.equal(row.density, v.density, `feature ${i}`);
      assert.equal(row.mean_act, v.meanAct, `feature ${i}`);
      assert.equal(row.max_act, v.maxAct, `feature ${i}`);
      v.histogram.forEach((count, b) => assert.equal(row[`hist_${String(b).padStart(2, '0')}`], count, `feature ${i} bin ${b}`));
      assert.deepEqual(JSON.parse(row.top_examples as string), v.top, `feature ${i}`);
      assert.deepEqual(JSON.parse(row.interval_examples as string), v.intervals, `feature ${i}`);
      const expected = Object.fromEntries(labels.filter((l) => l.firing[i] > 0).map((l) => [l.label, l.firing[i]]));
      assert.deepEqual(JSON.parse(row.label_firing as string), expected, `feature ${i}`);
      firing += v.firingCount;
    }
    assert.ok(firing > 0, 'the synthetic part fires');
  });

  it('examples.parquet: windows with their tokens, texts and activations', async () => {
    const rows: ExampleWindow[] = [
      { feature: 0, kind: 'top', group: 0, act: 2.5, shard: 1, doc: 3, context: 4, position: 5, label: 'hebrew', center: 1, tokens: [7, 8, 9], texts: ['ש', '<b>', '"q"'], acts: [0, 2.5, 1.25] },
      { feature: 3, kind: 'interval', group: 10, act: 0.5, shard: 0, doc: 1, context: 0, position: 0, label: null, center: 0, tokens: [4], texts: ['\n'], acts: [0.5] },
    ];
    const file = path.join(dir, 'examples.parquet');
    await writeFile(file, encodeExampleWindows({ radius: 4, rows }));
    const got = readWithPyarrow([file])[file];
    assert.equal(got.rows.length, 2);
    got.rows.forEach((row, k) => {
      const w = rows[k];
      for (const key of ['feature', 'kind', 'group', 'act', 'shard', 'doc', 'context', 'position', 'label', 'center'] as const) assert.equal(row[key], w[key], `${key} of row ${k}`);
      assert.deepEqual(JSON.parse(row.tokens as string), w.tokens);
      assert.deepEqual(JSON.parse(row.texts as string), w.texts);
      assert.deepEqual(JSON.parse(row.acts as string), w.acts);
    });
  });

  it('activation parts: fp32 and fp16, uncompressed and Snappy, provenance and vectors', async () => {
    const rows = 700;
    const width = 24;
    const cols: ActivationColumns = {
      doc: Int32Array.from({ length: rows }, (_, r) => r >> 5),
      context: Int32Array.from({ length: rows }, (_, r) => r >> 3),
      position: Int32Array.from({ length: rows }, (_, r) => r & 7),
      token: Int32Array.from({ length: rows }, (_, r) => (r * 7919) % 50257),
      // Not float16-representable, so the fp16 part's rounding shows.
      values: Float32Array.from({ length: rows * width }, (_, k) => ((k * 37) % 101) / 7 - 6.3),
      label: Array.from({ length: rows }, (_, r) => ['dna', 'json', 'ünïcode'][r % 3]),
    };
    const cases = [
      { dtype: 'fp32' as const, codec: 'UNCOMPRESSED' as const },
      { dtype: 'fp16' as const, codec: 'SNAPPY' as const },
    ];
    const files: string[] = [];
    for (const [k, c] of cases.entries()) {
      const meta: ActivationPartMeta = { runId: 'run-py', hook: 'blocks.0.mlp.hook_post', modelSha256: 'ab'.repeat(32), dtype: c.dtype, width, shard: 4, part: k };
      const file = path.join(dir, `part-${c.dtype}.parquet`);
      await writeFile(file, encodeActivationPart(meta, cols, { rowGroupRows: 256, activationCodec: c.codec }));
      files.push(file);
    }
    const got = readWithPyarrow(files);
    for (const [k, c] of cases.entries()) {
      const f = got[files[k]];
      assert.equal(f.rowGroups, 3, c.dtype);
      assert.equal(f.meta['thresher.dtype'], c.dtype);
      // What the part holds: the float32 values, or their nearest float16 (the harvest rounds once).
      const stored = c.dtype === 'fp32' ? cols.values : float16ArrayToFloat32(float32ArrayToFloat16(cols.values));
      assert.equal(f.rows.length, rows);
      f.rows.forEach((row, r) => {
        assert.equal(row.run, 'run-py');
        assert.equal(row.shard, 4);
        for (const name of ['doc', 'context', 'position', 'token'] as const) assert.equal(row[name], cols[name][r], `${c.dtype} row ${r} ${name}`);
        assert.equal(row.label, cols.label![r]);
        assert.deepEqual(row.activation, Array.from(stored.subarray(r * width, (r + 1) * width)), `${c.dtype} row ${r} vector`);
      });
    }
  });
});
