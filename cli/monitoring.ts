// Monitoring wiring shared by `thresher worker` and `thresher demo`: the worker metrics registry and
// its HTTP endpoint, and the scrape targets a local Prometheus should use for them.
import type { Logger } from '../core/logging.js';
import { formatAddress, metricsAddressFromEnv, parseListenAddress, startMetricsServer, type ListenAddress, type MetricsServer } from '../workers/metrics-server.js';
import { DEFAULT_TEMPORAL_METRICS_ADDRESS } from '../workers/runtime.js';
import { createWorkerMetrics, type WorkerMetrics } from '../workers/worker-metrics.js';

export interface WorkerMonitoring {
  metrics: WorkerMetrics;
  /** Absent when THRESHER_METRICS_ADDRESS is "off", or (demo) when the port was taken. */
  server?: MetricsServer;
  close(): Promise<void>;
}

/**
 * Creates the process's metrics and serves them on THRESHER_METRICS_ADDRESS. A worker treats a
 * port it cannot bind as an error (`required`); the demo logs it and carries on without.
 */
export async function startWorkerMonitoring(log: Logger, opts: { required: boolean; env?: NodeJS.ProcessEnv }): Promise<WorkerMonitoring> {
  const metrics = createWorkerMetrics();
  const at = metricsAddressFromEnv(opts.env);
  let server: MetricsServer | undefined;
  if (at) {
    try {
      server = await startMetricsServer(metrics.registry, at);
      log.info('metrics serving', { url: server.url });
    } catch (err) {
      if (opts.required) throw err;
      log.warn('metrics not served', { reason: (err as Error).message });
    }
  } else {
    log.info('metrics not served: THRESHER_METRICS_ADDRESS is off');
  }
  return { metrics, server, close: async () => server?.close() };
}

/** Where a Prometheus on this machine reaches a listener: a wildcard bind is scraped on loopback. */
function scrapeAddress(a: ListenAddress): string {
  const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
  return formatAddress({ host, port: a.port });
}

/** Scrape targets of the worker endpoints this machine's workers use by default (or as configured). */
export function localWorkerTargets(env: NodeJS.ProcessEnv = process.env): { workerTargets: string[]; temporalSdkTargets: string[] } {
  const app = metricsAddressFromEnv(env);
  const sdk = parseListenAddress(env.THRESHER_TEMPORAL_METRICS_ADDRESS || DEFAULT_TEMPORAL_METRICS_ADDRESS, 'THRESHER_TEMPORAL_METRICS_ADDRESS');
  return { workerTargets: app ? [scrapeAddress(app)] : [], temporalSdkTargets: sdk ? [scrapeAddress(sdk)] : [] };
}
