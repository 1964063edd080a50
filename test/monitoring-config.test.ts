// The monitoring files in infra/: promtool accepts the scrape configuration (the shipped one and
// the one the local stack writes) and the alert rules, the rules' unit tests pass, and the
// dashboard and the alerts only use metric names the code defines.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { PrometheusBinaries } from '../infra/prometheus-binaries.js';
import { ALERT_RULES_FILE, SCRAPE_JOBS, scrapeConfig } from '../infra/prometheus-service.js';
import { alertExprs, allMetricFamilies, DASHBOARD_FILE, GRAFANA_DIR, loadDashboard, metricNamesIn, PROMETHEUS_DIR, prometheusOrReason, seriesNames } from './monitoring-support.js';

const execFileAsync = promisify(execFile);

let bins: PrometheusBinaries | undefined;
let skipReason: string | undefined;
let tmp: string;

before(async () => {
  const found = await prometheusOrReason();
  if (typeof found === 'string') {
    skipReason = `promtool unavailable, skipping its checks: ${found}`;
    console.log(skipReason);
  } else bins = found;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'thresher-monitoring-config-'));
}, { timeout: 660_000 });

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function promtool(args: string[], cwd = PROMETHEUS_DIR): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(bins!.promtool, args, { cwd, timeout: 60_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

test('promtool check config: infra/prometheus/prometheus.yml (with its rule file)', async (t) => {
  if (!bins) return t.skip(skipReason);
  const out = await promtool(['check', 'config', 'prometheus.yml']);
  assert.match(out, /SUCCESS/);
  assert.match(out, /alerts\.yml/);
});

test('promtool check rules and test rules: infra/prometheus/alerts.yml', async (t) => {
  if (!bins) return t.skip(skipReason);
  assert.match(await promtool(['check', 'rules', 'alerts.yml']), /SUCCESS: 6 rules found/);
  assert.match(await promtool(['test', 'rules', 'alerts.test.yml']), /SUCCESS/);
});

test('the scrape configuration the local stack writes passes promtool too', async (t) => {
  if (!bins) return t.skip(skipReason);
  const file = path.join(tmp, 'prometheus.yml');
  const text = scrapeConfig(
    { workers: ['127.0.0.1:9464', '[::1]:9474'], temporalSdk: ['127.0.0.1:9465'], temporalServer: ['127.0.0.1:8234'] },
    { scrapeIntervalSeconds: 2, ruleFiles: [ALERT_RULES_FILE] },
  ).replace('PORT', '9090');
  await writeFile(file, text);
  assert.match(await promtool(['check', 'config', file], tmp), /SUCCESS/);
  for (const job of Object.values(SCRAPE_JOBS)) assert.match(text, new RegExp(`job_name: ${job}\\n`));
});

test('the shipped scrape configuration uses the job names the alerts and the dashboard rely on', async () => {
  const text = await readFile(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
  for (const job of Object.values(SCRAPE_JOBS)) assert.match(text, new RegExp(`job_name: ${job}\\n`));
});

test('dashboard: valid JSON, every panel has queries, every thresher metric it names exists', async () => {
  const dash = await loadDashboard();
  assert.equal(dash.uid, 'thresher');
  const known = new Set((await allMetricFamilies()).flatMap(seriesNames));
  const panels = dash.panels.filter((p) => p.type !== 'row');
  assert.ok(panels.length >= 20, `${panels.length} panels`);
  const titles = panels.map((p) => p.title);
  for (const want of ['Throughput (tokens/s)', 'ETA', 'Failed shards', 'Batch latency', 'Part write latency', 'Inference time', 'Loss', 'FVU', 'L0', 'Dead features']) {
    assert.ok(titles.includes(want), `a panel "${want}"`);
  }
  for (const p of panels) {
    assert.ok(p.targets?.length, `panel "${p.title}" has queries`);
    for (const { expr } of p.targets!) {
      assert.ok(expr.trim(), `panel "${p.title}" has an expression`);
      for (const name of metricNamesIn(expr).filter((n) => n.startsWith('thresher_'))) assert.ok(known.has(name), `panel "${p.title}": ${name} is not a metric the code defines`);
      for (const job of expr.matchAll(/job=~?"([^"]+)"/g)) for (const j of job[1].split('|')) assert.ok((Object.values(SCRAPE_JOBS) as string[]).includes(j), `panel "${p.title}": job ${j}`);
    }
  }
  const runVar = dash.templating.list.find((v) => v.name === 'run');
  assert.ok(runVar?.definition && metricNamesIn(runVar.definition.replace(/^label_values\((\w+),.*$/, '$1')).every((n) => known.has(n)));
});

test('alerts: the required ones exist and name only metrics the code defines', async () => {
  const known = new Set((await allMetricFamilies()).flatMap(seriesNames));
  const exprs = await alertExprs();
  const names = exprs.map((e) => e.alert);
  for (const want of ['ThresherRunStalled', 'ThresherShardFailureRatioHigh', 'ThresherWorkerDown', 'ThresherDeadFeaturesHigh']) assert.ok(names.includes(want), want);
  for (const { alert, expr } of exprs) {
    const metrics = metricNamesIn(expr);
    assert.ok(metrics.length > 0, `${alert}: found its metrics in ${expr}`);
    for (const m of metrics) assert.ok(known.has(m) || m === 'up', `${alert}: ${m} is not a metric the code defines`);
  }
});

test('grafana provisioning: the datasource uid is the dashboard default, the provider loads the dashboards folder', async () => {
  const ds = await readFile(path.join(GRAFANA_DIR, 'provisioning/datasources/thresher.yml'), 'utf8');
  const provider = await readFile(path.join(GRAFANA_DIR, 'provisioning/dashboards/thresher.yml'), 'utf8');
  const dash = JSON.parse(await readFile(DASHBOARD_FILE, 'utf8'));
  assert.match(ds, /^apiVersion: 1$/m);
  assert.match(ds, /uid: thresher-prometheus$/m);
  assert.match(ds, /type: prometheus$/m);
  const dsVar = dash.templating.list.find((v: { name: string }) => v.name === 'datasource');
  assert.equal(dsVar.current.value, 'thresher-prometheus');
  assert.match(provider, /^apiVersion: 1$/m);
  assert.match(provider, /type: file$/m);
  assert.match(provider, /path: \S+\/dashboards\/thresher$/m);
});
