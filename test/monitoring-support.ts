// Shared by the monitoring tests: every metric family the code defines, the infra files, the
// expressions the dashboard and the alerts use, and Prometheus binaries (or why there are none).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import { trainingRecorder } from '../core/metrics/training-stage-metrics.js';
import { PrometheusNotFoundError, resolvePrometheusBinaries, type PrometheusBinaries } from '../infra/prometheus-binaries.js';
import { createWorkerMetrics } from '../workers/worker-metrics.js';
import { REPO_ROOT } from './test-support.js';

export const PROMETHEUS_DIR = path.join(REPO_ROOT, 'infra/prometheus');
export const GRAFANA_DIR = path.join(REPO_ROOT, 'infra/grafana');
export const DASHBOARD_FILE = path.join(GRAFANA_DIR, 'dashboards/thresher.json');

export interface MetricFamily {
  name: string;
  help: string;
  type: string;
  labelNames: string[];
}

/** Every Thresher metric family: a worker's registry with every stage's recorder on it. */
export async function allMetricFamilies(): Promise<MetricFamily[]> {
  const { registry } = createWorkerMetrics({ processMetrics: false });
  trainingRecorder(registry);
  return allFamiliesOf(registry);
}

export async function allFamiliesOf(registry: Registry): Promise<MetricFamily[]> {
  const json = await registry.getMetricsAsJSON();
  return registry.getMetricsAsArray().map((m, i) => ({
    name: m.name,
    help: m.help,
    type: String(json[i].type),
    labelNames: [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])],
  }));
}

/** Names of series a family exposes (histograms: _bucket, _sum, _count). */
export function seriesNames(f: MetricFamily): string[] {
  return f.type === 'histogram' ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name];
}

/** Metric names an expression mentions: identifiers followed by `{`, `[`, `)` or an operator, minus PromQL words. */
export function metricNamesIn(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const words = new Set<string>();
  for (const m of noStrings.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) words.add(m[1]);
  // Label names inside by/on/without (...) and {...} selectors are not metrics.
  const labels = new Set<string>();
  for (const m of noStrings.matchAll(/\b(?:by|on|without|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) for (const l of m[1].split(',')) labels.add(l.trim());
  for (const m of noStrings.matchAll(/\{([^}]*)\}/g)) for (const l of m[1].matchAll(/([a-zA-Z_]\w*)\s*[=!~]/g)) labels.add(l[1]);
  const keywords = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'by', 'on', 'without', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'le', 'inf', 'nan']);
  return [...words].filter((w) => !keywords.has(w.toLowerCase()) && !labels.has(w));
}

export interface DashboardPanel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

export async function loadDashboard(): Promise<{ uid: string; panels: DashboardPanel[]; templating: { list: { name: string; query?: unknown; definition?: string }[] } }> {
  return JSON.parse(await readFile(DASHBOARD_FILE, 'utf8'));
}

/** Every `expr:` of the alert rules (block scalars included), read without a YAML library. */
export async function alertExprs(): Promise<{ alert: string; expr: string }[]> {
  const lines = (await readFile(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')).split('\n');
  const out: { alert: string; expr: string }[] = [];
  let alert = '';
  for (let i = 0; i < lines.length; i++) {
    const a = /^\s*- alert:\s*(\S+)/.exec(lines[i]);
    if (a) alert = a[1];
    const e = /^(\s*)expr:\s*(.*)$/.exec(lines[i]);
    if (!e) continue;
    if (e[2].trim() !== '|') {
      out.push({ alert, expr: e[2] });
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > e[1].length)) body.push(lines[++i]);
    out.push({ alert, expr: body.join('\n') });
  }
  return out;
}

/** prometheus and promtool, installing the Debian package if this machine allows; else why not. */
export async function prometheusOrReason(): Promise<PrometheusBinaries | string> {
  try {
    return await resolvePrometheusBinaries({ install: true });
  } catch (err) {
    if (err instanceof PrometheusNotFoundError) return err.message;
    throw err;
  }
}
