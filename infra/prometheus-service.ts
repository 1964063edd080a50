// A local Prometheus for watching runs live: it scrapes the workers' metrics, their Temporal SDK
// metrics and the Temporal dev server, and evaluates infra/prometheus/alerts.yml. Started only
// when asked (`thresher dev up --prometheus`, the demo when the binary is there, tests), detached
// like the other local services, with its config, pid, log and TSDB under the stack's dataDir.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPidAlive, isPortOpen, log, readLivePid, removeFile, spawnDetached, stopProcess, tailFile, waitUntil } from './processes.js';
import { resolvePrometheusBinaries } from './prometheus-binaries.js';

const HOST = '127.0.0.1';
export const DEFAULT_PROMETHEUS_PORT = 9090;

/** The alert rules shipped with the repository (dist/infra/ → ../../infra/prometheus/). */
export const ALERT_RULES_FILE = fileURLToPath(new URL('../../infra/prometheus/alerts.yml', import.meta.url));

/** Job names; the alert rules and the dashboard refer to them. */
export const SCRAPE_JOBS = {
  workers: 'thresher-workers',
  temporalSdk: 'thresher-temporal-sdk',
  temporalServer: 'temporal-server',
} as const;

export interface ScrapeTargets {
  /** host:port of worker app metrics (THRESHER_METRICS_ADDRESS). */
  workers: string[];
  /** host:port of worker Temporal SDK metrics (THRESHER_TEMPORAL_METRICS_ADDRESS). */
  temporalSdk: string[];
  /** host:port of the Temporal server's /metrics (dev server: --metrics-port). */
  temporalServer: string[];
}

export interface PrometheusOptions {
  /** The local stack's dataDir; Prometheus keeps prometheus.yml, .pid, .log and prometheus/ (TSDB) there. */
  dataDir: string;
  /** Web UI and HTTP API port on 127.0.0.1. Default 9090. */
  port?: number;
  targets: ScrapeTargets;
  /** Seconds between scrapes. Default 5: a local run is short and meant to be watched. */
  scrapeIntervalSeconds?: number;
  /** Rule files to evaluate. Default [ALERT_RULES_FILE] when it exists. */
  ruleFiles?: string[];
  /** Install the Debian package when the binary is missing (root + apt only). Default true. */
  install?: boolean;
  readyTimeoutMs?: number;
  stopGraceMs?: number;
}

export interface RunningPrometheus {
  /** http://127.0.0.1:port — UI, and the HTTP API under /api/v1. */
  url: string;
  pid: number;
  /** An instance this dataDir had started already; its config was rewritten and reloaded. */
  reused: boolean;
  configFile: string;
}

const files = (dataDir: string) => ({
  config: path.join(dataDir, 'prometheus.yml'),
  pid: path.join(dataDir, 'prometheus.pid'),
  log: path.join(dataDir, 'prometheus.log'),
  tsdb: path.join(dataDir, 'prometheus'),
});

/** Marker in /proc/<pid>/cmdline proving a pid is this dataDir's Prometheus. */
const markerOf = (dataDir: string) => `--storage.tsdb.path=${files(dataDir).tsdb}\0`;

/** A scrape configuration in the same shape as infra/prometheus/prometheus.yml, for given targets. */
export function scrapeConfig(targets: ScrapeTargets, opts: { scrapeIntervalSeconds?: number; ruleFiles?: string[] } = {}): string {
  const interval = `${opts.scrapeIntervalSeconds ?? 5}s`;
  const job = (name: string, addrs: string[]) =>
    addrs.length === 0 ? '' : `  - job_name: ${name}\n    static_configs:\n      - targets: [${addrs.map((a) => JSON.stringify(a)).join(', ')}]\n`;
  return (
    `# Written by thresher (infra/prometheus-service.ts); rewritten on every start.\n` +
    `global:\n  scrape_interval: ${interval}\n  evaluation_interval: ${interval}\n` +
    (opts.ruleFiles?.length ? `rule_files:\n${opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}\n`).join('')}` : '') +
    `scrape_configs:\n` +
    job(SCRAPE_JOBS.workers, targets.workers) +
    job(SCRAPE_JOBS.temporalSdk, targets.temporalSdk) +
    job(SCRAPE_JOBS.temporalServer, targets.temporalServer) +
    `  - job_name: prometheus\n    static_configs:\n      - targets: ["${HOST}:PORT"]\n`
  );
}

/**
 * Starts this dataDir's Prometheus, or reloads it with the new targets if it already runs, and
 * waits until it answers /-/ready.
 */
export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const port = opts.port ?? DEFAULT_PROMETHEUS_PORT;
  const f = files(opts.dataDir);
  const url = `http://${HOST}:${port}`;
  await mkdir(f.tsdb, { recursive: true });
  const ruleFiles = opts.ruleFiles ?? (existsSync(ALERT_RULES_FILE) ? [ALERT_RULES_FILE] : []);
  await writeFile(f.config, scrapeConfig(opts.targets, { scrapeIntervalSeconds: opts.scrapeIntervalSeconds, ruleFiles }).replace('PORT', String(port)));

  const running = await readLivePid(f.pid, markerOf(opts.dataDir));
  if (running !== null) {
    // SIGHUP makes Prometheus re-read its config: new worker addresses without losing history.
    process.kill(running, 'SIGHUP');
    await waitReady(url, opts.readyTimeoutMs ?? 30_000, () => (isPidAlive(running) ? null : 'process exited'));
    log('info', 'prometheus reloaded', { pid: running, url, config: f.config });
    return { url, pid: running, reused: true, configFile: f.config };
  }
  if (await isPortOpen(HOST, port)) throw new Error(`cannot start Prometheus: ${HOST}:${port} is taken by another process; choose another port`);

  const bin = await resolvePrometheusBinaries({ install: opts.install ?? true });
  const child = await spawnDetached({
    command: bin.prometheus,
    args: [
      `--config.file=${f.config}`,
      `--storage.tsdb.path=${f.tsdb}`,
      `--web.listen-address=${HOST}:${port}`,
      '--storage.tsdb.retention.time=15d',
    ],
    cwd: opts.dataDir,
    logFile: f.log,
    pidFile: f.pid,
  });
  log('info', 'service starting', { service: 'prometheus', pid: child.pid, address: `${HOST}:${port}`, log: f.log });
  try {
    await waitReady(url, opts.readyTimeoutMs ?? 30_000, () => {
      const exit = child.exited();
      return exit ? `process exited (${exit}) before becoming ready` : null;
    });
  } catch (err) {
    await stopProcess(child.pid, 2_000);
    await removeFile(f.pid);
    const tail = await tailFile(f.log);
    throw new Error(`${(err as Error).message}\nSee ${f.log}${tail ? `; last lines:\n${tail}` : ''}`);
  }
  log('info', 'service ready', { service: 'prometheus', pid: child.pid, url });
  return { url, pid: child.pid, reused: false, configFile: f.config };
}

async function waitReady(url: string, timeoutMs: number, exited: () => string | null): Promise<void> {
  await waitUntil({
    what: `prometheus at ${url}`,
    timeoutMs,
    abortReason: exited,
    probe: async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok,
  });
}

/** Stops this dataDir's Prometheus, if it runs. Its TSDB stays. */
export async function stopPrometheus(dataDir: string, graceMs = 15_000): Promise<'terminated' | 'killed' | 'not-running'> {
  const f = files(dataDir);
  const pid = await readLivePid(f.pid, markerOf(dataDir));
  const outcome = pid === null ? 'not-running' : await stopProcess(pid, graceMs);
  await removeFile(f.pid);
  if (pid !== null) log(outcome === 'killed' ? 'warn' : 'info', 'service stopped', { service: 'prometheus', pid, outcome });
  return outcome;
}

/** Pid of this dataDir's Prometheus, or null when it does not run. */
export function prometheusPid(dataDir: string): Promise<number | null> {
  return readLivePid(files(dataDir).pid, markerOf(dataDir));
}
