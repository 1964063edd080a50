// Token-level agreement between features and ground-truth labels (the demo corpus' genres): for
// each label, the feature that best detects it.
//
// For feature i and label L, over labelled tokens only:
//   precision = firing tokens with label L / firing tokens (with any label)
//   recall    = firing tokens with label L / tokens with label L
// The best feature is the one with the highest F1 (harmonic mean of the two): precision alone
// rewards a feature that fires once, recall alone one that fires everywhere; F1 needs both.
// Ties go to the lower feature id. Tokens without a label are not counted, so a summary of parts
// that lack labels gives no rows.
import type { FeatureSummary, LabelCounts } from './feature-summary.js';

export interface GenreScore {
  label: string;
  /** Tokens carrying the label. */
  tokens: number;
  /** Best feature by F1; null when no feature fired on this label. */
  feature: number | null;
  precision: number;
  recall: number;
  f1: number;
  /** Firing tokens of the best feature, with this label / with any label. */
  firingWithLabel: number;
  firingLabelled: number;
  /**
   * The best feature (by F1) among those at the ground-truth bar, GENRE_TARGET; null when none is.
   * It can differ from the best-F1 feature, which may trade precision for recall.
   */
  atTarget: { feature: number; precision: number; recall: number } | null;
}

/** genres.json of a dictionary's statistics (written by finalizeStats, read by the report and the demo). */
export interface GenresFile {
  runId: string;
  trainingId: string;
  tokens: number;
  labels: { label: string; tokens: number }[];
  genres: GenreScore[];
  /** Why there is no table (the parts carry no labels). */
  note?: string;
}

/** The demo's ground-truth bar (issue #4): a feature with precision ≥ 0.9 and recall ≥ 0.5. */
export const GENRE_TARGET = { precision: 0.9, recall: 0.5 } as const;

/** One row per label, sorted by label. */
export function genreScores(summary: Pick<FeatureSummary, 'dSae' | 'labels'>): GenreScore[] {
  return genreScoresFromCounts(summary.dSae, summary.labels());
}

export function genreScoresFromCounts(dSae: number, labels: LabelCounts[]): GenreScore[] {
  // Denominator of precision: each feature's firing count over labelled tokens.
  const firingLabelled = new Float64Array(dSae);
  for (const l of labels) for (let i = 0; i < dSae; i++) firingLabelled[i] += l.firing[i];
  return labels.map((l) => {
    const row: GenreScore = { label: l.label, tokens: l.tokens, feature: null, precision: 0, recall: 0, f1: 0, firingWithLabel: 0, firingLabelled: 0, atTarget: null };
    let targetF1 = 0;
    for (let i = 0; i < dSae; i++) {
      const hit = l.firing[i];
      if (hit === 0) continue;
      const precision = hit / firingLabelled[i];
      const recall = hit / l.tokens;
      const f1 = (2 * precision * recall) / (precision + recall);
      if (f1 > row.f1) Object.assign(row, { feature: i, precision, recall, f1, firingWithLabel: hit, firingLabelled: firingLabelled[i] });
      if (precision >= GENRE_TARGET.precision && recall >= GENRE_TARGET.recall && f1 > targetF1) {
        targetF1 = f1;
        row.atTarget = { feature: i, precision, recall };
      }
    }
    return row;
  });
}

