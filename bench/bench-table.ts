// Small helpers the benches share: a plain-text table printer and a few statistics.

/** Prints `title`, a header row, a rule and the rows; the first column is left-aligned, the rest right-aligned. */
export function printTable(title: string, head: string[], rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  console.log(`\n${title}`);
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) console.log(fmt(r));
}

/** Median (the upper one for an even count), as the other benches report. */
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

/** Integer with thousands separators. */
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Fixed decimals. */
export const fixed = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : String(n));

export const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** "ok" / "MISSED" against a target, with the comparison spelt out. */
export function verdict(value: number, target: number, better: 'higher' | 'lower'): string {
  const ok = better === 'higher' ? value >= target : value < target;
  return `${ok ? 'ok' : 'MISSED'} (${better === 'higher' ? '>=' : '<'} ${target})`;
}

/** Comma-separated numbers from a flag value. */
export function numberList(value: string, flag: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  if (!out.length || out.some((n) => !Number.isFinite(n) || n <= 0)) throw new Error(`--${flag}: expected positive numbers separated by commas, got "${value}"`);
  return out;
}

/** A positive integer flag, or its default. */
export function intFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: expected a positive integer, got "${value}"`);
  return n;
}
