// A mergeable per-feature summary of encoded activations: the state the statistics stage keeps
// while it streams activation parts through the SAE encoder. Each part can be summarised on its
// own and the summaries merged in any order or grouping (merge is associative and commutative),
// so parts may be processed in parallel and retried.
//
// Per feature it keeps: firing count (act > 0), Σact and max; a histogram on fixed log-spaced
// edges (activation-histogram.ts); the top-k activating tokens; small samples of tokens for the
// paper's "examples from 11 intervals of [0, max]"; and, when rows carry labels, firing counts
// per label (for genre precision/recall, genre-scores.ts). Per run it keeps
// the token count and tokens per label.
//
// Interval examples. The 11 equal intervals of [0, max] are only known once max is, at the end;
// interval-reservoir.ts keeps a mergeable sample per feature from which they are resolved at
// finalisation (its header documents the approach and its limits).
//
// Memory: per feature (k + 44·R) example slots, `bins` counters and the reservoir's 44 bucket
// fills and admission keys, fixed at construction; plus one counter per feature per distinct
// label. Nothing grows with the number of rows. The per-feature counters live in a WebAssembly
// memory (SummaryMemory, apply-kernel-wasm.ts) with the kernel's scratch for one run of firings
// (≤ 2^17 records, ~3.7 MiB); the JavaScript paths of add() keep a working buffer of at most
// max(d_sae, 2^18) firings (≤ 9 MiB at d_sae ≤ 2^18), made on first use; and one 4-byte key per row
// of the largest call. None of these is part of the summary (not counted in byteLength, never
// merged or stored).
//
// Assumption: each token is added once across all summaries that are merged (a token seen twice
// counts twice, and could occupy two top-k slots).
import { ConfigError } from '../config/run-config.js';
import { referenceForward } from '../sae/reference-forward.js';
import type { SaeArch } from '../sae/sae-config.js';
import type { SaeWeights } from '../sae/sae-weights.js';
import {
  histogramBinCount, histogramBinner, histogramLowerEdges, resolveHistogram, type HistogramBinner, type HistogramSpec,
} from './activation-histogram.js';
import { SummaryMemory, type ApplyKernel, type ByFeature, type Candidates } from './apply-kernel-wasm.js';
import { ExampleSlots, featureKey, lowestKeyFirst, offer, rowKey, strongestFirst, type ExampleRef } from './example-slots.js';
import type { FiringRecords, FiringScanner } from './firing-scan-wasm.js';
import { IntervalReservoir } from './interval-reservoir.js';
import { labelIdsOf } from './lane-labels.js';

export type { ExampleRef } from './example-slots.js';

/** Provenance of each encoded row, as an activation part stores it (one shard per part). */
export interface RowProvenance {
  shard: number;
  doc: ArrayLike<number>;
  context: ArrayLike<number>;
  position: ArrayLike<number>;
  token: ArrayLike<number>;
  /** Optional ground-truth label per row (e.g. the corpus genre). */
  label?: readonly string[];
}

export interface FeatureSummaryOptions {
  dSae: number;
  /** Top activating tokens kept per feature. Default 20. */
  topK?: number;
  /** Tokens kept per feature per reservoir bucket (44 buckets) for interval examples. Default 4 (max 255). */
  reservoirPerBucket?: number;
  /** Histogram edges; must be equal for summaries that are merged. Default DEFAULT_HISTOGRAM. */
  histogram?: Partial<HistogramSpec>;
}

export interface IntervalExamples {
  lo: number;
  /** Exclusive, except for the last interval, which includes max. */
  hi: number;
  /** Sorted by activation, ascending. */
  examples: ExampleRef[];
}

/** Distinct row labels a summary counts firings for (labelFiring); one more fails the statistics (ConfigError). */
export const MAX_SUMMARY_LABELS = 64;

function tooManyLabels(label: string): ConfigError {
  return new ConfigError(
    `the corpus labels have more than ${MAX_SUMMARY_LABELS} distinct values (one past the limit: ${JSON.stringify(label.slice(0, 80))}); `
    + 'the statistics count each feature\'s firing per label (8 bytes per feature per label) for the genre table: label the run by a field with fewer values (corpus.labelField), '
    + 'or run the statistics with the setting "labels": false to leave the labels out',
  );
}

/** Everything the per-feature view shows, resolved from a summary. */
export interface FeatureView {
  feature: number;
  firingCount: number;
  /** firingCount / tokens; 0 when no tokens were seen. */
  density: number;
  /** Mean activation over the tokens where the feature fired (0 when it never fired). */
  meanAct: number;
  maxAct: number;
  /** Counts per bin; the bins' lower edges are FeatureSummary.binLowerEdges. */
  histogram: number[];
  /** Strongest first. */
  top: ExampleRef[];
  intervals: IntervalExamples[];
}

export interface LabelCounts {
  label: string;
  /** Tokens carrying this label. */
  tokens: number;
  /** Per feature: firing tokens carrying this label. */
  firing: Float64Array;
}

export class FeatureSummary {
  readonly dSae: number;
  readonly topK: number;
  readonly reservoirPerBucket: number;
  readonly histogramSpec: HistogramSpec;
  readonly bins: number;
  /** histogramBin of the spec without a log10 per firing (same bins; see HistogramBinner). */
  private readonly binner: HistogramBinner;

  tokens = 0;
  /** Counts as float64: exact up to 2^53, beyond any run. */
  readonly firing: Float64Array;
  readonly sum: Float64Array;
  readonly max: Float64Array;
  /** [d_sae × bins]. */
  readonly histogram: Float64Array;
  private readonly top: ExampleSlots;
  private readonly topFill: Uint16Array;
  /** Weakest activation in a full top-k list; 0 until the list is full. */
  private readonly topFloor: Float64Array;
  private readonly reservoir: IntervalReservoir;
  private readonly labelTokens = new Map<string, number>();
  private readonly labelFiring = new Map<string, Float64Array>();
  /** add()'s scratch: the one firing being offered as an example (made on first use). */
  private candidate: ExampleSlots | undefined;
  /** applyFirings' scratch: one feature's firings per label slot. */
  private slotCounts: Float64Array | undefined;
  /** add()'s scratch: rowKey of each row of the call (grown to the largest call). */
  private rowKeys: Uint32Array | undefined;
  /** add()'s working buffer, made on first use; not part of the summary (never merged or stored). */
  private firings: FiringBuffer | undefined;
  /** addScanned's WebAssembly kernel over the counters' memory (apply-kernel-wasm.ts), when it runs here. */
  private readonly kernel: ApplyKernel | undefined;

  constructor(options: FeatureSummaryOptions) {
    const { dSae, topK = 20, reservoirPerBucket = 4 } = options;
    if (!Number.isInteger(dSae) || dSae < 1) throw new RangeError(`dSae must be a positive integer, got ${dSae}`);
    if (!Number.isInteger(topK) || topK < 1 || topK > 0xffff) throw new RangeError(`topK must be an integer in [1, 65535], got ${topK}`);
    if (!Number.isInteger(reservoirPerBucket) || reservoirPerBucket < 1 || reservoirPerBucket > 0xff) {
      throw new RangeError(`reservoirPerBucket must be an integer in [1, 255], got ${reservoirPerBucket}`);
    }
    this.dSae = dSae;
    this.topK = topK;
    this.reservoirPerBucket = reservoirPerBucket;
    this.histogramSpec = resolveHistogram(options.histogram);
    this.bins = histogramBinCount(this.histogramSpec);
    this.binner = histogramBinner(this.histogramSpec);
    // The per-feature counters the kernel reads and writes, in its memory (plain arrays without it).
    const hot = new SummaryMemory(dSae, this.bins, this.binner.tables());
    this.firing = hot.firing;
    this.sum = hot.sum;
    this.max = hot.max;
    this.histogram = hot.histogram;
    this.top = new ExampleSlots(dSae * topK);
    this.topFill = new Uint16Array(dSae);
    this.topFloor = hot.topFloor;
    this.reservoir = new IntervalReservoir(dSae, reservoirPerBucket, hot);
    this.kernel = hot.kernel;
  }

  get options(): Required<FeatureSummaryOptions> {
    return { dSae: this.dSae, topK: this.topK, reservoirPerBucket: this.reservoirPerBucket, histogram: { ...this.histogramSpec } };
  }

  get binLowerEdges(): number[] {
    return histogramLowerEdges(this.histogramSpec);
  }

  /** Bytes held by the summary's arrays (the memory-bound check). */
  get byteLength(): number {
    let labels = 0;
    for (const f of this.labelFiring.values()) labels += f.byteLength;
    return this.firing.byteLength + this.sum.byteLength + this.max.byteLength + this.histogram.byteLength
      + this.top.byteLength + this.topFill.byteLength + this.topFloor.byteLength + this.reservoir.byteLength + labels;
  }

  /**
   * Adds encoded rows: `acts` is [rows × d_sae] feature activations, row-major. Values that are
   * not > 0 (including NaN) count as not firing. When `acts` is the buffer of `scanner`
   * (FiringScanner.buffer, as in a summariser lane), its firings are found by the WebAssembly scan;
   * the summary is the same either way.
   */
  add(acts: ArrayLike<number>, rows: RowProvenance, scanner?: FiringScanner): void {
    const n = rows.doc.length;
    if (acts.length !== n * this.dSae) {
      throw new RangeError(`acts has ${acts.length} values but ${n} rows × d_sae ${this.dSae} need ${n * this.dSae}`);
    }
    if (scanner && acts instanceof Float32Array && scanner.holds(acts)) {
      scanner.restart();
      scanner.scan(this.dSae, 0, n);
      this.addScanned(scanner, rows);
      return;
    }
    const { dSae } = this;
    const { labels, rowKeys } = this.begin(rows, n);
    const firings = this.firingBuffer(n);
    // Float32 rows that start on 8-byte boundaries (even d_sae, aligned acts, as the encoder's are)
    // are also read as doubles, skipping zeros eight floats at a time (see scanFloat32Pairs).
    const pairs = acts instanceof Float32Array && dSae % 2 === 0 && acts.length > 0 && acts.byteOffset % 8 === 0
      ? new Float64Array(acts.buffer, acts.byteOffset, acts.length / 2) : undefined;
    for (let r = 0; r < n; r++) {
      if (firings.free < dSae) this.applyGathered(firings, rows, labels, rowKeys);
      if (pairs) firings.scanFloat32Pairs(acts, pairs, r * dSae, r, dSae);
      else firings.scanRow(acts, r * dSae, r, dSae);
    }
    this.applyGathered(firings, rows, labels, rowKeys);
  }

  /**
   * Adds rows whose firings `scanner` found: every record since its buffer() (or restart()), which
   * must cover rows 0 … n − 1 of `rows` at this summary's d_sae. A summariser lane encodes a batch
   * in several encoder calls and scans each call's rows as they come (FiringScanner); add() with a
   * scanner scans its whole call at once. The summary is the one add() gives without a scanner.
   */
  addScanned(scanner: FiringScanner, rows: RowProvenance): void {
    const n = rows.doc.length;
    const records = scanner.scanned();
    if (records.rows !== n) throw new RangeError(`rows.doc has ${n} entries, the scanner scanned ${records.rows} rows`);
    if (n > 0 && records.dSae !== this.dSae) throw new RangeError(`the scanner's rows have d_sae ${records.dSae}, the summary ${this.dSae}`);
    const { labels, rowKeys } = this.begin(rows, n);
    // Sorted by feature straight from the records, in row-major runs (each run's rows follow the
    // last's, so rows stay ascending per feature): by the WebAssembly kernel where it runs, else
    // in JavaScript, runs of at most the firing buffer's capacity.
    const { kernel } = this;
    if (kernel) {
      for (let k = 0; k < records.count;) {
        const to = kernel.runEnd(records, k);
        const { sorted, candidates } = kernel.run(records, k, to, rowKeys);
        this.countLabels(sorted, labels);
        this.offerCandidates(sorted, candidates, rows, rowKeys);
        k = to;
      }
      return;
    }
    const firings = this.firingBuffer(n);
    for (let k = 0; k < records.count;) {
      const to = Math.min(records.count, k + firings.capacity);
      this.applyFirings(firings.byFeatureOfRecords(records, k, to), rows, labels, rowKeys, firings.candidates);
      k = to;
    }
  }

  /**
   * Checks a call's rows and counts their tokens and labels; its label slots and row keys.
   * Firings are gathered row by row, then applied feature by feature (the kernel, applyFirings), so
   * a feature's counters, histogram row, top-k list and reservoir buckets stay in cache while its
   * firings are applied; row-major, every firing touched a different feature's state, and cache
   * misses cost more than the work. Each feature still sees its rows in ascending order and
   * features share no state, so the summary is exactly the one row-major order gives.
   */
  private begin(rows: RowProvenance, n: number): { labels: RowLabels; rowKeys: Uint32Array } {
    for (const name of ['context', 'position', 'token'] as const) {
      if (rows[name].length !== n) throw new RangeError(`rows.${name} has ${rows[name].length} entries, rows.doc has ${n}`);
    }
    if (rows.label && rows.label.length !== n) throw new RangeError(`rows.label has ${rows.label.length} entries, rows.doc has ${n}`);
    const labels = this.rowLabelsOf(rows.label, n);
    this.tokens += n;
    return { labels, rowKeys: this.rowKeysOf(rows, n) };
  }

  /** The JavaScript paths' firing buffer, with room for a call of n rows. */
  private firingBuffer(n: number): FiringBuffer {
    const firings = (this.firings ??= new FiringBuffer(this.dSae));
    firings.reserve(n);
    return firings;
  }

  /** Applies and empties the firings gathered by the JavaScript scan. */
  private applyGathered(firings: FiringBuffer, rows: RowProvenance, labels: RowLabels, rowKeys: Uint32Array): void {
    if (firings.size === 0) return;
    this.applyFirings(firings.byFeature(), rows, labels, rowKeys, firings.candidates);
    firings.clear();
  }

  /**
   * Each row's label as a slot of the call (rowLabels.slot) whose per-feature firing counts are
   * rowLabels.firing[slot]; adds the rows to their labels' token counts. Without labels every row
   * is slot 0 and there are no counts: applyFirings counts into slot 0 and drops it.
   */
  private rowLabelsOf(labels: readonly string[] | undefined, n: number): RowLabels {
    if (!labels) return { slot: new Uint8Array(n), firing: [] };
    // The call's distinct labels in order of first appearance, so each map gains a label in the
    // order its first row is reached. A call that would take the summary past MAX_SUMMARY_LABELS
    // (any call with more than 256) is refused, naming the first label beyond it, before anything
    // is counted.
    const ids = labelIdsOf(labels);
    const known = new Set(this.labelFiring.keys());
    for (const label of ids ? ids.names : labels) if (known.add(label).size > MAX_SUMMARY_LABELS) throw tooManyLabels(label);
    const { ids: slot, names } = ids!;
    const firing = names.map((name) => this.firingFor(name));
    const tokens = new Array<number>(names.length).fill(0);
    for (let r = 0; r < n; r++) tokens[slot[r]]++;
    names.forEach((name, k) => this.labelTokens.set(name, (this.labelTokens.get(name) ?? 0) + tokens[k]));
    return { slot, firing };
  }

  /** rowKey of each row: each token's identity is hashed once, and each firing's key mixes in its feature (featureKey). */
  private rowKeysOf(rows: RowProvenance, n: number): Uint32Array {
    if (!this.rowKeys || this.rowKeys.length < n) this.rowKeys = new Uint32Array(n);
    const keys = this.rowKeys;
    const { shard, doc, context, position } = rows;
    for (let r = 0; r < n; r++) keys[r] = rowKey(shard, doc[r], context[r], position[r]);
    return keys;
  }

  /**
   * Applies firings grouped by feature (FiringBuffer's sorts), rows ascending within each feature:
   * the JavaScript twin of the WebAssembly kernel (apply-kernel-wasm.ts), which the JavaScript scan
   * uses. Counts, sums, maxima and histograms first, collecting the firings that might enter a top-k
   * list or a reservoir into `pairs`; then the labels' counts and the offers.
   */
  private applyFirings(sorted: ByFeature, rows: RowProvenance, labels: RowLabels, rowKeys: Uint32Array, pairs: Int32Array): void {
    const { bins, firing, sum, max, histogram, topFloor, reservoir, binner } = this;
    const { start, row: fRow, act: fAct } = sorted;
    let candidates = 0;
    for (let i = 0; i < this.dSae; i++) {
      const end = start[i + 1];
      if (start[i] === end) continue;
      let count = firing[i];
      let total = sum[i];
      let most = max[i];
      const histBase = i * bins;
      const floor = topFloor[i];
      for (let e = start[i]; e < end; e++) {
        const a = fAct[e];
        count++;
        total += a;
        if (a > most) most = a;
        histogram[histBase + binner.bin(a)]++;
        // The candidate test of the kernel; offerCandidates asks again with the state of the moment.
        if (a >= floor || reservoir.wants(i, a, featureKey(rowKeys[fRow[e]], i))) {
          pairs[2 * candidates] = i;
          pairs[2 * candidates + 1] = e;
          candidates++;
        }
      }
      firing[i] = count;
      sum[i] = total;
      max[i] = most;
    }
    this.countLabels(sorted, labels);
    this.offerCandidates(sorted, { count: candidates, pairs }, rows, rowKeys);
  }

  /** Adds the sorted firings to their labels' per-feature counts (nothing without labels). */
  private countLabels(sorted: ByFeature, labels: RowLabels): void {
    const { slot: rowSlot, firing: slotFiring } = labels;
    if (slotFiring.length === 0) return;
    // A feature's firings per label slot are counted here and added to the label's counters once
    // per feature: a per-firing write to one of several label arrays cost more than the count.
    const slotCount = (this.slotCounts ??= new Float64Array(MAX_SUMMARY_LABELS));
    const { start, row } = sorted;
    for (let i = 0; i < this.dSae; i++) {
      const end = start[i + 1];
      if (start[i] === end) continue;
      for (let e = start[i]; e < end; e++) slotCount[rowSlot[row[e]]]++;
      for (let l = 0; l < slotFiring.length; l++) {
        slotFiring[l][i] += slotCount[l];
        slotCount[l] = 0;
      }
    }
  }

  /**
   * Offers each candidate firing, in order (by feature, rows ascending), to the top-k list and the
   * reservoir, asking each first on (act, key) with their current state: a candidate was found
   * with the state before the run's offers, which only admits more (apply-kernel-wasm.ts).
   */
  private offerCandidates(sorted: ByFeature, candidates: Candidates, rows: RowProvenance, rowKeys: Uint32Array): void {
    const { topFloor, reservoir } = this;
    const { shard, doc, context, position, token } = rows;
    const { row: fRow, act: fAct } = sorted;
    const { count, pairs } = candidates;
    // The top-k and reservoir offers are independent, so one candidate slot serves both.
    const candidate = (this.candidate ??= new ExampleSlots(1));
    for (let c = 0; c < count; c++) {
      const i = pairs[2 * c];
      const e = pairs[2 * c + 1];
      const r = fRow[e];
      const a = fAct[e];
      const key = featureKey(rowKeys[r], i);
      // Fast reject: once the list is full, anything weaker than its weakest entry cannot enter.
      const forTop = a >= topFloor[i];
      const forReservoir = reservoir.wants(i, a, key);
      if (!forTop && !forReservoir) continue;
      candidate.act[0] = a;
      candidate.shard[0] = shard;
      candidate.doc[0] = doc[r];
      candidate.context[0] = context[r];
      candidate.position[0] = position[r];
      candidate.token[0] = token[r];
      candidate.key[0] = key;
      if (forTop) this.offerTop(i, candidate, 0);
      if (forReservoir) reservoir.offer(i, candidate, 0);
    }
  }

  private offerTop(feature: number, from: ExampleSlots, j: number): void {
    const { topK, top } = this;
    const base = feature * topK;
    if (this.topFill[feature] === topK) {
      // Full list. strongestFirst ranks by activation first, so when exactly one slot holds the
      // weakest activation it is the slot offer() would find last-ranked, and a candidate whose
      // activation differs from it is decided by activation alone: stronger replaces it, weaker
      // is rejected. The new floor is the weaker of the candidate and the runner-up. Ties go to
      // offer() and the full order.
      const acts = top.act;
      const a = from.act[j];
      let worst = base;
      let weakest = acts[base];
      let second = Infinity;
      let ties = 0;
      for (let s = base + 1; s < base + topK; s++) {
        const v = acts[s];
        if (v < weakest) {
          second = weakest;
          weakest = v;
          worst = s;
          ties = 0;
        } else if (v === weakest) {
          ties++;
        } else if (v < second) {
          second = v;
        }
      }
      if (ties === 0 && a !== weakest) {
        if (a > weakest) {
          top.copy(worst, from, j);
          this.topFloor[feature] = Math.min(second, a);
        }
        return;
      }
    }
    const fill = (this.topFill[feature] = offer(this.top, base, this.topFill[feature], topK, from, j, strongestFirst));
    if (fill < topK) return;
    let floor = Infinity;
    for (let s = base; s < base + topK; s++) if (this.top.act[s] < floor) floor = this.top.act[s];
    this.topFloor[feature] = floor;
  }

  private firingFor(label: string): Float64Array {
    let firing = this.labelFiring.get(label);
    if (!firing) {
      // Each label costs 8 bytes per feature in every summary: a field with thousands of values
      // (a URL, a document id) would exhaust memory long before its genre table meant anything.
      if (this.labelFiring.size >= MAX_SUMMARY_LABELS) throw tooManyLabels(label);
      this.labelFiring.set(label, (firing = new Float64Array(this.dSae)));
    }
    return firing;
  }

  /** Adds `other` into this summary (in place); returns this. */
  mergeFrom(other: FeatureSummary): this {
    const same = JSON.stringify(this.options) === JSON.stringify(other.options);
    if (!same) throw new RangeError(`cannot merge summaries with different options: ${JSON.stringify(this.options)} vs ${JSON.stringify(other.options)}`);
    // Refused before anything is merged, so a failed merge leaves this summary as it was.
    const newLabels = [...other.labelTokens.keys()].filter((l) => !this.labelTokens.has(l));
    if (this.labelFiring.size + newLabels.length > MAX_SUMMARY_LABELS) throw tooManyLabels(newLabels[MAX_SUMMARY_LABELS - this.labelFiring.size]);
    const { dSae, bins, topK } = this;
    this.tokens += other.tokens;
    for (let i = 0; i < dSae; i++) {
      this.firing[i] += other.firing[i];
      this.sum[i] += other.sum[i];
      if (other.max[i] > this.max[i]) this.max[i] = other.max[i];
      for (let s = 0; s < other.topFill[i]; s++) this.offerTop(i, other.top, i * topK + s);
    }
    for (let cell = 0; cell < dSae * bins; cell++) this.histogram[cell] += other.histogram[cell];
    this.reservoir.mergeFrom(other.reservoir);
    for (const [label, tokens] of other.labelTokens) {
      const mine = this.firingFor(label);
      this.labelTokens.set(label, (this.labelTokens.get(label) ?? 0) + tokens);
      const theirs = other.labelFiring.get(label)!;
      for (let i = 0; i < dSae; i++) mine[i] += theirs[i];
    }
    return this;
  }

  clone(): FeatureSummary {
    return new FeatureSummary(this.options).mergeFrom(this);
  }

  /** Labels seen, sorted by name, with their token and per-feature firing counts. */
  labels(): LabelCounts[] {
    return [...this.labelTokens.keys()].sort().map((label) => ({
      label, tokens: this.labelTokens.get(label)!, firing: this.labelFiring.get(label)!,
    }));
  }

  topExamples(feature: number): ExampleRef[] {
    this.checkFeature(feature);
    const out: number[] = [];
    for (let s = 0; s < this.topFill[feature]; s++) out.push(feature * this.topK + s);
    out.sort((i, j) => strongestFirst(this.top, i, this.top, j));
    return out.map((i) => this.top.ref(i));
  }

  /**
   * The paper's interval examples: [0, max] cut into `intervals` equal intervals, up to
   * `perInterval` kept tokens in each (see the limits at the top of this file).
   */
  intervalExamples(feature: number, intervals = 11, perInterval = this.reservoirPerBucket): IntervalExamples[] {
    this.checkFeature(feature);
    if (!Number.isInteger(intervals) || intervals < 1) throw new RangeError(`intervals must be a positive integer, got ${intervals}`);
    const max = this.max[feature];
    const width = max / intervals;
    const groups: number[][] = Array.from({ length: intervals }, () => []);
    const kept = this.reservoir.examples;
    if (max > 0) {
      for (const slot of this.reservoir.samples(feature)) groups[Math.min(Math.floor(kept.act[slot] / width), intervals - 1)].push(slot);
    }
    return groups.map((slots, j) => {
      slots.sort((a, b) => lowestKeyFirst(kept, a, kept, b));
      const chosen = slots.slice(0, perInterval).map((s) => kept.ref(s));
      chosen.sort((a, b) => a.act - b.act);
      return { lo: j * width, hi: j === intervals - 1 ? max : (j + 1) * width, examples: chosen };
    });
  }

  view(feature: number, intervals = 11, perInterval = this.reservoirPerBucket): FeatureView {
    this.checkFeature(feature);
    const firingCount = this.firing[feature];
    return {
      feature,
      firingCount,
      density: this.tokens > 0 ? firingCount / this.tokens : 0,
      meanAct: firingCount > 0 ? this.sum[feature] / firingCount : 0,
      maxAct: this.max[feature],
      histogram: Array.from(this.histogram.subarray(feature * this.bins, (feature + 1) * this.bins)),
      top: this.topExamples(feature),
      intervals: this.intervalExamples(feature, intervals, perInterval),
    };
  }

  private checkFeature(feature: number): void {
    if (!Number.isInteger(feature) || feature < 0 || feature >= this.dSae) {
      throw new RangeError(`feature ${feature} is outside [0, ${this.dSae})`);
    }
  }
}

/** A new summary equal to a followed by b; neither input changes. Associative and commutative. */
export function mergeSummaries(a: FeatureSummary, b: FeatureSummary): FeatureSummary {
  return a.clone().mergeFrom(b);
}

/**
 * Feature activations [rows × d_sae] of `values` [rows × d_in] by the plain-loop reference
 * forward pass — for tests and small inputs; the stage runs the ONNX encoder model instead.
 */
export function encodeRows(weights: SaeWeights, values: Float32Array, arch: SaeArch = 'l1', k = 1): Float32Array {
  const fw = referenceForward(weights, values, { arch, k, l1Coefficient: 0, kAux: 1, auxKCoefficient: 0 });
  return Float32Array.from(fw.f);
}

/** The labels of one add() call: row r's label is slot[r], whose per-feature firing counts are firing[slot[r]]. */
interface RowLabels {
  slot: Uint8Array;
  firing: Float64Array[];
}

/** Most firings add() sorts at once: a 4,096-row batch at L0 64 (36 bytes each with its candidate pair, 9 MiB). */
const FIRING_BUFFER_MAX = 1 << 18;

/**
 * Firings of consecutive rows in row-major order, and their stable counting sort by feature. The
 * JavaScript scan gathers (row, feature) pairs and activations here; the WebAssembly scan's
 * records are sorted straight from its memory. Capacity max(d_sae, min(rows × d_sae,
 * FIRING_BUFFER_MAX)) for the largest add() so far, so bounded; add() sorts and applies whenever
 * the next row might not fit.
 */
class FiringBuffer {
  size = 0;
  /** (row, feature) of each gathered firing, interleaved. */
  private rowFeature: Int32Array;
  private act: Float64Array;
  private sortedRow: Int32Array;
  private sortedAct: Float64Array;
  /** applyFirings' candidates: (feature, index into the sorted firings) pairs. */
  candidates: Int32Array;
  private readonly start: Int32Array;

  constructor(private readonly dSae: number) {
    this.start = new Int32Array(dSae + 1);
    [this.rowFeature, this.act, this.sortedRow, this.sortedAct, this.candidates] = FiringBuffer.arrays(0);
  }

  private static capacityFor(dSae: number, rows: number): number {
    return Math.max(dSae, Math.min(rows * dSae, FIRING_BUFFER_MAX));
  }

  private static arrays(capacity: number): [Int32Array, Float64Array, Int32Array, Float64Array, Int32Array] {
    return [new Int32Array(2 * capacity), new Float64Array(capacity), new Int32Array(capacity), new Float64Array(capacity), new Int32Array(2 * capacity)];
  }

  get capacity(): number {
    return this.act.length;
  }

  get free(): number {
    return this.act.length - this.size;
  }

  /** Makes room for a call of `rows` rows (empty buffers only): a small first add() does not cut later large ones into many flushes. */
  reserve(rows: number): void {
    const capacity = FiringBuffer.capacityFor(this.dSae, rows);
    if (this.size === 0 && capacity > this.act.length) {
      [this.rowFeature, this.act, this.sortedRow, this.sortedAct, this.candidates] = FiringBuffer.arrays(capacity);
    }
  }

  /** Appends the firings (act > 0; NaN is not one) of acts[base, base + dSae) as row `r`. */
  scanRow(acts: ArrayLike<number>, base: number, r: number, dSae: number): void {
    this.scanRange(acts, base, 0, dSae, r);
  }

  /**
   * scanRow for float32 activations whose row starts at an even index of an 8-byte-aligned
   * buffer, `pairs` being a Float64Array over the same bytes: eight floats per step through four
   * doubles, skipping the step when all four are == 0. A double is == 0 only for the bit patterns
   * +0 and −0, i.e. both of its floats' bits zero, or one float's bits zero and the other −0.0
   * (whichever word holds the sign): either way neither float is > 0, so no firing is skipped; a
   * NaN or subnormal double is not == 0 and falls to the per-value check. Any step that is not
   * skipped, and the last d_sae mod 8 values, are checked value by value as in scanRow, so the
   * firings are the same, in the same order. (Summariser lanes use the WebAssembly scan instead.)
   */
  scanFloat32Pairs(acts: ArrayLike<number>, pairs: Float64Array, base: number, r: number, dSae: number): void {
    const whole = dSae - (dSae % 8);
    let q = base / 2;
    for (let i = 0; i < whole; i += 8, q += 4) {
      if (pairs[q] === 0 && pairs[q + 1] === 0 && pairs[q + 2] === 0 && pairs[q + 3] === 0) continue;
      this.scanRange(acts, base, i, i + 8, r);
    }
    this.scanRange(acts, base, whole, dSae, r);
  }

  /** Appends row `r`'s firings among features [from, to), value by value. */
  private scanRange(acts: ArrayLike<number>, base: number, from: number, to: number, r: number): void {
    const { rowFeature, act } = this;
    let k = this.size;
    for (let j = from; j < to; j++) {
      const a = acts[base + j];
      if (!(a > 0)) continue;
      rowFeature[2 * k] = r;
      rowFeature[2 * k + 1] = j;
      act[k] = a;
      k++;
    }
    this.size = k;
  }

  /** The gathered firings by feature (valid until the next sort). */
  byFeature(): ByFeature {
    return this.sort(this.rowFeature, 2, this.act, 1, 0, 0, this.size);
  }

  /**
   * FiringScanner.scan's records [from, to) by feature (valid until the next sort); at most
   * `capacity` of them. Each record is (row i32, feature i32, act f32), FIRING_RECORD_BYTES.
   */
  byFeatureOfRecords(records: FiringRecords, from: number, to: number): ByFeature {
    if (to - from > this.capacity) throw new RangeError(`${to - from} records exceed the firing buffer's ${this.capacity}`);
    return this.sort(records.ints, 3, records.floats, 3, 2, from, to);
  }

  /**
   * Stable counting sort by feature of firings [from, to): firing k's row is ints[k·stride], its
   * feature ints[k·stride + 1], its activation acts[k·actStride + actOffset].
   */
  private sort(ints: Int32Array, stride: number, acts: Float64Array | Float32Array, actStride: number, actOffset: number, from: number, to: number): ByFeature {
    const { start, sortedRow, sortedAct, dSae } = this;
    start.fill(0);
    for (let k = from; k < to; k++) start[ints[k * stride + 1] + 1]++;
    for (let i = 0; i < dSae; i++) start[i + 1] += start[i];
    // Scatter in row-major order: stable, so rows stay ascending within a feature. start[i] is
    // used as feature i's write cursor and restored afterwards.
    for (let k = from; k < to; k++) {
      const at = start[ints[k * stride + 1]]++;
      sortedRow[at] = ints[k * stride];
      sortedAct[at] = acts[k * actStride + actOffset];
    }
    for (let i = dSae; i > 0; i--) start[i] = start[i - 1];
    start[0] = 0;
    return { start, row: sortedRow, act: sortedAct };
  }

  clear(): void {
    this.size = 0;
  }
}
