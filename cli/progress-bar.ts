import type { HarvestProgress } from '../workflows/harvest-types.js';

const WIDTH = 30;

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** One line: bar, shards, tokens/s, ETA, failures. Rates count only work done since this (re)start. */
export function progressLine(p: HarvestProgress, now = Date.now()): string {
  const { total, done, failed, running } = p.shards;
  const finished = done + failed;
  const frac = total ? finished / total : 0;
  const filled = Math.round(frac * WIDTH);
  const elapsed = Math.max(0.001, (now - p.startedAt) / 1000);
  const fresh = done - p.shards.skipped;
  const eta = fresh > 0 ? ((total - finished) * elapsed) / fresh : Infinity;
  return (
    `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${finished}/${total} shards` +
    ` | ${running} running | ${failed} failed | ${p.tokens.toLocaleString('en-US')} tokens` +
    ` | ${Math.round((p.tokens - (p.skippedTokens ?? 0)) / elapsed).toLocaleString('en-US')} tok/s | ${formatBytes(p.bytes)}` +
    ` | ETA ${finished >= total ? '0s' : formatDuration(eta)}${p.paused ? ' | PAUSED' : ''} | ${p.phase}`
  );
}

/** Redraws one terminal line in place; prints nothing when stdout is not a terminal. */
export class ProgressBar {
  private readonly tty = Boolean(process.stdout.isTTY);
  update(p: HarvestProgress): void {
    if (this.tty) process.stdout.write(`\r\x1b[2K${progressLine(p)}`);
  }
  done(): void {
    if (this.tty) process.stdout.write('\n');
  }
}
