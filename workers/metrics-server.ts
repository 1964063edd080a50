// The worker's Prometheus endpoint: GET /metrics serves one registry. It binds loopback by
// default, because metrics name runs and buckets; set THRESHER_METRICS_ADDRESS=0.0.0.0:9464 (or
// a private interface) for a Prometheus on another machine.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError } from '../core/config/run-config.js';

export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * `host:port` or `[v6]:port` → address; `off` (or `none`, `false`) → undefined, meaning disabled.
 * Port 0 asks the OS for a free port (tests).
 */
export function parseListenAddress(value: string, what: string): ListenAddress | undefined {
  const v = value.trim();
  if (['off', 'none', 'false', 'disabled'].includes(v.toLowerCase())) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v);
  const port = Number(m?.[3]);
  if (!m || port > 65_535) throw new ConfigError(`${what}=${value} must be host:port (e.g. 127.0.0.1:9464, [::1]:9464) or "off"`);
  return { host: m[1] ?? m[2], port };
}

/** Where the worker's app metrics listen: THRESHER_METRICS_ADDRESS, default 127.0.0.1:9464. */
export function metricsAddressFromEnv(env: NodeJS.ProcessEnv = process.env): ListenAddress | undefined {
  return parseListenAddress(env.THRESHER_METRICS_ADDRESS || DEFAULT_METRICS_ADDRESS, 'THRESHER_METRICS_ADDRESS');
}

export const formatAddress = (a: ListenAddress): string => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export interface MetricsServer {
  /** The bound host:port (the real port when 0 was asked for). */
  address: string;
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(registry: Registry, at: ListenAddress): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${err.message}\n`),
      );
    } else if (path === '/' || path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('thresher worker: metrics at /metrics\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
    }
  });
  // A scrape must not keep a stopping worker alive.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use (another worker on this machine?)' : err.message;
      reject(new ConfigError(`metrics server cannot listen on ${formatAddress(at)}: ${why}; set THRESHER_METRICS_ADDRESS to another host:port, or "off"`));
    });
    server.listen({ host: at.host, port: at.port, exclusive: true }, resolve);
  });
  server.unref();
  const bound = server.address() as AddressInfo;
  const address = formatAddress({ host: at.host, port: bound.port });
  return {
    address,
    url: `http://${address}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
