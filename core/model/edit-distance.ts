// Case-insensitive Levenshtein distance, for "did you mean" suggestions on hook names.

export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  // Single-row dynamic programme: prev[j] is the distance between a[0..i) and b[0..j).
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(sub, prev[j] + 1, row[j - 1] + 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** The `k` candidates nearest to `name`, nearest first (ties in name order). */
export function closest(name: string, candidates: string[], k: number): string[] {
  return candidates
    .map((c) => ({ c, d: editDistance(name, c) }))
    .sort((x, y) => x.d - y.d || (x.c < y.c ? -1 : x.c > y.c ? 1 : 0))
    .slice(0, k)
    .map((x) => x.c);
}
