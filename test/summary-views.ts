// Everything a FeatureSummary says, as plain data, for tests that compare summaries built in
// different ways (merged vs one pass, decoded vs original). Summaries that agree here can still
// differ in their bytes: a merge may leave the interval samples in other slots. Not a test file.
import type { FeatureSummary } from '../core/stats/feature-summary.js';

export function summaryViews(s: FeatureSummary): unknown {
  return {
    options: s.options,
    tokens: s.tokens,
    labels: s.labels().map((l) => ({ ...l, firing: Array.from(l.firing) })),
    features: Array.from({ length: s.dSae }, (_, i) => s.view(i)),
  };
}
