// Per-feature statistics as one Parquet file, one row per feature in feature order, in row groups
// of FEATURES_PER_STATS_ROW_GROUP features, for the browser and for notebooks (pandas / DuckDB
// read it without Thresher). Histogram counts are separate INT64
// columns hist_00, hist_01, … so any tool can read them without list support (list columns are
// also far slower in every Parquet library we measured); the bins' lower edges are in the footer.
// Example references are JSON strings: they are small, ragged and only ever read whole.
import type { AsyncBuffer, KeyValue } from 'hyparquet';
import { ByteWriter, ParquetWriter, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { openRowGroupFile } from '../parquet/parquet-source.js';
import type { ExampleRef, FeatureSummary, FeatureView, IntervalExamples } from './feature-summary.js';

export const FEATURE_STATS_FORMAT = 'feature-stats/v1';

const META = {
  format: 'thresher.format',
  tokens: 'thresher.tokens',
  binLowerEdges: 'thresher.hist_lower_edges',
} as const;

/**
 * One row of features.parquet: the per-feature view of the summary it was written from, and the
 * feature's co-firing with the corpus labels (firing tokens per label; empty without labels, null
 * in files written before the column existed).
 */
export type FeatureStatsRow = FeatureView & { labelFiring: Record<string, number> | null };

export interface FeatureStatsFile {
  tokens: number;
  binLowerEdges: number[];
  rows: FeatureStatsRow[];
}

export interface EncodeFeatureStatsOptions {
  /** Interval examples: number of equal intervals of [0, max]. Default 11 (as in the paper). */
  intervals?: number;
  /** Examples per interval. Default: the summary's reservoirPerBin. */
  perInterval?: number;
  /** Extra footer key/values (e.g. run id, dictionary key). */
  kvMetadata?: Record<string, string>;
}

const histColumn = (b: number, bins: number): string => `hist_${String(b).padStart(String(bins - 1).length, '0')}`;

/**
 * Features per row group: the writer builds one group's columns (with their JSON strings) at a
 * time, and a reader decodes only the groups a feature range needs, so neither holds a wide
 * dictionary's examples at once.
 */
export const FEATURES_PER_STATS_ROW_GROUP = 4096;

export function encodeFeatureStats(summary: FeatureSummary, options: EncodeFeatureStatsOptions = {}): Uint8Array {
  const { dSae, bins } = summary;
  const labels = summary.labels();
  const required = 'REQUIRED' as const;
  const leaf = (name: string, type: 'INT32' | 'INT64' | 'DOUBLE'): SchemaElement => ({ name, type, repetition_type: required });
  const json = (name: string): SchemaElement =>
    ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: required });
  const histNames = Array.from({ length: bins }, (_, b) => histColumn(b, bins));
  const leaves: SchemaElement[] = [
    leaf('feature', 'INT32'), leaf('firing_count', 'INT64'), leaf('density', 'DOUBLE'), leaf('mean_act', 'DOUBLE'), leaf('max_act', 'DOUBLE'),
    ...histNames.map((n) => leaf(n, 'INT64')),
    json('top_examples'), json('interval_examples'), json('label_firing'),
  ];
  const kvMetadata: KeyValue[] = [
    { key: META.format, value: FEATURE_STATS_FORMAT },
    { key: META.tokens, value: String(summary.tokens) },
    { key: META.binLowerEdges, value: JSON.stringify(summary.binLowerEdges) },
    ...Object.entries(options.kvMetadata ?? {}).map(([key, value]) => ({ key, value })),
  ];
  const bytes = new ByteWriter();
  const writer = new ParquetWriter({
    writer: bytes, schema: [{ name: 'root', num_children: leaves.length }, ...leaves],
    codec: 'SNAPPY', kvMetadata, createdBy: 'thresher feature-stats',
  });
  for (let start = 0; start < dSae; start += FEATURES_PER_STATS_ROW_GROUP) {
    const n = Math.min(FEATURES_PER_STATS_ROW_GROUP, dSae - start);
    const feature = new Int32Array(n);
    const firingCount = new BigInt64Array(n);
    const density = new Float64Array(n);
    const meanAct = new Float64Array(n);
    const maxAct = new Float64Array(n);
    const hist = Array.from({ length: bins }, () => new BigInt64Array(n));
    const top = new Array<string>(n);
    const intervals = new Array<string>(n);
    const labelFiring = new Array<string>(n);
    for (let k = 0; k < n; k++) {
      const i = start + k;
      const v = summary.view(i, options.intervals, options.perInterval);
      feature[k] = i;
      firingCount[k] = BigInt(v.firingCount);
      density[k] = v.density;
      meanAct[k] = v.meanAct;
      maxAct[k] = v.maxAct;
      for (let b = 0; b < bins; b++) hist[b][k] = BigInt(v.histogram[b]);
      top[k] = JSON.stringify(v.top);
      intervals[k] = JSON.stringify(v.intervals);
      labelFiring[k] = JSON.stringify(Object.fromEntries(labels.filter((l) => l.firing[i] > 0).map((l) => [l.label, l.firing[i]])));
    }
    const columnData: ColumnSource[] = [
      { name: 'feature', data: feature },
      { name: 'firing_count', data: firingCount },
      { name: 'density', data: density },
      { name: 'mean_act', data: meanAct },
      { name: 'max_act', data: maxAct },
      ...hist.map((data, b): ColumnSource => ({ name: histNames[b], data })),
      // JSON min/max statistics would be meaningless and bloat the footer.
      { name: 'top_examples', data: top, statistics: false },
      { name: 'interval_examples', data: intervals, statistics: false },
      { name: 'label_firing', data: labelFiring, statistics: false },
    ];
    void writer.write({ columnData, rowGroupSize: n });
  }
  void writer.finish();
  return bytes.getBytes();
}

/** Reads features.parquet by feature range, decoding only the row groups that hold the range. */
export interface FeatureStatsReader {
  tokens: number;
  binLowerEdges: number[];
  /** Rows in the file: one per feature, in feature order (as encodeFeatureStats writes them). */
  features: number;
  /** The rows of features [from, to), in order. The last row group decoded is kept, so ascending ranges decode each group once. */
  rows(from: number, to: number): Promise<FeatureStatsRow[]>;
}

/** Opens features.parquet from memory or from S3 by range (parquet-source.ts): reads the footer only. */
export async function openFeatureStats(source: Uint8Array | AsyncBuffer): Promise<FeatureStatsReader> {
  const file = await openRowGroupFile(source, META.format, FEATURE_STATS_FORMAT, 'a feature-stats file', featureRowDecoder);
  return {
    tokens: Number(file.kv.get(META.tokens)),
    binLowerEdges: binLowerEdgesOf(file.kv),
    features: file.rows,
    async rows(from, to) {
      const out: FeatureStatsRow[] = [];
      for (const [index, g] of file.groups.entries()) {
        if (g.rowEnd <= from || g.rowStart >= to) continue;
        const rows = await file.read(index);
        out.push(...rows.slice(Math.max(0, from - g.rowStart), Math.min(rows.length, to - g.rowStart)));
      }
      return out;
    },
  };
}

/** Decodes a features.parquet row; its histogram columns are named from the footer's bin edges. */
function featureRowDecoder(kv: Map<string, string>): (o: Record<string, unknown>) => FeatureStatsRow {
  const histNames = binLowerEdgesOf(kv).map((_, b, edges) => histColumn(b, edges.length));
  return (o) => ({
    feature: Number(o.feature),
    firingCount: Number(o.firing_count),
    density: Number(o.density),
    meanAct: Number(o.mean_act),
    maxAct: Number(o.max_act),
    histogram: histNames.map((n) => Number(o[n])),
    top: JSON.parse(String(o.top_examples)) as ExampleRef[],
    intervals: JSON.parse(String(o.interval_examples)) as IntervalExamples[],
    labelFiring: o.label_firing === undefined ? null : JSON.parse(String(o.label_firing)) as Record<string, number>,
  });
}

function binLowerEdgesOf(kv: Map<string, string>): number[] {
  return JSON.parse(kv.get(META.binLowerEdges) ?? '[]') as number[];
}

/** Reads a whole feature-stats file back (tests, small dictionaries). */
export async function readFeatureStats(bytes: Uint8Array): Promise<FeatureStatsFile> {
  const reader = await openFeatureStats(bytes);
  return { tokens: reader.tokens, binLowerEdges: reader.binLowerEdges, rows: await reader.rows(0, reader.features) };
}
