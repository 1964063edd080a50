// Row labels as one byte per row into their distinct names. They cross to a summariser lane in
// this form: a structured clone of the label strings themselves made a new string per row in the
// lane, which its garbage collector then paid for; the names are few (a summary counts at most
// MAX_SUMMARY_LABELS), so the lane gets them once per batch and rebuilds the row array from them.
// FeatureSummary.add counts each row's label by its id in the same form.
import type { LaneProvenance } from './summariser-pool.js';

/**
 * Row labels as one byte per row and the distinct names, in order of first appearance; undefined
 * for more than 256 distinct labels (far beyond MAX_SUMMARY_LABELS, which a summary refuses anyway).
 */
export function labelIdsOf(labels: readonly string[]): { ids: Uint8Array; names: string[] } | undefined {
  const ids = new Uint8Array(labels.length);
  const names: string[] = [];
  const index = new Map<string, number>();
  let last: string | undefined;
  let id = 0;
  for (let r = 0; r < labels.length; r++) {
    const label = labels[r];
    // Labels come in runs (a document's tokens share its genre): one Map lookup per run.
    if (r === 0 || label !== last) {
      let known = index.get(label);
      if (known === undefined) {
        if (names.length === 256) return undefined;
        index.set(label, (known = names.length));
        names.push(label);
      }
      id = known;
      last = label;
    }
    ids[r] = id;
  }
  return { ids, names };
}

/** The labels of a batch a lane received, as FeatureSummary.add takes them: each row's label is one of the names' strings. */
export function laneLabels(p: LaneProvenance): string[] | undefined {
  const { labelIds, labelNames } = p;
  if (!labelIds || !labelNames) return undefined;
  const out = new Array<string>(labelIds.length);
  for (let r = 0; r < labelIds.length; r++) out[r] = labelNames[labelIds[r]];
  return out;
}
